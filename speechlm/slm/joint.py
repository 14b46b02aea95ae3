"""A shared vocabulary of text tokens and speech units, for one joint language model (notebook 13).

Joint speech-text models (SpeechGPT, SPIRIT-LM, AudioPaLM) extend a text
vocabulary with unit tokens and mark which modality follows with special
tokens. Ids here are, in order: the specials ``<eos>``, ``<text>`` and
``<speech>``, then the text tokens (words or characters), then one token per
unit (``<u0>``, ``<u1>``, ...). A sequence reads, for example::

    <eos> <text> turn on the light <speech> <u12> <u7> ... <eos>

so that a GPT over it can continue text with speech (text to units, the
"TTS" direction), speech with text (units to text, "ASR"), or either alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SPECIALS", "JointVocabulary"]

SPECIALS = ("<eos>", "<text>", "<speech>")


class JointVocabulary:
    """``text_tokens`` (unique strings) and ``n_units`` unit tokens behind the three :data:`SPECIALS`."""

    def __init__(self, text_tokens: Sequence[str], n_units: int):
        tokens = list(text_tokens)
        if len(set(tokens)) != len(tokens):
            raise ValueError("text tokens must be unique")
        if set(tokens) & set(SPECIALS):
            raise ValueError(f"text tokens may not be special tokens {SPECIALS}")
        if n_units < 1:
            raise ValueError(f"n_units must be positive, got {n_units}")
        self.tokens = [*SPECIALS, *tokens, *(f"<u{i}>" for i in range(n_units))]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.eos, self.text, self.speech = (self.index[s] for s in SPECIALS)
        self.unit_offset = len(SPECIALS) + len(tokens)
        self.n_units = n_units

    def __len__(self) -> int:
        return len(self.tokens)

    def text_ids(self, tokens: Sequence[str]) -> list[int]:
        """Ids of text tokens; an unknown token is an error naming it."""
        unknown = [t for t in tokens if not len(SPECIALS) <= self.index.get(t, -1) < self.unit_offset]
        if unknown:
            raise KeyError(f"text tokens not in the vocabulary: {unknown!r}")
        return [self.index[t] for t in tokens]

    def unit_ids(self, units) -> list[int]:
        """Ids of unit tokens for units ``(n,)`` in ``0..n_units - 1``."""
        u = np.asarray(units, dtype=np.int64)
        if u.ndim != 1 or (u.size and (u.min() < 0 or u.max() >= self.n_units)):
            raise ValueError(f"units must be 1-D ids in 0..{self.n_units - 1}")
        return [self.unit_offset + int(x) for x in u]

    def sequence(
        self, text: Sequence[str] | None = None, units=None, *, speech_first: bool = False
    ) -> list[int]:
        """``[<eos>, <text>, text..., <speech>, units..., <eos>]`` (or speech first); either part may
        be left out (``None``), not both."""
        if text is None and units is None:
            raise ValueError("give text, units or both")
        parts = []
        if text is not None:
            parts.append([self.text, *self.text_ids(text)])
        if units is not None:
            parts.append([self.speech, *self.unit_ids(units)])
        if speech_first:
            parts.reverse()
        return [self.eos, *(i for p in parts for i in p), self.eos]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Token strings of ``ids``."""
        return [self.tokens[int(i)] for i in ids]

    def is_unit(self, ids) -> np.ndarray:
        """Boolean mask ``(n,)``: which ids are unit tokens."""
        return np.asarray(ids) >= self.unit_offset
