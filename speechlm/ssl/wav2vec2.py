"""wav2vec 2.0-style contrastive pretraining (Baevski et al. 2020; notebook 11).

The unmasked front-end frames are discretised by a *product quantiser*:
``groups`` codebooks of ``entries`` vectors each; a linear layer scores the
entries, a straight-through Gumbel softmax picks one per group (hard forward,
soft gradient), and the picked vectors are concatenated. The masked frames
go through the Transformer, and the output :math:`c_t` at each masked frame
must pick its own quantised frame :math:`q_t` out of :math:`K` distractors
drawn from the other masked frames of the same utterance (InfoNCE):

.. math::
    \\mathcal{L}_m = -\\log \\frac{\\exp(\\cos(c_t, q_t)/\\kappa)}
        {\\sum_{\\tilde q \\in \\{q_t\\} \\cup Q_t} \\exp(\\cos(c_t, \\tilde q)/\\kappa)}, \\qquad
    \\mathcal{L}_d = \\frac{GV - \\sum_g \\exp(H(\\bar p_g))}{GV},

where :math:`\\bar p_g` is the softmax over group :math:`g`'s entries averaged
over the batch. The diversity loss :math:`\\mathcal{L}_d` pushes the model to
use all entries; :math:`\\sum_g \\exp H(\\bar p_g)` is the codebook perplexity
(between 1 per group and :math:`GV`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from speechlm.ssl.encoder import EncoderConfig, SpeechEncoder
from speechlm.ssl.masking import DEFAULT_SPAN_LENGTH, DEFAULT_START_PROB, mask_spans

__all__ = ["GumbelQuantizer", "Wav2Vec2", "sample_distractors"]


class GumbelQuantizer(nn.Module):
    """Product quantiser: ``(n, input_dim)`` frames to ``(n, dim)`` codewords with a Gumbel softmax.

    ``forward`` returns ``(quantized (n, dim), perplexity, codes (n, groups))``;
    ``perplexity`` (differentiable) is computed from the soft assignment
    probabilities averaged over the ``n`` frames. ``tau`` is the Gumbel
    temperature (annealed by the caller); in eval mode the argmax is taken.
    """

    def __init__(self, input_dim: int, dim: int, groups: int = 2, entries: int = 64, tau: float = 2.0):
        super().__init__()
        if dim % groups:
            raise ValueError(f"dim={dim} must be divisible by groups={groups}")
        self.groups, self.entries, self.tau = groups, entries, tau
        self.scores = nn.Linear(input_dim, groups * entries)
        self.codebook = nn.Parameter(torch.rand(groups, entries, dim // groups))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        logits = self.scores(x).view(n, self.groups, self.entries)
        probs = logits.float().softmax(dim=-1)
        mean_probs = probs.mean(dim=0)  # (groups, entries)
        perplexity = torch.exp(-(mean_probs * torch.log(mean_probs + 1e-7)).sum(dim=-1)).sum()
        if self.training:
            one_hot = F.gumbel_softmax(logits.float(), tau=self.tau, hard=True).to(x.dtype)
        else:
            one_hot = F.one_hot(logits.argmax(dim=-1), self.entries).to(x.dtype)
        quantized = torch.einsum("nge,ged->ngd", one_hot, self.codebook).reshape(n, -1)
        return quantized, perplexity, one_hot.argmax(dim=-1)


def sample_distractors(
    n_masked: int, n_distractors: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """For each of ``n_masked`` frames, ``n_distractors`` indices of *other* masked frames of the
    same utterance, drawn uniformly with replacement: ``(n_masked, n_distractors)`` int64.
    Needs at least two masked frames."""
    if n_masked < 2:
        raise ValueError(f"distractors need at least 2 masked frames in an utterance, got {n_masked}")
    draws = torch.randint(0, n_masked - 1, (n_masked, n_distractors), generator=generator)
    own = torch.arange(n_masked)[:, None]
    return draws + (draws >= own).long()  # skip the frame itself


class Wav2Vec2(nn.Module):
    """A :class:`SpeechEncoder` with wav2vec 2.0's quantiser and contrastive loss.

    ``forward(mels, mel_lengths)`` returns ``(loss, metrics)`` with
    ``loss = contrastive + diversity_weight * diversity``; ``metrics`` has
    ``accuracy`` (share of masked frames whose own quantised frame scores
    highest), ``perplexity`` (codebook perplexity of the batch) and ``tau``.
    The Gumbel temperature decays from ``tau_start`` by ``tau_decay`` per
    training step down to ``tau_end``.
    """

    def __init__(
        self,
        config: EncoderConfig | None = None,
        *,
        dim: int = 64,
        groups: int = 2,
        entries: int = 64,
        n_distractors: int = 10,
        temperature: float = 0.1,
        diversity_weight: float = 0.1,
        tau_start: float = 2.0,
        tau_end: float = 0.5,
        tau_decay: float = 0.999,
        start_prob: float = DEFAULT_START_PROB,
        span_length: int = DEFAULT_SPAN_LENGTH,
    ):
        super().__init__()
        self.encoder = SpeechEncoder(config)
        d = self.encoder.config.d_model
        self.quantizer = GumbelQuantizer(d, dim, groups, entries, tau_start)
        self.project_q = nn.Linear(dim, dim)
        self.project_c = nn.Linear(d, dim)
        self.n_distractors, self.temperature, self.diversity_weight = (
            n_distractors,
            temperature,
            diversity_weight,
        )
        self.tau_start, self.tau_end, self.tau_decay = tau_start, tau_end, tau_decay
        self.start_prob, self.span_length = start_prob, span_length
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def forward(self, mels: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        if self.training:
            self.quantizer.tau = max(self.tau_end, self.tau_start * self.tau_decay ** int(self.num_updates))
            self.num_updates += 1
        frames, lengths = self.encoder.frontend(mels, mel_lengths)
        mask = mask_spans(
            lengths.cpu(), frames.shape[1], start_prob=self.start_prob, span_length=self.span_length
        )
        mask = mask.to(frames.device)
        keep = mask.sum(dim=1) >= 2  # an utterance needs two masked frames to have a distractor
        if not bool(keep.any()):
            raise ValueError("no utterance in the batch has two masked frames: the utterances are too short")
        out = self.encoder.transformer(self.encoder.apply_mask(frames, mask), lengths)
        selected = mask & keep[:, None]
        quantized, perplexity, _ = self.quantizer(frames[selected])
        q = self.project_q(quantized)
        c = self.project_c(out.hidden[selected])
        # indices of the masked frames, utterance by utterance, to draw distractors within each
        counts = selected.sum(dim=1)
        offsets = torch.cumsum(counts, 0) - counts
        distractors = torch.cat([
            sample_distractors(int(n), self.n_distractors) + int(o)
            for n, o in zip(counts.tolist(), offsets.tolist(), strict=True) if n >= 2
        ]).to(q.device)  # fmt: skip
        candidates = torch.cat([q[:, None, :], q[distractors]], dim=1)  # (n, 1 + K, dim)
        logits = F.cosine_similarity(c[:, None, :], candidates, dim=-1) / self.temperature
        # a distractor identical to the positive (same codeword) is no evidence: exclude it
        same = (q[distractors] == q[:, None, :]).all(dim=-1)
        logits[:, 1:] = logits[:, 1:].masked_fill(same, float("-inf"))
        targets = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        contrastive = F.cross_entropy(logits, targets)
        n_codes = self.quantizer.groups * self.quantizer.entries
        diversity = (n_codes - perplexity) / n_codes
        loss = contrastive + self.diversity_weight * diversity
        metrics = {
            "accuracy": (logits.argmax(dim=-1) == 0).float().mean().item(),
            "perplexity": perplexity.item(),
            "tau": self.quantizer.tau,
        }
        return loss, metrics
