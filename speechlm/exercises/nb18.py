"""Exercises of notebook 18 (scaling up): convolutional front ends, sharding batches over processes,
and counting a Transformer block's parameters."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, equal, register


def _hop_and_field(layers: list[tuple[int, int]]) -> tuple[int, int]:
    hop, field = 1, 1
    for kernel, stride in layers:
        field += (kernel - 1) * hop
        hop *= stride
    return hop, field


def _front_end_cases(rng: np.random.Generator):
    yield ([(10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2)],)  # wav2vec 2.0 / HuBERT
    yield ([(3, 1), (3, 2)],)  # the course's encoder, in log-mel frames
    yield ([(1, 1)],)
    for _ in range(5):
        n = int(rng.integers(1, 6))
        yield ([(int(rng.integers(1, 8)), int(rng.integers(1, 4))) for _ in range(n)],)


register(
    Exercise(
        id="18.front_end",
        prompt="""
Write `hop_and_field(layers)` for a stack of 1-D convolutions without padding,
given as a list of `(kernel_size, stride)` from input to output. Return a tuple
`(hop, field)` of ints: how many input samples one output frame advances (the
product of the strides), and how many input samples one output frame sees (its
receptive field). wav2vec 2.0's front end gives (320, 400): 20 ms hops, 25 ms windows.
""",
        reference=_hop_and_field,
        cases=_front_end_cases,
        hint="Keep a running hop (start 1) and field (start 1); each layer adds (kernel - 1) * hop "
        "to the field, then multiplies the hop by its stride.",
        compare=equal,
    )
)


def _rank_batches(permutation: list[int], global_batch: int, world_size: int, rank: int) -> list[list[int]]:
    usable = len(permutation) // world_size * world_size
    local = permutation[rank:usable:world_size]
    per_rank = global_batch // world_size
    return [local[k * per_rank : (k + 1) * per_rank] for k in range(len(permutation) // global_batch)]


def _rank_cases(rng: np.random.Generator):
    yield (list(range(8)), 4, 2, 0)
    yield (list(range(8)), 4, 2, 1)
    yield ([5, 3, 0, 1, 4, 2, 6], 2, 2, 1)
    for _ in range(6):
        world = int(rng.choice([1, 2, 4]))
        batch = world * int(rng.integers(1, 4))
        n = int(rng.integers(batch, 40))
        yield ([int(i) for i in rng.permutation(n)], batch, world, int(rng.integers(world)))


register(
    Exercise(
        id="18.rank_batches",
        prompt="""
Write `rank_batches(permutation, global_batch, world_size, rank)` that returns the
batches (a list of lists of item indices) that process `rank` reads in one epoch,
the way `DistributedSampler(drop_last=True)` deals them out: cut the permutation
to a multiple of `world_size`, give process `r` the items at positions
`r, r + world_size, r + 2 * world_size, ...`, and split that into batches of
`global_batch // world_size`; there are `len(permutation) // global_batch` batches.
""",
        reference=_rank_batches,
        cases=_rank_cases,
        hint="local = permutation[rank:usable:world_size] with usable = len // world_size * world_size; "
        "then slice local in chunks of global_batch // world_size.",
        compare=equal,
    )
)


def _block_params(d_model: int, d_ff: int) -> int:
    attention = 4 * (d_model * d_model + d_model)  # query, key, value and output projections
    feed_forward = d_model * d_ff + d_ff + d_ff * d_model + d_model
    return attention + feed_forward + 2 * 2 * d_model  # two LayerNorms (scale and shift)


def _block_cases(rng: np.random.Generator):
    yield (144, 576)  # the course's encoder
    yield (768, 3072)  # HuBERT / wav2vec 2.0 Base
    yield (1024, 4096)  # Large
    for _ in range(4):
        d = 8 * int(rng.integers(1, 40))
        yield (d, int(rng.integers(1, 5)) * d)


register(
    Exercise(
        id="18.block_params",
        prompt="""
Write `block_params(d_model, d_ff)` that returns the number of parameters (an int) of
one Transformer encoder block: multi-head self-attention (query, key, value and
output projections, each d_model x d_model with a bias), a feed-forward network
(d_model -> d_ff -> d_model, with biases) and two LayerNorms (a scale and a shift
each). The number of heads does not matter. Check: `torch.nn.TransformerEncoderLayer`.
""",
        reference=_block_params,
        cases=_block_cases,
        hint="4 * (d*d + d) for attention, d*d_ff + d_ff + d_ff*d + d for the feed-forward network, "
        "and 4 * d for the two LayerNorms.",
        compare=equal,
    )
)
