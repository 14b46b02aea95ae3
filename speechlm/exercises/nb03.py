"""Exercises of notebook 03 (MFCC): the HTK mel scale, the MFCC pipeline, liftering, deltas and DTW."""

from __future__ import annotations

import numpy as np

from speechlm import dsp
from speechlm.exercises import Exercise, allclose, register


def _mel_cases(rng: np.random.Generator):
    yield (0.0,)
    yield (700.0,)
    yield (np.array([100.0, 1000.0, 4000.0, 8000.0]),)
    yield (rng.uniform(0, 11025, size=20),)


def _lifter_cases(rng: np.random.Generator):
    yield (np.ones((2, 13)), 22.0)
    yield (rng.standard_normal((50, 13)), 22.0)
    yield (rng.standard_normal((7, 20)), 12.0)


def _deltas_cases(rng: np.random.Generator):
    yield (np.arange(10.0)[:, None],)
    yield (rng.standard_normal((40, 13)),)
    yield (rng.standard_normal((3, 2)),)


def _dtw_cases(rng: np.random.Generator):
    yield (np.array([[0.0], [1.0], [2.0]]), np.array([[0.0], [0.0], [1.0], [2.0], [2.0]]))
    yield (rng.standard_normal((12, 3)), rng.standard_normal((17, 3)))
    yield (rng.standard_normal((1, 4)), rng.standard_normal((6, 4)))
    yield (rng.standard_normal((25, 13)), rng.standard_normal((20, 13)))


register(
    Exercise(
        id="03.mel_htk",
        prompt="""
Write `hz_to_mel_htk(f)`: the HTK mel scale, mel = 2595 log10(1 + f / 700),
for a number or a NumPy array of frequencies in Hz.
""",
        prompt_zh="""
编写 `hz_to_mel_htk(f)`：HTK 梅尔刻度 mel = 2595 log10(1 + f / 700)，
输入可以是一个数，也可以是以 Hz 为单位的 NumPy 频率数组。
""",
        reference=lambda f: dsp.hz_to_mel(f, htk=True),
        cases=_mel_cases,
        hints=(
            "It is one formula applied element by element; make it work for a number and for an array alike.",
            "The logarithm is base 10 and f is divided by 700 before adding 1. Check: 700 Hz gives "
            "2595 log10(2), about 781 mel, and 1000 Hz about 1000 mel.",
        ),
        hints_zh=(
            "这只是一个逐元素计算的公式；让它对单个数和数组都同样适用。",
            "对数以 10 为底，并且要先把 f 除以 700 再加 1。验证：700 Hz 得到 2595 log10(2)，约为 "
            "781 mel；1000 Hz 约为 1000 mel。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-9),
    )
)

register(
    Exercise(
        id="03.lifter",
        prompt="""
Write `lifter(cepstra, L)`: Kaldi/HTK sinusoidal liftering of cepstra with
shape (n_frames, n_ceps): coefficient n (counted from 0, so c0 stays as it is)
is multiplied by 1 + (L / 2) sin(pi n / L).
""",
        prompt_zh="""
编写 `lifter(cepstra, L)`：对形状为 (n_frames, n_ceps) 的倒谱做 Kaldi/HTK 的
正弦倒谱提升（liftering）：第 n 个系数（从 0 开始计，因此 c0 保持不变）
乘以 1 + (L / 2) sin(pi n / L)。
""",
        reference=lambda c, L: dsp.lifter(c, L),
        cases=_lifter_cases,
        hints=(
            "Every coefficient index n has its own weight, the same for every frame: compute the n_ceps "
            "weights once, then scale the columns.",
            "The weight of index n = 0, 1, ..., n_ceps - 1 is 1 + (L / 2) sin(pi n / L), so c0 keeps weight "
            "1. A vector of n_ceps weights broadcasts against (n_frames, n_ceps).",
        ),
        hints_zh=(
            "每个系数下标 n 有自己的权重，并且对所有帧都相同：先一次算出 n_ceps 个权重，再逐列缩放。",
            "下标 n = 0, 1, ..., n_ceps - 1 的权重为 1 + (L / 2) sin(pi n / L)，因此 c0 的权重为 1。"
            "长度为 n_ceps 的权重向量可以与 (n_frames, n_ceps) 的数组广播相乘。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="03.deltas",
        prompt="""
Write `deltas(features)` for features of shape (n_frames, n_features): the
regression deltas with N = 2,
    d_t = (1 (c_{t+1} - c_{t-1}) + 2 (c_{t+2} - c_{t-2})) / (2 (1^2 + 2^2)),
where frames before the first and after the last repeat the edge frame.
""",
        prompt_zh="""
对形状为 (n_frames, n_features) 的特征编写 `deltas(features)`：N = 2 的回归差分，
    d_t = (1 (c_{t+1} - c_{t-1}) + 2 (c_{t+2} - c_{t-2})) / (2 (1^2 + 2^2))，
第一帧之前与最后一帧之后缺少的帧，用重复的边缘帧补齐。
""",
        reference=lambda x: dsp.deltas(x, 2),
        cases=_deltas_cases,
        hints=(
            "Pad the sequence at both ends with copies of the edge frames, two on each side, so that every "
            "frame has neighbours at t - 2 ... t + 2.",
            "In the padded sequence, frame t of the input sits at t + 2. Shifted copies of the padded array "
            "(shift by 1 and by 2, forwards and backwards) give c_{t+n} - c_{t-n} for all frames at once; "
            "weight them by n, add, and divide by 2 (1 + 4) = 10.",
        ),
        hints_zh=(
            "在序列两端各用边缘帧的副本填充两帧，使每一帧在 t - 2 ... t + 2 处都有相邻帧。",
            "在填充后的序列中，输入的第 t 帧位于 t + 2。把填充后的数组向前、向后各平移 1 和 2 "
            "得到几个副本，就能一次求出所有帧的 c_{t+n} - c_{t-n}；按 n 加权、相加，再除以 "
            "2 (1 + 4) = 10。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="03.dtw",
        prompt="""
Write `dtw_cost(x, y)`: the total cost of the best dynamic-time-warping
alignment of two feature sequences x (N, d) and y (M, d), with Euclidean local
costs C[i, j] = ||x_i - y_j|| and steps (1, 0), (0, 1), (1, 1):
    D[i, j] = C[i, j] + min(D[i-1, j], D[i, j-1], D[i-1, j-1]),  D[0, 0] = C[0, 0],
and return D[N-1, M-1] (a float, not normalised).
""",
        prompt_zh="""
编写 `dtw_cost(x, y)`：两个特征序列 x (N, d) 与 y (M, d) 之间最佳动态时间规整
（DTW）对齐的总代价。局部代价取欧氏距离 C[i, j] = ||x_i - y_j||，
允许的步进为 (1, 0)、(0, 1)、(1, 1)：
    D[i, j] = C[i, j] + min(D[i-1, j], D[i, j-1], D[i-1, j-1]),  D[0, 0] = C[0, 0],
返回 D[N-1, M-1]（一个浮点数，不做归一化）。
""",
        reference=lambda x, y: dsp.dtw(x, y)[0],
        cases=_dtw_cases,
        hints=(
            "First the (N, M) table of local costs, the Euclidean distance between every frame of x and "
            "every frame of y; then fill the accumulated cost D cell by cell, row by row.",
            "Each cell adds its local cost to the cheapest of its three predecessors (above, left, "
            "diagonal). The first row and column have fewer predecessors: an extra row and column of "
            "infinity in front of D, with 0 in the corner, removes the special cases.",
        ),
        hints_zh=(
            "先算出 (N, M) 的局部代价表，即 x 的每一帧与 y 的每一帧之间的欧氏距离；再逐行、逐格地"
            "填充累积代价 D。",
            "每个格子把自己的局部代价加到三个前驱（上方、左方、左上对角）中代价最小的那个上。第一行"
            "和第一列的前驱较少：在 D 的前面补一行和一列无穷大，并把角上的格子设为 0，就不必单独处理"
            "这些特殊情况。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-9),
    )
)


def _mfcc_from_power(power: np.ndarray, filterbank: np.ndarray, n_mfcc: int) -> np.ndarray:
    return dsp.dct(np.log(np.maximum(power @ filterbank.T, 1e-10)), n_out=n_mfcc)


def _mfcc_cases(rng: np.random.Generator):
    vowel = dsp.synthetic_vowel(f0_hz=120.0, duration_s=0.1)
    power = dsp.power_spectrogram(vowel, n_fft=512, hop_length=160)
    power[0] = 0.0  # a silent frame: the floor keeps the log finite
    yield (power, np.array(dsp.mel_filterbank(16000, 512, n_mels=40)), 13)
    yield (rng.uniform(0, 1, size=(3, 9)), rng.uniform(0, 1, size=(4, 9)), 4)
    yield (rng.exponential(1.0, size=(6, 257)) ** 2, np.array(dsp.mel_filterbank(16000, 512, n_mels=23)), 23)


register(
    Exercise(
        id="03.mfcc",
        prompt="""
The MFCC pipeline of section 3, from the power spectrum on. Write
`mfcc_from_power(power, filterbank, n_mfcc)`: `power` is a power spectrogram
(n_frames, n_bins), `filterbank` the mel filters (n_mels, n_bins). Return the
MFCCs (n_frames, n_mfcc): the mel energies of each frame (each filter's weighted
sum of the frame's power), their natural log (floor them at 1e-10 first), then
the orthonormal DCT-II over the mel axis, of which you keep the first n_mfcc
coefficients. For M mel energies e_m the DCT-II gives
    c_k = s_k sum_{m=0}^{M-1} e_m cos(pi k (2m + 1) / (2M)),  s_0 = sqrt(1/M), s_k = sqrt(2/M) for k > 0.
Compare with `scipy.fft.dct(..., type=2, norm="ortho")`.
""",
        prompt_zh="""
第 3 节的 MFCC 流程，从功率谱开始。编写
`mfcc_from_power(power, filterbank, n_mfcc)`：`power` 是功率谱图
(n_frames, n_bins)，`filterbank` 是梅尔滤波器 (n_mels, n_bins)。返回
MFCC (n_frames, n_mfcc)：先求每帧的梅尔能量（每个滤波器对该帧功率的加权和），
再取自然对数（取对数前先以 1e-10 为下限截断），然后沿梅尔轴做标准正交的
DCT-II，保留前 n_mfcc 个系数。对 M 个梅尔能量 e_m，DCT-II 为
    c_k = s_k sum_{m=0}^{M-1} e_m cos(pi k (2m + 1) / (2M)),  s_0 = sqrt(1/M), k > 0 时 s_k = sqrt(2/M)。
可以与 `scipy.fft.dct(..., type=2, norm="ortho")` 对照。
""",
        reference=_mfcc_from_power,
        cases=_mfcc_cases,
        hints=(
            "Three steps in the notebook's order: filterbank, log, DCT. The log comes after the filterbank "
            "(section 7 shows that the other order is a different feature).",
            "The mel energies of all frames are one matrix product of the power frames with the transposed "
            "filterbank, (n_frames, n_mels). The DCT is a matrix too: its row k holds s_k times the cosines "
            "for m = 0 ... M - 1; keep its first n_mfcc rows and multiply once more.",
            "A silent frame has zero mel energy: floor before the log, or it becomes -inf.",
        ),
        hints_zh=(
            "按笔记本中的顺序分三步：滤波器组、对数、DCT。对数在滤波器组之后（第 7 节表明，"
            "调换次序得到的是另一种特征）。",
            "所有帧的梅尔能量就是功率帧与转置后的滤波器组的一次矩阵乘积，形状为 (n_frames, n_mels)。"
            "DCT 也是一个矩阵：第 k 行是 s_k 乘以 m = 0 ... M - 1 上的余弦；保留前 n_mfcc 行，"
            "再做一次矩阵乘法。",
            "静音帧的梅尔能量为零：取对数之前先截断下限，否则会得到 -inf。",
        ),
        compare=allclose(rtol=1e-7, atol=1e-9),
    )
)
