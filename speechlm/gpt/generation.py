"""Generation with greedy, temperature, top-k and top-p (nucleus) sampling (notebook 09)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from speechlm.gpt.model import GPT, KVCache


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row, set the rest to ``-inf``."""
    if k < 1:
        raise ValueError(f"top_k must be at least 1, got {k}")
    k = min(k, logits.shape[-1])
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the most probable tokens whose probabilities add
    up to at least ``p`` (always at least one), set the rest to ``-inf``."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    remove_sorted = mass_before >= p
    remove_sorted[..., 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


@torch.no_grad()
def generate(
    model: GPT,
    prompt: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    eos_id: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Continue ``prompt`` (``(time,)`` or ``(batch, time)`` ids) by up to ``max_new_tokens`` tokens.

    ``greedy`` takes the arg-max; otherwise logits are divided by
    ``temperature``, filtered by ``top_k`` then ``top_p``, and sampled.
    ``use_cache=False`` recomputes the whole sequence at every step (the
    result is the same, only slower). Stops early once every row has produced
    ``eos_id``. Returns ``(batch, time + new)`` ids (``(time + new,)`` for a 1-D prompt).
    """
    ids = torch.as_tensor(prompt, dtype=torch.long)
    squeeze = ids.dim() == 1
    ids = ids[None] if squeeze else ids
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise ValueError(
            f"expected a non-empty prompt of shape (time,) or (batch, time), got {tuple(ids.shape)}"
        )
    if ids.shape[1] + max_new_tokens > model.cfg.max_len:
        raise ValueError(
            f"prompt ({ids.shape[1]}) + max_new_tokens ({max_new_tokens}) tokens exceed "
            f"the context ({model.cfg.max_len})"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be positive (use greedy=True for arg-max), got {temperature}")
    model.eval()
    cache = KVCache() if use_cache else None
    done = torch.zeros(ids.shape[0], dtype=torch.bool)
    step_input = ids
    for _ in range(max_new_tokens):
        logits = model(step_input if use_cache else ids, cache)[:, -1]
        if greedy:
            nxt = logits.argmax(-1)
        else:
            logits = logits / temperature
            if top_k is not None:
                logits = top_k_filter(logits, top_k)
            if top_p is not None:
                logits = top_p_filter(logits, top_p)
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        step_input = nxt[:, None]
        if eos_id is not None:
            done |= nxt == eos_id
            if done.all():
                break
    return ids[0] if squeeze else ids
