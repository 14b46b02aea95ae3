"""Exercises of notebook 01 (speech signals): frame counts, aliasing, the Hann window and the STFT."""

from __future__ import annotations

import numpy as np

from speechlm import dsp
from speechlm.exercises import Exercise, allclose, equal, register


def _frame_count_cases(rng: np.random.Generator):
    yield (16000, 400, 160, False)
    yield (16000, 400, 160, True)
    yield (400, 400, 100, False)
    yield (1000, 512, 128, True)
    yield (1000, 401, 1, True)  # odd lengths: centring pads 2 * (401 // 2) = 400 samples, not 401
    yield (16000, 401, 100, True)
    yield (1001, 255, 7, False)
    for _ in range(6):
        length = int(rng.integers(64, 1024))
        yield (
            int(rng.integers(length, 50000)),
            length,
            int(rng.integers(1, length + 1)),
            bool(rng.random() < 0.5),
        )


def _alias_frequency(f_hz: float, sr: float) -> float:
    return float(abs(f_hz - sr * np.round(f_hz / sr)))


def _alias_cases(rng: np.random.Generator):
    yield (5000.0, 8000.0)
    yield (1000.0, 16000.0)
    yield (15000.0, 16000.0)
    yield (44100.0 + 300.0, 44100.0)
    for _ in range(6):
        sr = float(rng.choice([8000.0, 16000.0, 22050.0]))
        yield (float(rng.uniform(0, 3 * sr)), sr)


def _hann_cases(rng: np.random.Generator):
    yield (8,)
    yield (7,)  # odd lengths: the periodic window is not symmetric about its middle sample
    yield (1,)
    yield (400,)
    yield (401,)
    yield (int(rng.integers(2, 2048)),)


def _stft_magnitude(x: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    return np.abs(dsp.stft(x, n_fft=frame_length, hop_length=hop_length, center=False))


def _stft_cases(rng: np.random.Generator):
    t = np.arange(2000) / 16000
    yield (np.sin(2 * np.pi * 1000 * t), 400, 160)
    yield (np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(2000), 401, 160)  # an odd length
    yield (rng.standard_normal(64), 7, 3)
    yield (rng.standard_normal(300), 300, 1)  # exactly one frame
    yield (rng.standard_normal(1000), 255, 100)


register(
    Exercise(
        id="01.frame_count",
        prompt="""
Write `frame_count(n_samples, frame_length, hop_length, center)` that returns
how many frames `speechlm.dsp.frame` makes (an int). Without centring, frame t
covers samples t*hop_length ... t*hop_length + frame_length - 1 and must fit in
the signal. With center=True the signal is first padded with frame_length // 2
samples on each side (for an odd frame_length that is frame_length - 1 samples
in all). Assume n_samples >= frame_length.
""",
        prompt_zh="""
编写 `frame_count(n_samples, frame_length, hop_length, center)`，返回
`speechlm.dsp.frame` 分出的帧数（一个 int）。不居中时，第 t 帧覆盖样本
t*hop_length ... t*hop_length + frame_length - 1，并且必须完整落在信号之内。
center=True 时，先在信号两端各填充 frame_length // 2 个样本（frame_length 为奇数时，
两端合计填充 frame_length - 1 个样本）。假定 n_samples >= frame_length。
""",
        reference=lambda n, length, hop, center: dsp.n_frames(n, length, hop, center=center),
        cases=_frame_count_cases,
        hints=(
            "Count the possible start positions of a frame: the first starts at sample 0, each next one "
            "hop_length later, and the last must still end inside the signal.",
            "The starts are 0, hop_length, 2 hop_length, ... up to n_samples - frame_length: how many "
            "multiples of hop_length lie in that range, zero included? Integer division answers it.",
            "With centring the signal grows by twice frame_length // 2 samples before counting; for an odd "
            "frame_length that is one sample less than frame_length.",
        ),
        hints_zh=(
            "数一数一帧可能的起始位置：第一帧从样本 0 开始，之后每一帧比前一帧晚 hop_length 个样本，"
            "而最后一帧仍须在信号之内结束。",
            "起点依次是 0、hop_length、2 hop_length……直到 n_samples - frame_length：这个范围内"
            "（含零）有多少个 hop_length 的整数倍？整数除法可以回答这个问题。",
            "居中时，信号在计数之前先加长两倍的 frame_length // 2 个样本；frame_length 为奇数时，"
            "这比 frame_length 少一个样本。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="01.alias",
        prompt="""
Write `alias_frequency(f_hz, sr)`: the frequency in [0, sr / 2] at which a
sinusoid of frequency f_hz appears after sampling at sr Hz (without an
anti-aliasing filter). Sampling cannot tell f from f - k * sr for any integer k,
nor f from -f, so the answer is the distance from f to the nearest multiple of sr.
""",
        prompt_zh="""
编写 `alias_frequency(f_hz, sr)`：频率为 f_hz 的正弦以 sr Hz 采样（不加抗混叠滤波器）
之后，在 [0, sr / 2] 中呈现出的频率。对任意整数 k，采样都无法区分 f 与 f - k * sr，
也无法区分 f 与 -f，所以答案就是 f 到离它最近的 sr 整数倍的距离。
""",
        reference=_alias_frequency,
        cases=_alias_cases,
        hints=(
            "Shifting f_hz by a whole number of sample rates does not change the samples: shift it as close "
            "to zero as you can.",
            "Find the integer multiple of sr nearest to f_hz (the nearest integer to f_hz / sr, times sr); "
            "the alias is the distance from f_hz to it, never negative, so it lies in [0, sr / 2].",
        ),
        hints_zh=(
            "把 f_hz 平移整数个采样率不会改变采样值：尽可能把它平移到靠近零的地方。",
            "找出离 f_hz 最近的 sr 的整数倍（与 f_hz / sr 最接近的整数乘以 sr）；混叠频率就是 "
            "f_hz 到它的距离，永不为负，因此落在 [0, sr / 2] 之中。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-6),
    )
)

register(
    Exercise(
        id="01.hann",
        prompt="""
Write `hann(length)`: the periodic Hann window w[n] = 0.5 - 0.5 cos(2 pi n / length)
for n = 0 .. length - 1, as a NumPy array. (Periodic, or "DFT-even": its
period is `length`, so it tiles perfectly with 50% overlap; it is what
`scipy.signal.get_window("hann", length)` and librosa use.) Odd lengths too.
""",
        prompt_zh="""
编写 `hann(length)`：周期汉宁窗 w[n] = 0.5 - 0.5 cos(2 pi n / length)，
n = 0 .. length - 1，以 NumPy 数组返回。（周期窗又称 "DFT-even" 窗：它的周期是
`length`，所以按 50% 重叠拼接时恰好首尾衔接；`scipy.signal.get_window("hann", length)`
和 librosa 用的就是它。）length 为奇数时也要正确。
""",
        reference=lambda length: np.array(dsp.get_window("hann", length)),
        cases=_hann_cases,
        hints=(
            "Make the vector of indices n = 0 ... length - 1 and apply the formula to all of them at once.",
            "The denominator is length, not length - 1: that is what makes the window periodic. NumPy's "
            "hanning is the symmetric window and differs at every length, odd or even.",
        ),
        hints_zh=(
            "构造下标向量 n = 0 ... length - 1，一次性对所有下标套用公式。",
            "分母是 length，而不是 length - 1：正是这一点让窗成为周期窗。NumPy 的 hanning 是"
            "对称窗，无论长度是奇是偶，它都与周期窗不同。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="01.stft",
        prompt="""
The STFT of section 6 in three steps. Write `stft_magnitude(x, frame_length, hop_length)`
for a 1-D signal x: cut it into frames without centring (frame t is x[t*hop_length :
t*hop_length + frame_length], as many as fit, see 01.frame_count), multiply each frame by
the periodic Hann window of 01.hann, take the real DFT of each windowed frame, and return
the magnitudes, an array (n_frames, frame_length // 2 + 1). frame_length may be odd.
Compare with `speechlm.dsp.stft(x, n_fft=frame_length, hop_length=hop_length, center=False)`.
""",
        prompt_zh="""
分三步实现第 6 节的 STFT。编写 `stft_magnitude(x, frame_length, hop_length)`，输入是
一维信号 x：先不居中地把它切成帧（第 t 帧是 x[t*hop_length : t*hop_length + frame_length]，
能放下多少帧就取多少帧，见 01.frame_count），再把每一帧乘以 01.hann 的周期汉宁窗，
然后对每个加窗帧做实数 DFT，返回幅度，即一个 (n_frames, frame_length // 2 + 1) 数组。
frame_length 可以是奇数。
可与 `speechlm.dsp.stft(x, n_fft=frame_length, hop_length=hop_length, center=False)` 对照。
""",
        reference=_stft_magnitude,
        cases=_stft_cases,
        hints=(
            "Get the frames right first: an array (n_frames, frame_length) whose row t starts at sample "
            "t hop_length. Then window, then transform, row by row or all rows at once.",
            "Windowing is an element-wise product of every frame with the same window. The real DFT of N "
            "samples (NumPy's rfft, along the last axis) has N // 2 + 1 bins for odd N too, and the "
            "magnitude of a complex bin is its absolute value.",
        ),
        hints_zh=(
            "先把帧分对：一个 (n_frames, frame_length) 数组，第 t 行从样本 t hop_length 处开始。"
            "然后加窗，再做变换，可以逐行处理，也可以一次处理所有行。",
            "加窗就是每一帧与同一个窗逐元素相乘。N 个样本的实数 DFT（NumPy 的 rfft，沿最后一个轴）"
            "有 N // 2 + 1 个频点，N 为奇数时也是如此；复数频点的幅度就是它的绝对值。",
        ),
        compare=allclose(rtol=1e-7, atol=1e-9),
    )
)
