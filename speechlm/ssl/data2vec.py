"""data2vec-style pretraining: regress a moving teacher's layers (Baevski et al. 2022; notebook 11).

HuBERT predicts discrete units and wav2vec 2.0 picks its quantised frame among distractors; data2vec
has no discrete targets at all. A *teacher*, an exponential moving average (EMA) of the student's
own weights, reads the **unmasked** input; the targets are the average of its top :math:`K` block
outputs, each instance-normalised over the utterance's frames,

.. math::
    y_t = \\frac{1}{K} \\sum_{l = L - K + 1}^{L} \\operatorname{IN}(a^{(l)})_t,

and the student, reading the **masked** input, regresses :math:`y_t` at the masked frames with a
linear head and a Smooth L1 loss (mean over the masked frames of the loss summed over channels,
divided by the square root of the width as in the paper's code). After each update the teacher moves
towards the student,

.. math::
    \\theta_{\\mathrm{T}} \\leftarrow \\tau\\, \\theta_{\\mathrm{T}} + (1 - \\tau)\\, \\theta_{\\mathrm{S}}
    \\quad (\\mathrm{T}: \\text{teacher}, \\mathrm{S}: \\text{student}),

with :math:`\\tau` ramped linearly from ``ema_start`` to ``ema_end`` over ``ema_ramp_steps`` updates.
The paper ramps 0.999 to 0.9999 over 30,000 of 400,000 updates; a teacher with :math:`\\tau = 0.999`
hardly moves in the few hundred updates of a CPU run, so the defaults here are 0.99 to 0.999.

Why the pair does not collapse to a constant (every frame mapped to one vector, which the student
would predict with zero loss): the loss never trains the teacher (no gradient reaches it, only the
EMA), so the student cannot pull the targets towards its predictions within a step; the teacher
lags the student, so targets change slowly; and the targets are instance-normalised, so any channel
that varies at all over an utterance is rescaled to unit variance: the student must predict how the
teacher's layers vary from frame to frame, not their level. It *can* still collapse when the EMA is
too fast (``ema_start`` near 0 makes the teacher a copy of the student, which can then make its
layers constant and easy to predict) or when the targets are not normalised (the paper found both);
the ``target_std`` metric of :meth:`Data2Vec.forward` watches for it.

Simplification: the targets are the blocks' outputs (the residual stream of our pre-LN blocks),
where data2vec takes the feed-forward output before the last residual connection of its post-LN
blocks; instance normalisation makes either scale-free.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from speechlm.batching import lengths_to_mask
from speechlm.ssl.encoder import EncoderConfig, SpeechEncoder
from speechlm.ssl.masking import DEFAULT_SPAN_LENGTH, DEFAULT_START_PROB, mask_spans

__all__ = ["Data2Vec", "ema_decay", "instance_norm"]


def ema_decay(step: int, start: float, end: float, ramp_steps: int) -> float:
    """The EMA decay :math:`\\tau` at update ``step``: linear from ``start`` to ``end`` over
    ``ramp_steps`` updates, then ``end``."""
    if ramp_steps <= 0 or step >= ramp_steps:
        return end
    return start + (end - start) * step / ramp_steps


def instance_norm(x: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each utterance's ``x (batch, frames, dim)`` standardised per channel over its ``lengths`` real
    frames (mean 0, variance 1; padding frames are left out of the statistics and set to 0)."""
    keep = lengths_to_mask(lengths, x.shape[1]).unsqueeze(-1).to(x.dtype)
    n = keep.sum(1, keepdim=True).clamp(min=1)
    mean = (x * keep).sum(1, keepdim=True) / n
    var = (((x - mean) * keep) ** 2).sum(1, keepdim=True) / n
    return (x - mean) / torch.sqrt(var + eps) * keep


class Data2Vec(nn.Module):
    """A student :class:`SpeechEncoder`, its EMA teacher and a regression head.

    ``forward(mels, mel_lengths)`` returns ``(loss, metrics)``: ``metrics`` has ``target_std`` (the
    targets' standard deviation across the masked frames, averaged over channels: about 1 when
    healthy, near 0 when the targets collapse), ``cosine`` (mean cosine similarity of prediction
    and target) and ``tau`` (the EMA decay used at this update). In training mode every call first
    moves the teacher towards the student (:meth:`update_teacher`), so the teacher that makes a
    batch's targets is the EMA of the student after the previous update (as fairseq's data2vec does).
    The teacher's parameters never require gradients.
    """

    def __init__(
        self,
        config: EncoderConfig | None = None,
        *,
        top_k: int = 2,
        ema_start: float = 0.99,
        ema_end: float = 0.999,
        ema_ramp_steps: int = 250,
        loss_beta: float = 0.25,
        start_prob: float = DEFAULT_START_PROB,
        span_length: int = DEFAULT_SPAN_LENGTH,
    ):
        super().__init__()
        self.encoder = SpeechEncoder(config)
        layers = self.encoder.config.num_layers
        if not 1 <= top_k <= layers:
            raise ValueError(f"top_k must be in [1, {layers}] (the encoder's blocks), got {top_k}")
        if not (0.0 <= ema_start <= 1.0 and 0.0 <= ema_end <= 1.0):
            raise ValueError(f"ema_start and ema_end must be in [0, 1], got {ema_start}, {ema_end}")
        self.teacher = copy.deepcopy(self.encoder)
        self.teacher.requires_grad_(False)
        d = self.encoder.config.d_model
        self.head = nn.Linear(d, d)
        self.top_k, self.loss_beta = top_k, loss_beta
        self.ema_start, self.ema_end, self.ema_ramp_steps = ema_start, ema_end, ema_ramp_steps
        self.start_prob, self.span_length = start_prob, span_length
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update_teacher(self) -> float:
        """One EMA step of every teacher parameter and buffer towards the student's; returns
        :math:`\\tau`."""
        tau = ema_decay(int(self.num_updates), self.ema_start, self.ema_end, self.ema_ramp_steps)
        for teacher, student in zip(self.teacher.parameters(), self.encoder.parameters(), strict=True):
            teacher.mul_(tau).add_(student.detach(), alpha=1.0 - tau)
        for teacher, student in zip(self.teacher.buffers(), self.encoder.buffers(), strict=True):
            teacher.copy_(student)
        self.num_updates += 1
        return tau

    @torch.no_grad()
    def targets(self, mels: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher's targets ``(batch, frames, d_model)`` for the unmasked input, and the frame
        lengths: the average of its top ``top_k`` block outputs, each instance-normalised (the
        teacher runs in eval mode: no dropout)."""
        self.teacher.eval()
        out = self.teacher(mels, mel_lengths)
        top = [instance_norm(layer, out.lengths) for layer in out.layers[-self.top_k :]]
        return torch.stack(top).mean(0), out.lengths

    def forward(self, mels: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        tau = self.update_teacher() if self.training else float("nan")
        frames, lengths = self.encoder.frontend(mels, mel_lengths)
        mask = mask_spans(
            lengths.cpu(), frames.shape[1], start_prob=self.start_prob, span_length=self.span_length
        ).to(frames.device)
        out = self.encoder.transformer(self.encoder.apply_mask(frames, mask), lengths)
        scored = mask & ~out.padding_mask
        if not bool(scored.any()):
            raise ValueError("no frame of the batch is masked: the utterances are too short")
        target, _ = self.targets(mels, mel_lengths)
        prediction, target = self.head(out.hidden[scored]), target[scored]
        per_frame = F.smooth_l1_loss(prediction, target, beta=self.loss_beta, reduction="none").sum(-1)
        loss = per_frame.mean() / prediction.shape[-1] ** 0.5
        with torch.no_grad():
            metrics = {
                "target_std": target.std(0).mean().item() if target.shape[0] > 1 else float("nan"),
                "cosine": F.cosine_similarity(prediction, target, dim=-1).mean().item(),
                "tau": tau,
            }
        return loss, metrics
