"""What a model costs to run: parameters, multiply-accumulates, CPU time and an energy estimate (notebook 17).

A multiply-accumulate (MAC) is one ``a * b + c``; one MAC is two FLOPs. The
encoder's MACs are counted analytically from its configuration
(:func:`encoder_macs`) and checked against PyTorch's dispatcher-level counter
(:func:`measured_macs`, ``torch.utils.flop_counter.FlopCounterMode``), which
counts every matrix product and convolution that actually runs. Both leave out
element-wise work (biases, LayerNorm, GELU, softmax), a few percent at these sizes.

The energy is an estimate, not a measurement: wall-clock CPU time times an
assumed average power, :data:`LAPTOP_CPU_WATTS` (15 W, a typical sustained
package power of a 2-core laptop CPU; a server core, a phone or a GPU differ
by an order of magnitude either way). Pass your own ``watts`` when you know it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from speechlm.ssl.encoder import EncoderConfig

__all__ = [
    "LAPTOP_CPU_WATTS",
    "ModelCost",
    "cpu_time_s",
    "encoder_macs",
    "energy_joules",
    "gru_macs",
    "measure_cost",
    "measured_macs",
]

LAPTOP_CPU_WATTS = 15.0  # assumed average power of a 2-core laptop CPU under load, in watts


def encoder_macs(config: EncoderConfig, num_samples: int) -> dict[str, int]:
    """MACs of one :class:`~speechlm.ssl.SpeechEncoder` forward on a clip of ``num_samples`` samples
    at 16 kHz, by component, with ``"total"``.

    With ``M = 1 + num_samples // 160`` log-mel frames, ``T = ceil(M / 2)`` encoder frames,
    width ``d``, feed-forward width ``f``, ``L`` blocks::

        front end     M * n_mels * d * 3  +  T * d * d * 3  +  T * d * d   (conv1, conv2, projection)
        position conv T * d * (d / groups) * kernel
        projections   L * 4 * T * d * d    (queries, keys, values, output)
        attention     L * 2 * T * T * d    (scores Q K^T and the weighted sum of values)
        feed-forward  L * 2 * T * d * f
    """
    if num_samples < 400:
        raise ValueError(f"a clip needs at least 400 samples (one 25 ms window), got {num_samples}")
    mel_frames = 1 + num_samples // 160
    t = (mel_frames + 1) // 2
    d, layers = config.d_model, config.num_layers
    macs = {
        "front end": mel_frames * config.n_mels * d * 3 + t * d * d * 3 + t * d * d,
        "position conv": t * d * (d // config.pos_conv_groups) * config.pos_conv_kernel,
        "attention projections": layers * 4 * t * d * d,
        "attention scores and sums": layers * 2 * t * t * d,
        "feed-forward": layers * 2 * t * d * config.d_ff,
    }
    macs["total"] = sum(macs.values())
    return macs


def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of PyTorch's fused CPU attention kernel, which ``FlopCounterMode`` does not know."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


@torch.no_grad()
def measured_macs(model: nn.Module | Callable, *args, **kwargs) -> int:
    """MACs of ``model(*args, **kwargs)`` as counted by ``FlopCounterMode`` (FLOPs / 2): matrix
    products, convolutions and attention kernels (the fused CPU kernel included). Recurrent layers
    (``nn.GRU``) run as one opaque kernel that it does not count: add :func:`gru_macs`."""
    custom = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flop}
    with FlopCounterMode(display=False, custom_mapping=custom) as counter:
        model(*args, **kwargs)
    return counter.get_total_flops() // 2


def gru_macs(gru: nn.GRU, steps: int) -> int:
    """MACs of ``gru`` over ``steps`` time steps (one sequence): per layer, direction and step,
    three gates of ``input * hidden + hidden * hidden`` MACs each."""
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps}")
    directions = 2 if gru.bidirectional else 1
    h, total = gru.hidden_size, 0
    for layer in range(gru.num_layers):
        inputs = gru.input_size if layer == 0 else h * directions
        total += directions * steps * 3 * (inputs * h + h * h)
    return total


def cpu_time_s(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs, without
    autograd. On a shared machine the median is the least disturbed summary; it still includes
    whatever else the CPU is doing."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            fn()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def energy_joules(seconds: float, watts: float = LAPTOP_CPU_WATTS) -> float:
    """Energy estimate ``seconds * watts`` in joules (see the module docstring for the assumption)."""
    if seconds < 0 or watts <= 0:
        raise ValueError(f"seconds must be >= 0 and watts > 0, got {seconds} and {watts}")
    return seconds * watts


@dataclass(frozen=True)
class ModelCost:
    """One row of the cost table: cost of one forward pass on an input of ``units`` ``unit``
    (seconds of audio, or tokens), and per unit."""

    name: str
    parameters: int
    macs: int
    cpu_s: float
    joules: float
    units: float
    unit: str

    @property
    def macs_per_unit(self) -> float:
        return self.macs / self.units

    @property
    def joules_per_unit(self) -> float:
        return self.joules / self.units

    def row(self) -> dict:
        """The row as a dict of rounded, readable numbers."""
        return {
            "model": self.name,
            "parameters": self.parameters,
            f"MMACs per {self.unit}": round(self.macs_per_unit / 1e6, 3),
            "CPU ms per forward": round(1e3 * self.cpu_s, 2),
            f"mJ per {self.unit}": round(1e3 * self.joules_per_unit, 3),
        }


def measure_cost(
    name: str,
    model: nn.Module,
    args: tuple,
    *,
    units: float,
    unit: str,
    extra_macs: int = 0,
    repeats: int = 5,
    watts: float = LAPTOP_CPU_WATTS,
) -> ModelCost:
    """Parameters, MACs (:func:`measured_macs` plus ``extra_macs`` for what it cannot see, such
    as :func:`gru_macs`), median CPU time and energy of ``model(*args)`` in eval mode, for an input
    worth ``units`` ``unit`` (for example 2.0 "s of audio" or 32 "token")."""
    if units <= 0:
        raise ValueError(f"units must be positive, got {units}")
    was_training = model.training
    model.eval()
    macs = measured_macs(model, *args) + extra_macs
    seconds = cpu_time_s(lambda: model(*args), repeats=repeats)
    model.train(was_training)
    parameters = sum(p.numel() for p in model.parameters())
    return ModelCost(name, parameters, macs, seconds, energy_joules(seconds, watts), units, unit)
