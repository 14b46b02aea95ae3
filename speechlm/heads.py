"""Reading a pretrained encoder's layers: the learned layer mix, pooling over frames and the pooled
utterance head.

Every block of a pretrained speech encoder holds other information (the lower ones more about the
sound, the upper ones more about words), so a task head often reads all of them. :class:`LayerMix`
is SUPERB's recipe (Yang et al. 2021): a weighted sum of the layers with softmax weights that are
learned with the head (initially uniform), each layer layer-normalised first where its scale is
unknown. It serves the CTC head on every layer (notebook 12), the digit-word classifier (a
:class:`PooledClassifier`, notebook 12), the voice-command head (notebook 14) and the
spoken-understanding classifiers (:class:`PooledClassifier`, notebook 15); :meth:`LayerMix.weights`
says which layers a trained head listens to. An utterance-level head then pools the frames into one
vector: their mean (:func:`speechlm.batching.masked_mean`) or an attention-weighted sum
(:func:`attention_pool`, also the voice-command head's pooling, one query per slot).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from speechlm.batching import lengths_to_mask, masked_mean

__all__ = ["LayerMix", "PooledClassifier", "attention_pool"]


class LayerMix(nn.Module):
    """A learned mix of ``num_layers`` layers: :math:`\\sum_l \\operatorname{softmax}(a)_l\\, h_l`.

    ``norm=True`` layer-normalises each layer first (over its ``d_model`` channels; the layers of a
    Transformer differ in scale); ``norm=False`` mixes them as they come (features standardised
    beforehand). ``forward(layers, dim=0)`` takes the layers as a sequence of ``num_layers`` tensors
    of one shape, or as one tensor with the layers along axis ``dim``, and returns their mix, of the
    shape of one layer.
    """

    def __init__(self, num_layers: int, d_model: int | None = None, *, norm: bool = True):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"need num_layers >= 1, got {num_layers}")
        if norm and d_model is None:
            raise ValueError("norm=True needs d_model, the channels each layer is normalised over")
        self.layer_logits = nn.Parameter(torch.zeros(num_layers))
        self.norm = nn.LayerNorm(d_model) if norm else None

    @property
    def num_layers(self) -> int:
        return len(self.layer_logits)

    def weights(self) -> torch.Tensor:
        """The weight of each layer in the mix, ``(num_layers,)``, summing to 1."""
        return self.layer_logits.softmax(0)

    def forward(self, layers: Sequence[torch.Tensor] | torch.Tensor, dim: int = 0) -> torch.Tensor:
        if isinstance(layers, torch.Tensor):
            if layers.ndim < 2 or layers.shape[dim] != self.num_layers:
                raise ValueError(
                    f"expected {self.num_layers} layers along axis {dim}, got shape {tuple(layers.shape)}"
                )
            if self.norm is None:
                x = layers
            else:  # each layer normalised on its own, then stacked: as for a sequence of layers
                layers = layers.unbind(dim)
        if not isinstance(layers, torch.Tensor):
            if len(layers) != self.num_layers:
                raise ValueError(f"expected {self.num_layers} layers, got {len(layers)}")
            x = torch.stack([layer if self.norm is None else self.norm(layer) for layer in layers])
            dim = 0
        shape = [1] * x.ndim
        shape[dim] = self.num_layers
        return (x * self.weights().view(shape)).sum(dim)


def attention_pool(
    x: torch.Tensor, scores: torch.Tensor, padding_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention pooling: :math:`\\sum_t \\alpha_{qt} x_t` with :math:`\\alpha_q =
    \\operatorname{softmax}_t(s_{qt})` over the real frames, for each of ``queries`` score rows.

    ``x (batch, frames, dim)``, ``scores (batch, queries, frames)`` (e.g. a linear layer's output per
    frame, transposed), ``padding_mask (batch, frames)`` True at padding. Returns the pooled vectors
    ``(batch, queries, dim)`` and the weights ``alpha (batch, queries, frames)``, zero at padding."""
    if scores.ndim != 3 or scores.shape[0] != x.shape[0] or scores.shape[2] != x.shape[1]:
        raise ValueError(
            f"scores must be (batch, queries, frames) for x {tuple(x.shape)}, got {tuple(scores.shape)}"
        )
    weights = scores.masked_fill(padding_mask[:, None, :], float("-inf")).softmax(-1)
    return weights @ x, weights


class PooledClassifier(nn.Module):
    """An utterance classifier on an encoder's layers (notebooks 12 and 15).

    Input: ``features (batch, frames, num_layers, dim)`` and ``lengths (batch,)`` valid frames. Each
    layer is normalised,

    - ``norm="fitted"``: each (layer, channel) standardised with statistics of the training
      features (:meth:`fit_normalisation`; for a frozen encoder's features, notebook 15);
    - ``norm="layer"``: a learned LayerNorm over each layer's channels (for an encoder that is
      fine-tuned under the head, whose statistics move: the digit-word classifier of notebook 12);

    the layers are then mixed,

    - ``layer=k``: layer ``k`` only;
    - ``layer=None``: a learned :class:`LayerMix`, :math:`\\sum_l \\operatorname{softmax}(a)_l\\, h_l`
      (initially uniform; ``mix.weights()`` after training);

    then pooled over the real frames,

    - ``pooling="mean"``: the mean vector;
    - ``pooling="attention"``: :func:`attention_pool` with one learned query, so that the frames
      that matter for the label can dominate;

    and classified by a linear layer (``hidden=0``) or a one-hidden-layer MLP, after dropout.
    Returns logits ``(batch, num_classes)``.
    """

    def __init__(
        self,
        dim: int,
        num_classes: int,
        num_layers: int = 1,
        *,
        layer: int | None = None,
        pooling: str = "mean",
        hidden: int = 0,
        dropout: float = 0.1,
        norm: str = "fitted",
    ):
        super().__init__()
        if pooling not in ("mean", "attention"):
            raise ValueError(f"pooling must be 'mean' or 'attention', got {pooling!r}")
        if norm not in ("fitted", "layer"):
            raise ValueError(f"norm must be 'fitted' or 'layer', got {norm!r}")
        if dim < 1 or num_classes < 2 or num_layers < 1 or hidden < 0:
            raise ValueError(
                f"need dim >= 1, num_classes >= 2, num_layers >= 1 and hidden >= 0, got "
                f"dim={dim}, num_classes={num_classes}, num_layers={num_layers}, hidden={hidden}"
            )
        if layer is not None and not 0 <= layer < num_layers:
            raise ValueError(f"layer must be None or in [0, {num_layers - 1}], got {layer}")
        if norm == "layer" and layer is not None:
            raise ValueError("norm='layer' normalises inside the layer mix: it needs layer=None")
        self.dim, self.num_classes, self.num_layers = dim, num_classes, num_layers
        self.layer, self.pooling, self.norm = layer, pooling, norm
        if norm == "fitted":
            self.register_buffer("feature_mean", torch.zeros(num_layers, dim))
            self.register_buffer("feature_std", torch.ones(num_layers, dim))
        self.mix = None if layer is not None else LayerMix(num_layers, dim, norm=norm == "layer")
        self.attention = nn.Linear(dim, 1) if pooling == "attention" else None
        self.dropout = nn.Dropout(dropout)
        if hidden:
            self.classifier = nn.Sequential(
                nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
            )
        else:
            self.classifier = nn.Linear(dim, num_classes)

    def _check(self, features: torch.Tensor) -> None:
        if features.ndim != 4 or features.shape[-2:] != (self.num_layers, self.dim):
            raise ValueError(
                f"expected features (batch, frames, {self.num_layers}, {self.dim}), "
                f"got shape {tuple(features.shape)}"
            )

    @torch.no_grad()
    def fit_normalisation(self, features: Sequence[torch.Tensor]) -> None:
        """Set the standardisation (``norm="fitted"``) from training ``features``, each ``(frames,
        num_layers, dim)``: mean and standard deviation of every (layer, channel) over all frames."""
        if self.norm != "fitted":
            raise ValueError("fit_normalisation is for norm='fitted'; norm='layer' learns its LayerNorm")
        frames = torch.cat([torch.as_tensor(f, dtype=torch.float32) for f in features])
        self._check(frames[None])
        self.feature_mean.copy_(frames.mean(0))
        self.feature_std.copy_(frames.std(0) + 1e-5)

    def pool(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The pooled utterance vectors ``(batch, dim)`` (before dropout and the classifier)."""
        self._check(features)
        x = features
        if self.norm == "fitted":
            x = (x - self.feature_mean) / self.feature_std
        x = x[:, :, self.layer] if self.mix is None else self.mix(x, dim=2)  # (batch, frames, dim)
        mask = lengths_to_mask(torch.as_tensor(lengths).to(x.device), x.shape[1])
        if self.attention is None:
            return masked_mean(x, mask)
        pooled, _ = attention_pool(x, self.attention(x).transpose(1, 2), ~mask)
        return pooled[:, 0]

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.pool(features, lengths)))
