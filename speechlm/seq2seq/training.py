"""Teacher-forced training of a :class:`~speechlm.seq2seq.model.Seq2Seq` (notebook 16): the decoder
reads the reference prefix ``<bos> y_1 .. y_T`` and predicts ``y_1 .. y_T <eos>``; see
:mod:`speechlm.seq2seq`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from speechlm.batching import pad_sequences, shuffled_batches
from speechlm.seq2seq.model import Seq2Seq
from speechlm.train import fit_adamw

__all__ = ["seq2seq_loss", "teacher_forcing_batch", "train_seq2seq"]


def teacher_forcing_batch(
    targets: Sequence[Sequence[int]], bos_id: int = 2, eos_id: int = 2, pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder input ``<bos> y_1 .. y_T`` and output ``y_1 .. y_T <eos>``, both ``(batch, max T + 1)``
    int64, right-padded with ``pad_id``."""
    if not targets:
        raise ValueError("teacher_forcing_batch needs at least one target sequence")
    tgt_in, _ = pad_sequences([torch.tensor([bos_id, *t], dtype=torch.long) for t in targets], pad_id)
    tgt_out, _ = pad_sequences([torch.tensor([*t, eos_id], dtype=torch.long) for t in targets], pad_id)
    return tgt_in, tgt_out


def seq2seq_loss(
    logits: torch.Tensor, tgt_out: torch.Tensor, pad_id: int = 0, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Mean cross-entropy (nats per target token) of ``logits (batch, target, vocab)`` against
    ``tgt_out (batch, target)``, ignoring ``pad_id``; ``label_smoothing`` in [0, 1) spreads that much
    probability mass uniformly over the vocabulary (Szegedy et al. 2016)."""
    if logits.shape[:2] != tgt_out.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match targets {tuple(tgt_out.shape)}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        tgt_out.reshape(-1),
        ignore_index=pad_id,
        label_smoothing=label_smoothing,
    )


def train_seq2seq(
    model: Seq2Seq,
    sources: Sequence[torch.Tensor],
    targets: Sequence[Sequence[int]],
    steps: int = 500,
    batch_size: int = 32,
    lr: float = 2e-3,
    label_smoothing: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Teacher-forced training on ``sources`` (``(source,)`` ids or ``(source, in_dim)`` frames each) and
    their target ids (without ``<bos>``/``<eos>``): AdamW, warm-up over a tenth of the steps then linear
    decay, batches drawn from shuffled epochs. Returns each step's loss; leaves the model in eval mode."""
    if len(sources) != len(targets) or not sources:
        raise ValueError(
            f"need as many sources as targets (at least one), got {len(sources)} and {len(targets)}"
        )
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got {steps} and {batch_size}")
    torch.manual_seed(seed)
    order = shuffled_batches(len(sources), batch_size, np.random.default_rng(seed))

    def batches():
        for batch in order:
            src, src_lengths = pad_sequences([sources[i] for i in batch])
            tgt_in, tgt_out = teacher_forcing_batch(
                [targets[i] for i in batch], model.bos_id, model.eos_id, model.pad_id
            )
            yield src, src_lengths, tgt_in, tgt_out

    def step_fn(model: Seq2Seq, batch) -> torch.Tensor:
        src, src_lengths, tgt_in, tgt_out = batch
        logits, _ = model(src, src_lengths, tgt_in)
        return seq2seq_loss(logits, tgt_out, model.pad_id, label_smoothing)

    return fit_adamw(
        model, batches(), steps=steps, lr=lr, step_fn=step_fn, progress=progress, desc="training seq2seq"
    )
