"""Unit language-model data on top of :mod:`speechlm.gpt` (notebook 13).

A unit sequence becomes ``[eos, u_1, ..., u_n, eos]`` over a vocabulary of
``n_units + 1`` ids (``eos = n_units``), exactly the convention of notebook
09's text sequences, so :func:`speechlm.gpt.perplexity` and
:class:`speechlm.ngram.NGramLM` score it the same way.
:func:`span_perplexity` scores only part of each sequence: the units of a
joint speech-text sequence, given its transcript.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from speechlm.gpt import GPT
from speechlm.slm.joint import JointVocabulary

__all__ = ["extend_vocabulary", "lm_sequences", "span_perplexity", "token_stream", "unit_lm_ids"]


def lm_sequences(unit_sequences: Sequence[np.ndarray], n_units: int) -> list[list[int]]:
    """``[eos, *units, eos]`` for each de-duplicated unit sequence, with ``eos = n_units``."""
    result = []
    for u in unit_sequences:
        u = np.asarray(u)
        if u.ndim != 1 or u.size == 0:
            raise ValueError(f"each unit sequence must be 1-D and non-empty, got shape {u.shape}")
        if u.min() < 0 or u.max() >= n_units:
            raise ValueError(f"unit ids must lie in 0..{n_units - 1}, got {u.min()}..{u.max()}")
        result.append([n_units, *(int(x) for x in u), n_units])
    return result


def token_stream(sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """One 1-D stream for :func:`speechlm.gpt.train_lm`: sequences that each start and end with the
    same end-of-sequence id share it, ``[eos, a..., eos, b..., eos]``."""
    if not sequences:
        raise ValueError("expected at least one sequence")
    eos = sequences[0][0]
    for s in sequences:
        if len(s) < 2 or s[0] != eos or s[-1] != eos:
            raise ValueError(f"every sequence must start and end with the end-of-sequence id {eos}")
    return torch.tensor([eos] + [t for s in sequences for t in s[1:]], dtype=torch.long)


@torch.no_grad()
def span_perplexity(model: GPT, sequences: Sequence[Sequence[int]], starts: Sequence[int]) -> float:
    """Perplexity of the tokens ``sequence[start:]`` of each sequence, each predicted from all the
    tokens before it; ``start >= 1``. ``starts = [1, ...]`` gives :func:`speechlm.gpt.perplexity`."""
    if len(sequences) != len(starts) or not sequences:
        raise ValueError("expected one start per sequence, and at least one sequence")
    total, count = 0.0, 0
    model.eval()
    for seq, start in zip(sequences, starts, strict=True):
        if not 1 <= start < len(seq):
            raise ValueError(
                f"start must be in [1, {len(seq) - 1}] for a sequence of {len(seq)}, got {start}"
            )
        ids = torch.tensor(seq, dtype=torch.long)[None]
        logits = model(ids)[0, start - 1 : -1]
        total += float(F.cross_entropy(logits, ids[0, start:], reduction="sum"))
        count += len(seq) - start
    return math.exp(total / count)


def extend_vocabulary(unit_lm: GPT, vocab: JointVocabulary, max_len: int | None = None) -> GPT:
    """A GPT over ``vocab`` that starts from ``unit_lm`` (a unit GPT with ``vocab.n_units + 1`` ids,
    the last one ``eos``): blocks, positions and the unit and ``<eos>`` embeddings are copied, the
    text and modality embeddings are new (SPIRIT-LM-style vocabulary extension, here from speech
    to text). ``max_len`` may shorten the context; on a units-only sequence the new model's logits
    at the unit and ``<eos>`` ids equal the unit GPT's."""
    cfg = unit_lm.cfg
    if cfg.vocab_size != vocab.n_units + 1:
        raise ValueError(f"the unit GPT has {cfg.vocab_size} ids, expected n_units + 1 = {vocab.n_units + 1}")
    max_len = cfg.max_len if max_len is None else max_len
    if not 1 <= max_len <= cfg.max_len:
        raise ValueError(f"max_len must be in [1, {cfg.max_len}], got {max_len}")
    model = GPT(dataclasses.replace(cfg, vocab_size=len(vocab), max_len=max_len))
    state = {k: v for k, v in unit_lm.state_dict().items() if k not in ("wte.weight", "wpe.weight")}
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        model.wpe.weight.copy_(unit_lm.wpe.weight[:max_len])
        old = unit_lm.wte.weight
        model.wte.weight[vocab.unit_offset : vocab.unit_offset + vocab.n_units] = old[: vocab.n_units]
        model.wte.weight[vocab.eos] = old[vocab.n_units]
    return model.train(unit_lm.training)


def unit_lm_ids(vocab: JointVocabulary, sequence: Sequence[int]) -> list[int]:
    """Map a joint sequence's unit and ``<eos>`` ids back to a unit GPT's ids (units ``0..n_units -
    1``, ``eos = n_units``); any other token is an error."""
    result = []
    for i in sequence:
        if i == vocab.eos:
            result.append(vocab.n_units)
        elif vocab.unit_offset <= i < vocab.unit_offset + vocab.n_units:
            result.append(i - vocab.unit_offset)
        else:
            raise ValueError(f"token {vocab.tokens[i]!r} has no id in the unit GPT")
    return result
