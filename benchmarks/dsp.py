"""Benchmark: speechlm.dsp vs librosa and torchaudio on a batch of corpus utterances.

Prints a Markdown table, measured side by side in one run on the same
utterances (embedded corpus, train split): for each feature, the time of
speechlm's implementation and of the reference library over the whole batch
(one call per utterance, best of ``--repeat`` runs, the two alternating so
that a busy machine slows both alike), their ratio and the largest
difference relative to the reference's largest value. Everything runs on one
thread (BLAS via threadpoolctl, torch via ``set_num_threads``): on a shared
2-core machine a multi-threaded BLAS can be many times slower than a
single-threaded one, which would measure the machine's load, not the code.

- ``dsp.mfcc`` vs ``librosa.feature.mfcc`` (librosa's defaults, and a 16 kHz
  speech configuration), and vs ``torchaudio.transforms.MFCC`` set up with
  librosa's conventions (Slaney mel, constant padding, 80 dB floor);
- ``dsp.mfcc_kaldi`` vs ``torchaudio.compliance.kaldi.mfcc`` (int16 scale);
- ``dsp.lpc`` on all 25 ms frames at once vs ``librosa.lpc`` (Burg's method,
  a different estimator: the error column is the median log-envelope
  difference on voiced frames, in dB) and vs an exact Toeplitz solve.

Run: ``python benchmarks/dsp.py`` (about a minute on a 2-core CPU, plus the
first synthesis of the corpus).
"""

from __future__ import annotations

import argparse
import platform
import time

import librosa
import numpy as np
import scipy.linalg
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi
from threadpoolctl import threadpool_limits

from speechlm import corpus, dsp

SR = 16000


def _time_pair(ours, ref, repeat: int) -> tuple[float, float, object, object]:
    """Best-of-``repeat`` times of ``ours()`` and ``ref()``, alternating, and their outputs."""
    out_ours, out_ref = ours(), ref()  # warm up (and keep the outputs for the error column)
    times = {ours: [], ref: []}
    for _ in range(repeat):
        for fn in (ours, ref):
            start = time.perf_counter()
            fn()
            times[fn].append(time.perf_counter() - start)
    return min(times[ours]), min(times[ref]), out_ours, out_ref


def _max_rel_error(ours: list[np.ndarray], refs: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(o - r)) / np.max(np.abs(r))) for o, r in zip(ours, refs, strict=True))


def mfcc_rows(audio: list[np.ndarray], repeat: int) -> list[str]:
    rows = []
    configs = {
        "librosa defaults (n_fft 2048, hop 512, 128 mels, 20 coeffs)": {},
        "speech (n_fft 512, hop 160, 40 mels, 13 coeffs)": dict(
            n_fft=512, hop_length=160, n_mels=40, n_mfcc=13
        ),
    }
    for name, kwargs in configs.items():
        t_ours, t_ref, ours, ref = _time_pair(
            lambda kw=kwargs: [dsp.mfcc(y, SR, **kw) for y in audio],
            lambda kw=kwargs: [librosa.feature.mfcc(y=y, sr=SR, **kw) for y in audio],
            repeat,
        )
        err = _max_rel_error(ours, [r.T for r in ref])
        rows.append(_row(f"`dsp.mfcc` vs `librosa.feature.mfcc`, {name}", t_ours, t_ref, err))

    speech = dict(n_fft=512, hop_length=160, n_mels=40, n_mfcc=13)
    transform = torchaudio.transforms.MFCC(
        sample_rate=SR,
        n_mfcc=13,
        log_mels=False,
        melkwargs=dict(
            n_fft=512,
            hop_length=160,
            n_mels=40,
            center=True,
            pad_mode="constant",
            norm="slaney",
            mel_scale="slaney",
        ),
    )
    tensors = [torch.from_numpy(y) for y in audio]
    with torch.inference_mode():
        t_ours, t_ref, ours, ref = _time_pair(
            lambda: [dsp.mfcc(y, SR, **speech) for y in audio],
            lambda: [transform(t).numpy() for t in tensors],
            repeat,
        )
    rows.append(_row("`dsp.mfcc` vs `torchaudio.transforms.MFCC` (librosa conventions, speech config)",
                     t_ours, t_ref, _max_rel_error(ours, [r.T for r in ref])))  # fmt: skip

    scaled = [32768.0 * y for y in audio]
    scaled_t = [torch.from_numpy(y)[None] for y in scaled]
    with torch.inference_mode():
        t_ours, t_ref, ours, ref = _time_pair(
            lambda: [dsp.mfcc_kaldi(y, SR) for y in scaled],
            lambda: [kaldi.mfcc(t, dither=0.0).numpy() for t in scaled_t],
            repeat,
        )
    rows.append(_row("`dsp.mfcc_kaldi` vs `torchaudio.compliance.kaldi.mfcc` (Kaldi defaults)",
                     t_ours, t_ref, _max_rel_error(ours, ref)))  # fmt: skip
    return rows


def lpc_rows(audio: list[np.ndarray], repeat: int, order: int = 16) -> list[str]:
    frames = np.concatenate([dsp.frame(dsp.preemphasis(y), 400, 160) for y in audio]) * np.hamming(400)
    energy = np.sum(frames**2, axis=1)
    frames = frames[energy > 1e-4 * energy.max()]  # drop digital silence, where Burg divides by zero
    t_ours, t_ref, ours, ref = _time_pair(
        lambda: dsp.lpc(frames, order), lambda: librosa.lpc(frames, order=order, axis=-1), repeat
    )
    env_ours = 10 * np.log10(dsp.lpc_envelope(ours))
    env_ref = 10 * np.log10(dsp.lpc_envelope(ref))
    diff = (env_ours - env_ours.max(1, keepdims=True)) - (env_ref - env_ref.max(1, keepdims=True))
    voiced = energy[energy > 1e-4 * energy.max()] > 1e-2 * energy.max()
    burg_db = float(np.median(np.abs(diff[voiced])))
    sample = np.linspace(0, len(frames) - 1, 200).astype(int)
    r = dsp.autocorrelation(frames[sample], order)
    exact = np.stack([scipy.linalg.solve_toeplitz(ri[:order], -ri[1:]) for ri in r])
    toeplitz_err = float(np.max(np.abs(ours[sample, 1:] - exact) / np.abs(exact).max(axis=1, keepdims=True)))
    n = len(frames)
    return [
        _row(f"`dsp.lpc` vs `librosa.lpc` (Burg), {n} frames, order {order}", t_ours, t_ref,
             burg_db, unit=" dB median envelope"),
        f"| `dsp.lpc` vs `scipy.linalg.solve_toeplitz` (200 frames) | | | | {toeplitz_err:.1e} relative |",
    ]  # fmt: skip


def _row(name: str, t_ours: float, t_ref: float, err: float, unit: str = " of max") -> str:
    return f"| {name} | {t_ours * 1e3:.0f} | {t_ref * 1e3:.0f} | {t_ours / t_ref:.2f} | {err:.1e}{unit} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="number of corpus utterances (default 200)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement; the best is kept")
    args = parser.parse_args()
    utterances = corpus.load("embedded", split="train", size=args.size, seed=0, progress=False)
    audio = [u.audio for u in utterances]
    seconds = sum(len(y) for y in audio) / SR
    print(
        f"{len(audio)} utterances, {seconds:.0f} s of speech | {platform.processor() or platform.machine()}"
        f" | numpy {np.__version__} | librosa {librosa.__version__} | torch {torch.__version__}"
        f" | torchaudio {torchaudio.__version__} | one thread\n"
    )
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        rows = mfcc_rows(audio, args.repeat) + lpc_rows(audio, args.repeat)
    print("| comparison | speechlm (ms) | reference (ms) | time ratio speechlm / reference | max error |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
