"""HuBERT's masked prediction as a sum over frames, with masks that do not depend on the batching
(notebook 18).

:class:`speechlm.ssl.HuBERT` draws its span masks from the global random
generator for a whole padded batch and returns the *mean* loss of that batch.
Both depend on how a global batch is split over processes, so a 2-process run
would not retrace a 1-process run. Here each utterance's mask is drawn from
its own generator, seeded by ``(seed, epoch, utterance index)``, and the
module returns the *sum* of the cross-entropies and the number of scored
frames; the loop divides by the number of masked frames in the whole global
batch (summed over processes), so the gradient is the same however the batch
is split.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from speechlm.features import encoder_lengths
from speechlm.ssl import HuBERT, mask_spans

__all__ = ["MaskedPrediction", "utterance_masks"]


def utterance_masks(
    mel_lengths: torch.Tensor, indices: list[int], stream: tuple[int, ...], model: HuBERT
) -> torch.Tensor:
    """Span masks ``(batch, max_frames)`` bool for utterances ``indices`` with ``mel_lengths (batch,)``.

    Utterance ``i``'s mask depends only on ``stream + (i,)`` (e.g. ``(seed, epoch)``)
    and its length, never on the other utterances in its batch; the span
    parameters are the model's (``start_prob``, ``span_length``).
    """
    lengths = encoder_lengths(mel_lengths)
    masks = torch.zeros(len(indices), int(lengths.max()), dtype=torch.bool)
    for row, (index, n) in enumerate(zip(indices, lengths.tolist(), strict=True)):
        seed = int(np.random.SeedSequence([*stream, index]).generate_state(1)[0])
        generator = torch.Generator().manual_seed(seed)
        masks[row, :n] = mask_spans(
            torch.tensor([n]), start_prob=model.start_prob, span_length=model.span_length, generator=generator
        )[0]
    return masks


class MaskedPrediction(nn.Module):
    """Wraps a :class:`HuBERT` (``self.hubert``) so that ``forward`` returns sums, not means.

    ``forward(mels (batch, mel_frames, n_mels), mel_lengths (batch,), targets (batch, frames),
    mask (batch, frames))`` returns ``(loss_sum, n_scored, n_correct)``: HuBERT's loss
    (:meth:`HuBERT.prediction_loss`) summed over masked, non-padded frames (a scalar with
    gradient) and two int64 counts. Going through one ``forward`` lets DistributedDataParallel
    see the call.
    """

    def __init__(self, hubert: HuBERT):
        super().__init__()
        self.hubert = hubert

    def forward(self, mels, mel_lengths, targets, mask):
        hidden, mask, valid = self.hubert.encode_masked(mels, mel_lengths, targets, mask)
        scored = mask & valid
        loss_sum, logits = self.hubert.prediction_loss(hidden, targets, scored, reduction="sum")
        correct = (logits.detach().argmax(-1) == targets[scored]).sum()
        return loss_sum, scored.sum(), correct
