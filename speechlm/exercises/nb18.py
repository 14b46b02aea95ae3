"""Exercises of notebook 18 (scaling up): convolutional front ends, sharding batches over processes,
and the loss each process must backpropagate so that several processes retrace one."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, equal, register


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
        prompt_zh="""
编写 `hop_and_field(layers)`：输入是一叠不带填充的一维卷积，以从输入到输出的
`(kernel_size, stride)` 列表给出。返回一个整数元组 `(hop, field)`：一个输出帧前进
多少个输入采样点（各层步幅之积），以及一个输出帧能看到多少个输入采样点（它的感受野）。
wav2vec 2.0 的前端给出 (320, 400)：帧移 20 ms，窗长 25 ms。
""",
        reference=_hop_and_field,
        cases=_front_end_cases,
        hints=(
            "Walk from the input layer to the output and keep two numbers: how many input samples apart two "
            "neighbouring frames of the current layer are (the hop), and how many samples one frame sees "
            "(the field). This is 05.receptive_field without dilation, plus the hop.",
            "Both start at 1. A layer with kernel k widens the field by k - 1 hops of the layer below, then "
            "multiplies the hop by its stride, in that order. Check with wav2vec 2.0: (320, 400).",
        ),
        hints_zh=(
            "从输入层一直走到输出层，一路记住两个数：当前层相邻两帧在输入上相隔多少个采样点（帧移），"
            "以及一帧能看到多少个采样点（感受野）。这就是不带扩张的 05.receptive_field，再加上帧移。",
            "两者都从 1 开始。卷积核为 k 的一层先把感受野加宽 k - 1 个下一层的帧移，然后把帧移乘以"
            "它的步幅，顺序不能颠倒。用 wav2vec 2.0 验证：(320, 400)。",
        ),
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
        prompt_zh="""
编写 `rank_batches(permutation, global_batch, world_size, rank)`，返回进程 `rank` 在一个
轮次中读取的批（由样本下标列表组成的列表），分法与 `DistributedSampler(drop_last=True)`
相同：把排列截断为 `world_size` 的整数倍，让进程 `r` 取位置为
`r, r + world_size, r + 2 * world_size, ...` 的样本，再把它们切成每批
`global_batch // world_size` 个样本；一共有 `len(permutation) // global_batch` 个批。
""",
        reference=_rank_batches,
        cases=_rank_cases,
        hints=(
            "Three steps: cut the permutation to a multiple of world_size, deal it out like cards, split "
            "each hand into batches.",
            "Process r gets the items at positions r, r + world_size, r + 2 world_size, ... of the cut "
            "permutation (strided, not one contiguous block). Its batches hold global_batch / world_size "
            "items each, and there are as many as there are whole global batches in the permutation; "
            "leftover items are dropped.",
        ),
        hints_zh=(
            "分三步：把排列截断为 world_size 的整数倍，像发牌一样把它分出去，再把每人手里的牌切成批。",
            "进程 r 得到截断后排列中位置为 r, r + world_size, r + 2 world_size, ... 的样本（按步长跳着取，"
            "而不是连续的一整块）。它的每个批含 global_batch / world_size 个样本，批的个数等于排列中"
            "完整的全局批量的个数；多出来的样本被丢弃。",
        ),
        compare=equal,
    )
)


def _rank_losses(loss_sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return len(loss_sums) * np.asarray(loss_sums, dtype=float) / np.sum(counts)


def _loss_cases(rng: np.random.Generator):
    yield (np.array([6.0]), np.array([3]))  # one process: the plain mean
    yield (np.array([4.0, 4.0]), np.array([2, 2]))
    yield (np.array([10.0, 2.0]), np.array([8, 1]))  # uneven counts: a rank's own mean is wrong
    for world in (2, 4, 8):
        counts = rng.integers(1, 60, size=world)
        yield (counts * rng.uniform(1.0, 5.0, size=world), counts)


register(
    Exercise(
        id="18.rank_losses",
        prompt="""
Why do 2 processes retrace 1 (section 3)? Each rank r scores counts[r] masked frames of its half of
the global batch and gets loss_sums[r], the sum of their losses. DDP then averages the ranks'
gradients (their sum divided by world_size). Write `rank_losses(loss_sums, counts)` (two arrays
(world_size,)) returning the loss each rank must backpropagate, an array (world_size,), so that this
average equals the gradient of one process's loss on the whole global batch: the mean loss over all
scored frames of all ranks. (A rank learns the total count by an all-reduce; see
`speechlm.runner.loop`.)
""",
        prompt_zh="""
为什么 2 个进程能复现 1 个进程的结果（第 3 节）？每个进程 r 在它那一半全局批量中对 counts[r]
个被掩码的帧计算损失，得到 loss_sums[r]，即这些帧的损失之和。随后 DDP 对各进程的梯度取平均
（梯度之和除以 world_size）。编写 `rank_losses(loss_sums, counts)`（两个形状为 (world_size,)
的数组），返回每个进程必须反向传播的损失，即一个形状为 (world_size,) 的数组，使上述平均恰好
等于单个进程在整个全局批量上的损失的梯度，这个损失是所有进程所有被计分帧上的平均损失。
（进程通过一次全归约得知总帧数；见 `speechlm.runner.loop`。）
""",
        reference=_rank_losses,
        cases=_loss_cases,
        hints=(
            "Write the one-process loss first: the sum of all ranks' loss sums divided by the total count. "
            "Its gradient is a sum over ranks; now ask what DDP's averaging does to each rank's term.",
            "The gradient of the global mean is the sum over ranks of the gradient of loss_sums[r], divided "
            "by the total count. DDP divides the sum of the ranks' gradients by world_size, so each rank "
            "must scale its loss sum by world_size over the total count. A rank's own mean is right only "
            "when every rank scored the same number of frames.",
        ),
        hints_zh=(
            "先写出单进程的损失：把所有进程的损失之和加起来，再除以总帧数。它的梯度是各进程的项之和；"
            "接下来想一想，DDP 的平均对每个进程的那一项做了什么。",
            "全局平均损失的梯度，等于各进程 loss_sums[r] 的梯度之和除以总帧数。DDP 把各进程梯度之和"
            "除以 world_size，所以每个进程必须把自己的损失之和乘以 world_size，再除以总帧数。只有当"
            "每个进程计分的帧数都相同时，各进程自己的平均损失才是对的。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
