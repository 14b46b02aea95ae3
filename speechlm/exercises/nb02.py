"""Exercises of notebook 02 (linear prediction): autocorrelation, the step-up recursion, prediction gain."""

from __future__ import annotations

import numpy as np
import scipy.signal

from speechlm import dsp
from speechlm.exercises import Exercise, allclose, register


def _frames(rng: np.random.Generator):
    vowel = dsp.synthetic_vowel(f0_hz=float(rng.uniform(90, 250)), duration_s=0.1)
    yield vowel[400:800] * np.hamming(400)
    ar = scipy.signal.lfilter([1.0], [1.0, -1.2, 0.6], rng.standard_normal(600))
    yield ar
    yield rng.standard_normal(64)


def _autocorrelation_cases(rng: np.random.Generator):
    yield (np.array([1.0, 2.0, 3.0]), 2)
    yield from zip(_frames(rng), (12, 4, 10), strict=True)


def _step_up(k: np.ndarray) -> np.ndarray:
    """The error filter ``a = [1, a_1, ..., a_p]`` of the reflection coefficients ``k = [k_1, ..., k_p]``."""
    a = np.ones(1)
    for km in np.asarray(k, dtype=np.float64):
        padded = np.append(a, 0.0)
        a = padded + km * padded[::-1]
    return a


def _step_up_cases(rng: np.random.Generator):
    yield (np.array([-0.5]),)
    yield (np.array([0.5, -0.25]),)
    for x, order in zip(_frames(rng), (11, 3, 6), strict=True):
        yield (dsp.levinson_durbin(dsp.autocorrelation(x, order), order)[1],)
    yield (rng.uniform(-0.9, 0.9, size=7),)


def _prediction_gain(x: np.ndarray, order: int) -> float:
    r = dsp.autocorrelation(x, order)
    return float(10.0 * np.log10(r[0] / dsp.levinson_durbin(r, order)[2]))


register(
    Exercise(
        id="02.autocorrelation",
        prompt="""
Write `autocorrelation(x, max_lag)` returning the array
r[k] = sum_n x[n] x[n + k] for k = 0 .. max_lag (length max_lag + 1), for a
1-D frame x. This is the (biased) autocorrelation of the autocorrelation method.
""",
        prompt_zh="""
编写 `autocorrelation(x, max_lag)`：对一维帧 x 返回数组
r[k] = sum_n x[n] x[n + k]，k = 0 .. max_lag（长度为 max_lag + 1）。
这就是自相关法所用的（有偏）自相关。
""",
        reference=dsp.autocorrelation,
        cases=_autocorrelation_cases,
        hints=(
            "For each lag k, pair every sample with the one k places later and add up the products.",
            "For a frame of N samples only n = 0 ... N - 1 - k have a partner x[n + k] (no wrapping around: "
            "the frame is zero outside). The answer has max_lag + 1 entries, and r[0] is the frame's energy.",
        ),
        hints_zh=(
            "对每个滞后 k，把每个采样点与它后面第 k 个采样点配成一对，再把各对的乘积加起来。",
            "对于 N 个采样点的帧，只有 n = 0 ... N - 1 - k 才有配对的 x[n + k]（不要首尾回绕："
            "帧外视为零）。结果共有 max_lag + 1 项，其中 r[0] 就是这一帧的能量。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="02.step_up",
        prompt="""
Write `step_up(k)`, the step-up recursion: from the reflection coefficients
k = [k_1, ..., k_p] (a 1-D float array, p >= 1) to the prediction-error filter
a = [1, a_1, ..., a_p] (a 1-D array of length p + 1), with no autocorrelation
needed. A vocoder can send the k (|k_m| < 1 keeps 1/A(z) stable, and they
quantise well); the decoder rebuilds A(z) this way.
Convention: the course's, that of dsp.levinson_durbin (which returns a and k):
k_m is the last coefficient of the order-m error filter, a_m^(m) = k_m (minus
Rabiner and Schafer's k_m). Start from a^(0) = [1]; for m = 1 .. p:
    a_i^(m) = a_i^(m-1) + k_m a_{m-i}^(m-1)  for i = 1 .. m-1
    a_m^(m) = k_m
so step_up applied to the k of dsp.levinson_durbin(r, p) gives back its a.
""",
        prompt_zh="""
编写 `step_up(k)`，即升阶递推（step-up recursion）：由反射系数
k = [k_1, ..., k_p]（一维浮点数组，p >= 1）求出预测误差滤波器
a = [1, a_1, ..., a_p]（长度为 p + 1 的一维数组），整个过程不需要自相关。
声码器可以只传输 k（|k_m| < 1 保证 1/A(z) 稳定，而且 k 便于量化），
解码器再用这种方法重建 A(z)。
约定：采用本课程的约定，即 dsp.levinson_durbin（它返回 a 和 k）的约定：
k_m 是 m 阶误差滤波器的最后一个系数，a_m^(m) = k_m（与 Rabiner 和 Schafer
的 k_m 相差一个负号）。从 a^(0) = [1] 开始，对 m = 1 .. p：
    a_i^(m) = a_i^(m-1) + k_m a_{m-i}^(m-1)  （i = 1 .. m-1）
    a_m^(m) = k_m
因此，把 step_up 作用于 dsp.levinson_durbin(r, p) 给出的 k，就能得回它的 a。
""",
        reference=_step_up,
        cases=_step_up_cases,
        hints=(
            "One pass per reflection coefficient, each pass making the filter one coefficient longer. "
            "Check yourself by hand: k = [k_1] gives [1, k_1], and k = [k_1, k_2] gives "
            "[1, k_1 + k_2 k_1, k_2].",
            "In pass m every new a_i needs two coefficients of the previous order, a_i and a_{m-i}: "
            "compute all of them from the order m - 1 filter (keep a copy, or build a new array) before "
            "overwriting any, or the second half of the indices uses coefficients already updated (this "
            "shows from order 3 on). Equivalently: append a zero to the order m - 1 filter and add k_m "
            "times the same padded filter read backwards; its first entry stays 1 and its last becomes k_m.",
            "Signs: the k you get are already the course's (the last coefficients of the error filters "
            "A(z), so k_1 is negative for a signal that resembles its previous sample): use them as they "
            "are, with the plus sign of the statement. Rabiner and Schafer's recursion, with a minus sign, "
            "takes their k_m, which are minus these, and builds the predictor coefficients -a_i.",
        ),
        hints_zh=(
            "每个反射系数处理一遍，每处理一遍，滤波器就多一个系数。可以手算自查：k = [k_1] 得到 "
            "[1, k_1]，k = [k_1, k_2] 得到 [1, k_1 + k_2 k_1, k_2]。",
            "第 m 遍中，每个新的 a_i 都要用到上一阶的两个系数 a_i 和 a_{m-i}：先根据 m - 1 阶滤波器"
            "把它们全部算出来（保留一份副本，或者构造一个新数组），然后才能覆盖任何系数；否则后一半"
            "下标用到的就是已经更新过的系数（从 3 阶起就会出错）。等价的做法：在 m - 1 阶滤波器末尾"
            "补一个零，再加上 k_m 乘以倒序读取的同一个补零后的滤波器；第一项仍为 1，最后一项变为 k_m。",
            "符号：你拿到的 k 已经采用本课程的约定（它们是误差滤波器 A(z) 的最后一个系数，所以对于"
            "与前一个采样点相似的信号，k_1 为负）：按原样使用，取题目中的加号即可。Rabiner 和 Schafer "
            "的递推带负号，用的是他们的 k_m（即这里的相反数），构造的是预测器系数 -a_i。",
        ),
        compare=allclose(rtol=1e-8, atol=1e-10),
    )
)

register(
    Exercise(
        id="02.prediction_gain",
        prompt="""
Write `prediction_gain(x, order)`: how much an order-`order` linear predictor
reduces the energy of the frame x, in dB: 10 log10(r[0] / E), where r[0] is the
frame's energy and E the prediction error energy that Levinson-Durbin leaves.
You may use speechlm.dsp.autocorrelation and speechlm.dsp.levinson_durbin
(which returns a, k and E).
""",
        prompt_zh="""
编写 `prediction_gain(x, order)`：`order` 阶线性预测器使帧 x 的能量降低了
多少，以 dB 表示：10 log10(r[0] / E)，其中 r[0] 是帧的能量，E 是
Levinson-Durbin 递推留下的预测误差能量。可以使用 speechlm.dsp.autocorrelation
和 speechlm.dsp.levinson_durbin（它返回 a、k 和 E）。
""",
        reference=_prediction_gain,
        cases=lambda rng: ((x, order) for x, order in zip(_frames(rng), (12, 2, 8), strict=True)),
        hints=(
            "You need two numbers: the frame's energy r[0] and the error energy E that the order-`order` "
            "predictor leaves. The package computes both.",
            "speechlm.dsp.levinson_durbin returns the error energy as the third of its three values. The "
            "gain is the energy ratio r[0] / E in dB, ten times its base-10 logarithm: positive when "
            "prediction removes energy.",
        ),
        hints_zh=(
            "你需要两个数：帧的能量 r[0]，以及 `order` 阶预测器留下的误差能量 E。这两个数程序包都能算出。",
            "speechlm.dsp.levinson_durbin 返回三个值，第三个就是误差能量。增益是能量比 r[0] / E 的"
            "分贝值，即它以 10 为底的对数的十倍：预测去除了能量时，增益为正。",
        ),
        compare=allclose(rtol=1e-6, atol=1e-9),
    )
)
