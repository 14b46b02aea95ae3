"""Reading a pretrained encoder's layers: the learned layer mix and the pooled utterance head.

Every block of a pretrained speech encoder holds other information (the lower ones more about the
sound, the upper ones more about words), so a task head often reads all of them. :class:`LayerMix`
is SUPERB's recipe (Yang et al. 2021): a weighted sum of the layers with softmax weights that are
learned with the head (initially uniform), each layer layer-normalised first where its scale is
unknown. It serves the CTC head on every layer (notebook 12), the digit-word classifier
(:class:`PooledHead`, notebook 12), the voice-command head (notebook 14) and the spoken-understanding
classifiers (notebook 15); :meth:`LayerMix.weights` says which layers a trained head listens to.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from speechlm.batching import lengths_to_mask, masked_mean

__all__ = ["LayerMix", "PooledHead"]


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
            x = layers if self.norm is None else self.norm(layers)
        else:
            if len(layers) != self.num_layers:
                raise ValueError(f"expected {self.num_layers} layers, got {len(layers)}")
            x = torch.stack([layer if self.norm is None else self.norm(layer) for layer in layers])
            dim = 0
        shape = [1] * x.ndim
        shape[dim] = self.num_layers
        return (x * self.weights().view(shape)).sum(dim)


class PooledHead(nn.Module):
    """An utterance classifier on every layer of an encoder: a :class:`LayerMix`, averaged over the
    real frames, dropout and a linear layer. ``forward(layers, lengths)``: the encoder's
    ``num_layers`` outputs ``(batch, frames, d_model)`` and each utterance's frames; logits
    ``(batch, num_classes)``."""

    def __init__(self, num_layers: int, d_model: int, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.mix = LayerMix(num_layers, d_model)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, num_classes)

    def forward(self, layers: Sequence[torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
        x = self.mix(layers)
        pooled = masked_mean(x, lengths_to_mask(lengths, x.shape[1]))
        return self.out(self.dropout(pooled))
