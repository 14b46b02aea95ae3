"""The speech-translation task around the model (notebook 16): speech encoder frames as sources
(:func:`speech_features`), Chinese characters as targets (:func:`chinese_tokenizer`), and chrF and
BLEU scores (:func:`translation_scores`, :func:`sentence_chrf`); see :mod:`speechlm.seq2seq`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from speechlm.audio import SAMPLE_RATE
from speechlm.features import log_mel_features
from speechlm.ssl.encoder import encode_utterances
from speechlm.text import CharTokenizer

__all__ = ["chinese_tokenizer", "sentence_chrf", "speech_features", "translation_scores"]


def chinese_tokenizer(texts: Sequence[str]) -> CharTokenizer:
    """A character tokenizer over the Chinese ``texts`` (each character one token, no lower-casing), with
    :class:`~speechlm.text.CharTokenizer`'s ids: 0 pad, 1 ``<unk>``, 2 ``<eos>`` (also the ``<bos>``)."""
    texts = list(texts)
    bad = [t for t in texts if not isinstance(t, str) or not t.strip()]
    if not texts or bad:
        raise ValueError(f"expected a non-empty list of non-empty Chinese strings, got {bad[:3] or texts!r}")
    return CharTokenizer.from_texts([t.replace(" ", "") for t in texts], lowercase=False)


def speech_features(
    encoder: nn.Module,
    audios: Sequence[np.ndarray],
    sample_rate: int = SAMPLE_RATE,
    layer: int | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> list[torch.Tensor]:
    """Frames of a (frozen) :class:`~speechlm.ssl.SpeechEncoder` for each audio: ``(frames, d_model)`` at
    50 frames/s, the final output (``layer=None``) or ``EncoderOutput.layers[layer]`` (0 is the
    Transformer's input). The memory of end-to-end speech translation in notebook 16
    (:func:`~speechlm.ssl.encoder.encode_utterances` on the audios' log-mels)."""
    if not audios:
        raise ValueError("speech_features needs at least one audio")
    if layer is not None and not 0 <= layer <= len(encoder.layers):
        raise ValueError(f"layer must be in 0..{len(encoder.layers)} or None, got {layer}")
    mels = [log_mel_features(a, sample_rate) for a in audios]
    return encode_utterances(encoder, mels, layer="final" if layer is None else layer, batch_size=batch_size,
                             progress=progress, desc="speech features")  # fmt: skip


def _pairs(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[list[str], list[str]]:
    refs, hyps = list(references), list(hypotheses)
    if len(refs) != len(hyps) or not refs:
        raise ValueError(
            f"need as many hypotheses as references (at least one), got {len(hyps)} and {len(refs)}"
        )
    return refs, hyps


def sentence_chrf(references: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
    """chrF (0-100) of each hypothesis against its reference (``sacrebleu.sentence_chrf``), for error
    analysis; the corpus-level score of :func:`translation_scores` is not their mean."""
    import sacrebleu

    refs, hyps = _pairs(references, hypotheses)
    return np.array([sacrebleu.sentence_chrf(h, [r]).score for r, h in zip(refs, hyps, strict=True)])


def translation_scores(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """Corpus-level ``{"chrf", "bleu"}`` (0-100) from ``sacrebleu``: chrF (character 6-grams, Popovic 2015)
    and BLEU with ``tokenize="zh"`` (each Chinese character a word)."""
    import sacrebleu

    refs, hyps = list(references), list(hypotheses)
    if len(refs) != len(hyps) or not refs:
        raise ValueError(
            f"need as many hypotheses as references (at least one), got {len(hyps)} and {len(refs)}"
        )
    return {
        "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score,
        "bleu": sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score,
    }
