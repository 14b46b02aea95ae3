"""HuBERT-style masked prediction of cluster targets (Hsu et al. 2021; notebook 11).

Frames are masked in spans (:mod:`speechlm.ssl.masking`), the encoder reads
the masked sequence, and for every masked frame :math:`t` it predicts the
frame's cluster :math:`z_t` (a k-means unit, :mod:`speechlm.units`) with

.. math::
    p(c \\mid h_t) = \\frac{\\exp(\\cos(W h_t, e_c) / \\tau)}{\\sum_{c'} \\exp(\\cos(W h_t, e_{c'}) / \\tau)},

a cosine similarity between a projection of the output and a learned
embedding :math:`e_c` of each cluster, with temperature :math:`\\tau = 0.1`.
The loss is the cross-entropy on masked frames only; ``loss_on="all"``
averages over every frame instead (the ablation of notebook 11: predicting
unmasked frames is easy, the encoder can copy its input, and it learns less).

A *cluster ensemble* (proposed with HuBERT, Hsu et al. 2021) predicts several
clusterings of the same frames at once, one projection and set of embeddings per codebook, and
averages their losses: ``targets (batch, frames, codebooks)`` with ``ensemble`` the extra sizes.

Iteration 1 clusters MFCC with deltas (:func:`speechlm.features.mfcc_features`);
iteration 2 clusters an intermediate layer of the iteration-1 model
(:func:`layer_features`), which are better targets (higher PNMI).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechlm.batching import pad_sequences
from speechlm.ssl.encoder import EncoderConfig, SpeechEncoder, encode_utterances
from speechlm.ssl.masking import DEFAULT_SPAN_LENGTH, DEFAULT_START_PROB, mask_spans

__all__ = ["LOSS_ON", "PAD_TARGET", "HuBERT", "collate_targets", "cosine_logits", "layer_features"]

LOSS_ON = ("masked", "all")  # the frames the loss scores: the masked ones (HuBERT's choice) or every one

PAD_TARGET = -100  # target value of padded frames


def collate_targets(
    items: list[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``collate_fn`` for ``(mels (mel_frames, n_mels), targets (frames,))`` pairs: returns padded
    ``(mels, mel_lengths, targets)``, targets padded with ``-100``; feeds ``HuBERT(*batch)``."""
    mels, mel_lengths = pad_sequences([m for m, _ in items])
    targets, _ = pad_sequences(
        [torch.as_tensor(t, dtype=torch.long) for _, t in items], padding_value=PAD_TARGET
    )
    return mels, mel_lengths, targets


def cosine_logits(projected: torch.Tensor, embeddings: torch.Tensor, temperature: float) -> torch.Tensor:
    """``cos(projected_t, embeddings_c) / temperature``: ``(..., dim)`` and ``(n_clusters, dim)`` give
    ``(..., n_clusters)``."""
    return F.normalize(projected, dim=-1) @ F.normalize(embeddings, dim=-1).T / temperature


def check_loss_on(loss_on: str) -> None:
    """Raise ``ValueError`` unless ``loss_on`` is one of :data:`LOSS_ON`."""
    if loss_on not in LOSS_ON:
        raise ValueError(f"loss_on must be 'masked' or 'all', got {loss_on!r}")


class HuBERT(nn.Module):
    """A :class:`SpeechEncoder` with HuBERT's masked-prediction head.

    ``forward(mels, mel_lengths, targets)`` with ``targets (batch, frames)``
    int64 cluster ids (``-100`` at padding) returns ``(loss, metrics)``:
    ``metrics["accuracy"]`` is the share of masked frames whose cluster is
    predicted right, ``metrics["mask_fraction"]`` the share of frames masked.
    Its two steps, :meth:`encode_masked` (with a given mask or a drawn one) and
    :meth:`prediction_loss`, are also what the pretraining runner's
    :class:`speechlm.runner.objective.MaskedPrediction` computes with (notebook 18).
    """

    def __init__(
        self,
        n_clusters: int,
        config: EncoderConfig | None = None,
        *,
        proj_dim: int = 64,
        temperature: float = 0.1,
        start_prob: float = DEFAULT_START_PROB,
        span_length: int = DEFAULT_SPAN_LENGTH,
        loss_on: str = "masked",
        ensemble: Sequence[int] = (),
    ):
        super().__init__()
        check_loss_on(loss_on)
        if n_clusters < 2 or any(k < 2 for k in ensemble):
            raise ValueError(
                f"every codebook needs at least 2 clusters, got {n_clusters} and {tuple(ensemble)}"
            )
        self.encoder = SpeechEncoder(config)
        d = self.encoder.config.d_model
        self.proj = nn.Linear(d, proj_dim)
        self.cluster_embeddings = nn.Parameter(torch.randn(n_clusters, proj_dim))
        # the extra codebooks of a cluster ensemble (none: plain HuBERT, with the same parameters)
        self.ensemble = nn.ModuleList(_CodebookHead(d, proj_dim, k) for k in ensemble)
        self.temperature = temperature
        self.start_prob, self.span_length, self.loss_on = start_prob, span_length, loss_on

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, d_model)`` encoder output to ``(batch, frames, n_clusters)`` logits."""
        return cosine_logits(self.proj(hidden), self.cluster_embeddings, self.temperature)

    def encode_masked(
        self,
        mels: torch.Tensor,
        mel_lengths: torch.Tensor,
        targets: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode ``mels (batch, mel_frames, n_mels)`` with span-masked frames.

        ``mask (batch, frames)`` bool, True where a frame is masked; ``None`` draws
        one from the global random generator (``start_prob``, ``span_length``).
        Returns ``hidden (batch, frames, d_model)``, the ``mask`` and ``valid (batch,
        frames)``: True at frames that are not padding and have a target.
        """
        frames, lengths = self.encoder.frontend(mels, mel_lengths)
        if targets.shape[:2] != frames.shape[:2] or targets.ndim != 2:
            raise ValueError(
                f"targets must be (batch, frames) = {tuple(frames.shape[:2])} (one cluster per 20 ms "
                f"encoder frame), got {tuple(targets.shape)}"
            )
        if mask is None:
            mask = mask_spans(
                lengths.cpu(), frames.shape[1], start_prob=self.start_prob, span_length=self.span_length
            )
            mask = mask.to(frames.device)
        elif mask.shape != frames.shape[:2]:
            raise ValueError(
                f"mask must be (batch, frames) = {tuple(frames.shape[:2])}, got {tuple(mask.shape)}"
            )
        out = self.encoder.transformer(self.encoder.apply_mask(frames, mask), lengths)
        valid = ~out.padding_mask & (targets != PAD_TARGET)
        return out.hidden, mask, valid

    def prediction_loss(
        self, hidden: torch.Tensor, targets: torch.Tensor, scored: torch.Tensor, reduction: str = "mean"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """HuBERT's loss: the cross-entropy of the cosine logits of ``hidden (batch, frames, d_model)``
        against ``targets (batch, frames)`` at the frames where ``scored (batch, frames)`` is True,
        ``reduction`` ``"mean"`` or ``"sum"`` over them. Returns the loss and the logits
        ``(n_scored, n_clusters)``."""
        logits = self.logits(hidden[scored])
        return F.cross_entropy(logits, targets[scored], reduction=reduction), logits

    def forward(
        self, mels: torch.Tensor, mel_lengths: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        codebooks = 1 + len(self.ensemble)
        if codebooks > 1 and (targets.ndim != 3 or targets.shape[2] != codebooks):
            raise ValueError(
                f"a cluster ensemble of {codebooks} codebooks needs targets (batch, frames, {codebooks}), "
                f"got {tuple(targets.shape)}"
            )
        extra = targets[..., 1:] if codebooks > 1 else None
        targets = targets[..., 0] if codebooks > 1 else targets
        hidden, mask, valid = self.encode_masked(mels, mel_lengths, targets)
        scored = mask & valid if self.loss_on == "masked" else valid
        loss, _ = self.prediction_loss(hidden, targets, scored)
        if extra is not None:  # the mean of every codebook's loss
            for i, head in enumerate(self.ensemble):
                logits = cosine_logits(head.proj(hidden[scored]), head.embeddings, self.temperature)
                loss = loss + F.cross_entropy(logits, extra[..., i][scored])
            loss = loss / codebooks
        with torch.no_grad():
            on_masked = self.logits(hidden[mask & valid]).argmax(-1) == targets[mask & valid]
        metrics = {"accuracy": on_masked.float().mean().item(), "mask_fraction": (mask & valid).sum().item() /
                   valid.sum().item()}  # fmt: skip
        return loss, metrics


class _CodebookHead(nn.Module):
    """One extra codebook of a cluster ensemble: its projection and cluster embeddings."""

    def __init__(self, d_model: int, proj_dim: int, n_clusters: int):
        super().__init__()
        self.proj = nn.Linear(d_model, proj_dim)
        self.embeddings = nn.Parameter(torch.randn(n_clusters, proj_dim))


def layer_features(
    encoder: SpeechEncoder, mels: list[torch.Tensor], layer: int, batch_size: int = 32
) -> list[np.ndarray]:
    """Hidden states of one layer for each utterance (eval mode, no masking).

    ``mels``: a list of ``(mel_frames, n_mels)`` log-mel tensors. ``layer``
    indexes :attr:`EncoderOutput.layers` (0: the Transformer's input, ``i``:
    block ``i``'s output). Returns a list of ``(frames, d_model)`` float32
    arrays, the iteration-2 k-means input and the input of layer probes
    (:func:`~speechlm.ssl.encoder.encode_utterances`, ``batch_size`` utterances at a time).
    """
    n_layers = len(encoder.layers)
    if not 0 <= layer <= n_layers:
        raise ValueError(f"layer must be in [0, {n_layers}], got {layer}")
    return [h.numpy() for h in encode_utterances(encoder, mels, layer=layer, batch_size=batch_size)]
