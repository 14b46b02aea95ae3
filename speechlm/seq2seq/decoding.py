"""Decoding a :class:`~speechlm.seq2seq.model.Seq2Seq` (notebook 16): batched greedy decoding, beam
search with a shrinking beam and length normalisation, and :func:`translate` to text; see
:mod:`speechlm.seq2seq`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from speechlm.batching import pad_sequences
from speechlm.seq2seq.model import Seq2Seq, _source_mask
from speechlm.text import CharTokenizer

__all__ = ["Hypothesis", "beam_search", "beam_search_one", "greedy_decode", "translate"]


class Hypothesis(NamedTuple):
    """A decoded output: ``tokens`` (without ``<bos>``/``<eos>``), ``log_prob`` (nats, the sum over every
    generated token, ``<eos>`` included), ``score`` (``log_prob / length ** length_penalty``), and whether
    it ``finished`` with ``<eos>`` (else it stopped at ``max_len``)."""

    tokens: list[int]
    log_prob: float
    score: float
    finished: bool


def _check_decoding(src: torch.Tensor, src_lengths: torch.Tensor, max_len: int) -> None:
    if src.ndim < 2:
        raise ValueError(
            f"src must be batched, (batch, source) or (batch, source, in_dim), got {tuple(src.shape)}"
        )
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    _source_mask(src_lengths, src.shape[1], src.shape[0])


@torch.no_grad()
def greedy_decode(
    model: Seq2Seq, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int = 50
) -> list[Hypothesis]:
    """Arg-max decoding of a batch: at each step append the most probable token, until ``<eos>`` or
    ``max_len`` generated tokens (``<eos>`` included). One :class:`Hypothesis` per source."""
    _check_decoding(src, src_lengths, max_len)
    model.eval()
    memory, padding = model.encode(src, src_lengths)
    batch = memory.shape[0]
    tokens = torch.full((batch, 1), model.bos_id, dtype=torch.long)
    log_prob = torch.zeros(batch, dtype=torch.float64)
    done = torch.zeros(batch, dtype=torch.bool)
    for _ in range(max_len):
        logits, _ = model.decoder(tokens, memory, padding)
        step = logits[:, -1].log_softmax(-1)
        best = step.argmax(-1)
        log_prob += torch.where(done, 0.0, step.gather(1, best[:, None])[:, 0].double())
        tokens = torch.cat([tokens, torch.where(done, model.pad_id, best)[:, None]], dim=1)
        done |= best == model.eos_id
        if done.all():
            break
    out = []
    for row, lp in zip(tokens[:, 1:].tolist(), log_prob.tolist(), strict=True):
        finished = model.eos_id in row
        row = row[: row.index(model.eos_id)] if finished else row
        out.append(Hypothesis(row, lp, lp, finished))
    return out


@torch.no_grad()
def beam_search(
    model: Seq2Seq,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    beam_size: int = 4,
    max_len: int = 50,
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """Beam search, one source at a time (Jurafsky and Martin, SLP3 ch. 13): keep the ``beam_size`` most
    probable prefixes; a prefix that emits ``<eos>`` is set aside and the beam narrows by one; stop when the
    beam is empty or ``max_len`` tokens are generated. Returns, per source, the set-aside (or unfinished)
    hypothesis with the highest ``log_prob / length ** length_penalty`` (0: no length normalisation).
    ``beam_size=1`` is :func:`greedy_decode`."""
    _check_decoding(src, src_lengths, max_len)
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be non-negative, got {length_penalty}")
    model.eval()
    memory, padding = model.encode(src, src_lengths)
    return [
        beam_search_one(model, memory[i : i + 1], padding[i : i + 1], beam_size, max_len, length_penalty)
        for i in range(memory.shape[0])
    ]


def beam_search_one(
    model: Seq2Seq, memory: torch.Tensor, padding: torch.Tensor, beam_size: int, max_len: int, alpha: float
) -> Hypothesis:
    """Beam search for one source, given its encoder output ``memory (1, source, d_model)`` and ``padding
    (1, source)`` (True at padded frames; from :meth:`Seq2Seq.encode`): the loop inside :func:`beam_search`,
    which checks the arguments first. ``alpha`` is the ``length_penalty``. Returns the best
    :class:`Hypothesis`."""
    prefixes = torch.full((1, 1), model.bos_id, dtype=torch.long)
    scores = torch.zeros(1, dtype=torch.float64)
    finished: list[Hypothesis] = []
    for t in range(1, max_len + 1):  # t: tokens generated after this step, <eos> included
        n = prefixes.shape[0]
        logits, _ = model.decoder(prefixes, memory.expand(n, -1, -1), padding.expand(n, -1))
        candidates = (scores[:, None] + logits[:, -1].log_softmax(-1).double()).flatten()
        top = candidates.topk(min(beam_size - len(finished), candidates.numel()))
        rows, words = top.indices // logits.shape[-1], top.indices % logits.shape[-1]
        keep = words != model.eos_id
        for row, value in zip(rows[~keep].tolist(), top.values[~keep].tolist(), strict=True):
            finished.append(Hypothesis(prefixes[row, 1:].tolist(), value, value / t**alpha, True))
        if not keep.any():
            break
        prefixes = torch.cat([prefixes[rows[keep]], words[keep][:, None]], dim=1)
        scores = top.values[keep]
    else:
        for row, value in zip(prefixes[:, 1:].tolist(), scores.tolist(), strict=True):
            finished.append(Hypothesis(row, value, value / max_len**alpha, False))
    return max(finished, key=lambda h: h.score)


def translate(
    model: Seq2Seq,
    sources: Sequence[torch.Tensor],
    tokenizer: CharTokenizer,
    beam_size: int = 1,
    max_len: int = 50,
    length_penalty: float = 0.0,
    batch_size: int = 64,
) -> list[str]:
    """Decode each source (``(source,)`` ids or ``(source, in_dim)`` frames) to text: greedy when
    ``beam_size == 1`` (batched), else :func:`beam_search`; ``tokenizer`` turns the ids back into text."""
    if not sources:
        raise ValueError("translate needs at least one source")
    texts: list[str] = []
    for start in range(0, len(sources), batch_size):
        src, src_lengths = pad_sequences(sources[start : start + batch_size])
        if beam_size == 1:
            hyps = greedy_decode(model, src, src_lengths, max_len)
        else:
            hyps = beam_search(model, src, src_lengths, beam_size, max_len, length_penalty)
        texts.extend(tokenizer.decode(h.tokens) for h in hyps)
    return texts
