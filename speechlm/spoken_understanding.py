"""Spoken language understanding two ways: end-to-end and cascade (notebook 15).

* **End-to-end**: :func:`speech_features` runs a frozen speech encoder once and
  keeps every layer's hidden states, ``(frames, layers, d_model)`` per
  utterance; :class:`~speechlm.heads.PooledClassifier` mixes the layers (one chosen layer, or a
  learned softmax-weighted sum as in the SUPERB benchmark), pools over time
  (mean, or attentive pooling with learned frame weights) and classifies the
  pooled vector; :func:`train_classifier` and :func:`predict` train and apply it.
* **Cascade**: :class:`Cascade` wires a speech recogniser's ``transcribe`` to a
  text classifier (such as the fine-tuned BERT of notebook 08).
* **Error analysis**: :func:`utterance_cer` (one character error rate per
  utterance) and :func:`accuracy_by_bucket` (accuracy of the utterances whose
  CER falls in each bucket), to measure how ASR errors hurt the cascade.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from speechlm import metrics
from speechlm.audio import SAMPLE_RATE
from speechlm.batching import pad_sequences, random_batches
from speechlm.heads import PooledClassifier
from speechlm.ssl.encoder import SpeechEncoder, encode_utterances
from speechlm.train import fit_adamw

__all__ = [
    "Bucket",
    "Cascade",
    "accuracy_by_bucket",
    "predict",
    "speech_features",
    "train_classifier",
    "utterance_cer",
]


def speech_features(
    encoder: SpeechEncoder,
    mels: Sequence[torch.Tensor],
    *,
    mean_pool: bool = False,
    batch_size: int = 32,
    progress: bool = False,
) -> list[torch.Tensor]:
    """Every layer of a frozen ``encoder`` for each utterance, in eval mode.

    ``mels``: ``(mel_frames, n_mels)`` log-mel tensors
    (:func:`speechlm.features.log_mel_features`). Returns one float32 tensor per
    utterance, ``(frames, num_layers + 1, d_model)`` at 50 frames/s: the
    Transformer's input (layer 0) and each block's output, as
    :attr:`~speechlm.ssl.EncoderOutput.layers`. With ``mean_pool=True`` each
    layer is averaged over the utterance's frames first, giving ``(1,
    num_layers + 1, d_model)``: a :class:`PooledClassifier` with
    ``pooling="mean"`` gives the same logits on these as on the full frames,
    for a fraction of the memory. (:func:`~speechlm.ssl.encoder.encode_utterances`.)
    """
    if len(mels) == 0:
        raise ValueError("speech_features needs at least one utterance, got none")
    return encode_utterances(
        encoder, mels, layer="all", mean_pool=mean_pool, batch_size=batch_size, progress=progress
    )


def _check_data(features: Sequence[torch.Tensor], labels: Sequence[int] | None = None) -> None:
    if len(features) == 0:
        raise ValueError("no utterances: features is empty")
    if labels is not None and len(labels) != len(features):
        raise ValueError(f"got {len(features)} feature tensors but {len(labels)} labels")


def train_classifier(
    model: PooledClassifier,
    features: Sequence[torch.Tensor],
    labels: Sequence[int],
    *,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 3e-3,
    weight_decay: float = 0.01,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """Train ``model`` on ``features`` (each ``(frames, num_layers, dim)``) and integer ``labels``.

    Sets the standardisation from ``features`` first, then takes ``steps``
    AdamW steps with cross-entropy on random mini-batches (drawn with
    ``seed``) and a cosine learning-rate decay (:func:`speechlm.train.fit`).
    Returns the loss of every step; leaves the model in eval mode.
    """
    _check_data(features, labels)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if int(y.min()) < 0 or int(y.max()) >= model.num_classes:
        raise ValueError(f"labels must be in [0, {model.num_classes - 1}], got {y.unique().tolist()}")
    model.fit_normalisation(features)
    draws = random_batches(len(features), batch_size, torch.Generator().manual_seed(seed))
    batches = ((*pad_sequences([features[i] for i in idx]), y[idx]) for idx in draws)
    return fit_adamw(
        model,
        batches,
        steps=steps,
        lr=lr,
        loss_fn=F.cross_entropy,
        weight_decay=weight_decay,
        warmup=0,
        decay="cosine",
        grad_clip=None,
        progress=progress,
        desc="training the head",
    )


@torch.no_grad()
def predict(model: PooledClassifier, features: Sequence[torch.Tensor], batch_size: int = 128) -> np.ndarray:
    """Predicted class of each utterance, ``(len(features),)`` int64 (eval mode; the mode is restored)."""
    _check_data(features)
    was_training = model.training
    model.eval()
    preds = []
    for start in range(0, len(features), batch_size):
        x, lengths = pad_sequences(list(features[start : start + batch_size]))
        preds.append(model(x, lengths).argmax(-1))
    model.train(was_training)
    return torch.cat(preds).numpy()


class Cascade:
    """Speech in, class out, through text: ``asr.transcribe`` then ``text_classifier`` (notebook 15).

    ``asr``: any object with ``transcribe(audios, sample_rate) -> list[str]``
    (such as :func:`speechlm.pretrained.load_asr`). ``text_classifier``: a
    function from a list of texts to their predicted classes (such as
    ``lambda texts: bert.classify(clf, tokenizer, texts)``).
    """

    def __init__(self, asr, text_classifier: Callable[[list[str]], Sequence[int]]):
        if not callable(getattr(asr, "transcribe", None)):
            raise TypeError(
                f"asr must have a transcribe(audios, sample_rate) method, got {type(asr).__name__}"
            )
        if not callable(text_classifier):
            raise TypeError(f"text_classifier must be callable, got {type(text_classifier).__name__}")
        self.asr = asr
        self.text_classifier = text_classifier

    def transcribe(self, audios: Sequence[np.ndarray], sample_rate: int = SAMPLE_RATE) -> list[str]:
        """The recogniser's transcripts of ``audios`` (each ``(samples,)`` float32 at ``sample_rate`` Hz)."""
        if len(audios) == 0:
            raise ValueError("no audio to transcribe")
        return list(self.asr.transcribe(list(audios), sample_rate=sample_rate))

    def classify(self, transcripts: Sequence[str]) -> np.ndarray:
        """The text classifier's classes of ``transcripts``, ``(len(transcripts),)`` int64."""
        preds = np.asarray(torch.as_tensor(self.text_classifier(list(transcripts))), dtype=np.int64)
        if preds.shape != (len(transcripts),):
            raise ValueError(f"text_classifier returned shape {preds.shape} for {len(transcripts)} texts")
        return preds

    def predict(
        self, audios: Sequence[np.ndarray], sample_rate: int = SAMPLE_RATE
    ) -> tuple[np.ndarray, list[str]]:
        """Classes ``(len(audios),)`` and the transcripts they were read from."""
        transcripts = self.transcribe(audios, sample_rate)
        return self.classify(transcripts), transcripts


def utterance_cer(references: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
    """Character error rate of each (reference, hypothesis) pair, ``(n,)`` float64
    (:func:`speechlm.metrics.cer` of one utterance: edits over reference characters; may exceed 1)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"got {len(references)} references but {len(hypotheses)} hypotheses")
    return np.array([metrics.cer(r, h) for r, h in zip(references, hypotheses, strict=True)])


class Bucket(NamedTuple):
    """One bucket of :func:`accuracy_by_bucket`: its ``label`` (``"(0.1, 0.3]"``), the number of
    utterances ``n`` and their ``accuracy`` (NaN when ``n == 0``)."""

    label: str
    n: int
    accuracy: float


def accuracy_by_bucket(
    values: Sequence[float], correct: Sequence[bool], edges: Sequence[float] = (0.0, 0.1, 0.3)
) -> list[Bucket]:
    r"""Accuracy of the utterances grouped by a per-utterance value (such as the ASR's CER).

    With edges :math:`e_0 < e_1 < \dots < e_{k-1}` the buckets are
    :math:`v \le e_0`, :math:`e_0 < v \le e_1`, ..., :math:`v > e_{k-1}`
    (``k + 1`` buckets; with the default edges: CER exactly 0, up to 10%,
    up to 30%, above 30%). ``correct``: whether each utterance was classified right.
    """
    v = np.asarray(values, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    e = np.asarray(edges, dtype=float)
    if v.ndim != 1 or v.shape != ok.shape or v.size == 0:
        raise ValueError(
            f"values and correct must be 1-D, non-empty and equal in length, got {v.shape} {ok.shape}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    if e.ndim != 1 or e.size == 0 or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges must be a non-empty, strictly increasing sequence, got {list(edges)}")
    which = np.searchsorted(e, v, side="left")  # v <= e[0] -> 0, e[i-1] < v <= e[i] -> i, v > e[-1] -> k
    labels = [f"<= {e[0]:g}"] + [f"({a:g}, {b:g}]" for a, b in itertools.pairwise(e)] + [f"> {e[-1]:g}"]
    buckets = []
    for i, label in enumerate(labels):
        in_bucket = which == i
        n = int(in_bucket.sum())
        buckets.append(Bucket(label, n, float(ok[in_bucket].mean()) if n else float("nan")))
    return buckets
