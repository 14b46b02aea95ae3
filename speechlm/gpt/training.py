"""Next-token loss, a short training loop on windows of a token stream, and perplexity (notebook 09)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from speechlm.gpt.model import GPT
from speechlm.train import fit_adamw


def lm_loss(logits: torch.Tensor, ids: torch.Tensor, pad_id: int | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy (nats): logits ``(batch, time, vocab)`` at
    position ``i`` are scored against ``ids[:, i + 1]``; targets equal to
    ``pad_id`` are ignored."""
    targets = ids[:, 1:]
    if pad_id is not None:
        targets = targets.masked_fill(targets == pad_id, -100)
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
    )


def train_lm(
    model: GPT,
    stream: torch.Tensor,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train on random windows of ``context`` tokens of ``stream`` (1-D, texts
    joined by an end-of-text token) with :func:`speechlm.train.fit`: AdamW,
    warm-up over a tenth of the steps then linear decay, gradients clipped at 1.
    Returns the loss of every step; leaves the model in eval mode."""
    n = model.cfg.max_len
    if stream.dim() != 1 or len(stream) <= n:
        raise ValueError(
            f"expected a 1-D token stream longer than the context ({n}), got {tuple(stream.shape)}"
        )
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.arange(n)

    def windows():
        while True:
            yield stream[torch.randint(len(stream) - n + 1, (batch_size, 1), generator=gen) + offsets]

    def step_fn(model: GPT, batch: torch.Tensor) -> torch.Tensor:
        return lm_loss(model(batch), batch)

    return fit_adamw(
        model, windows(), steps=steps, lr=lr, step_fn=step_fn, progress=progress, desc="training the GPT"
    )


@torch.no_grad()
def perplexity(model: GPT, sequences: Sequence[Sequence[int]], batch_size: int = 256) -> float:
    """``exp`` of the mean negative log-likelihood of every token but the first
    of each sequence (the first is the start token it is conditioned on)."""
    seqs = [list(s) for s in sequences]
    if not seqs or min(len(s) for s in seqs) < 2:
        raise ValueError("perplexity needs sequences of at least two tokens (a start token and one more)")
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(seqs), batch_size):
        chunk = seqs[i : i + batch_size]
        longest = max(len(s) for s in chunk)
        ids = torch.zeros(len(chunk), longest, dtype=torch.long)
        targets = torch.full((len(chunk), longest - 1), -100, dtype=torch.long)
        for j, s in enumerate(chunk):
            ids[j, : len(s)] = torch.tensor(s)
            targets[j, : len(s) - 1] = torch.tensor(s[1:])
        logits = model(ids)[:, :-1]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")
        total += float(nll)
        count += int((targets != -100).sum())
    return math.exp(total / count)
