"""Speech signal processing in NumPy: part I of the course (notebooks 01-03).

- framing, windows, pre-emphasis, STFT, a source-filter vowel synthesiser
  (:mod:`speechlm.dsp.framing`, :mod:`speechlm.dsp.synth`, notebook 01)
- linear prediction and the LPC vocoder (:mod:`speechlm.dsp.lpc`,
  :mod:`speechlm.dsp.pitch`, notebook 02)
- mel scale, filterbanks, DCT, liftering, deltas, MFCC with librosa's and
  Kaldi's conventions, DTW (:mod:`speechlm.dsp.mel`, :mod:`speechlm.dsp.mfcc`,
  :mod:`speechlm.dsp.kaldi`, :mod:`speechlm.dsp.dtw`, notebook 03)

Signals are ``(..., time)`` float arrays; features come out time-major,
``(..., n_frames, n_features)``.
"""

from speechlm.dsp.dtw import cost_matrix, dtw, dtw_distances
from speechlm.dsp.framing import (
    WINDOWS,
    block_frames,
    frame,
    get_window,
    n_frames,
    power_spectrogram,
    preemphasis,
    stft,
)
from speechlm.dsp.kaldi import fbank_kaldi, kaldi_frames, kaldi_mel_filterbank, mfcc_kaldi
from speechlm.dsp.lpc import (
    autocorrelation,
    formants,
    levinson_durbin,
    lpc,
    lpc_envelope,
    lpc_frames,
    lpc_residual,
    lpc_synthesize,
)
from speechlm.dsp.mel import (
    dct,
    dct_matrix,
    deltas,
    fft_frequencies,
    hz_to_mel,
    lifter,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
)
from speechlm.dsp.mfcc import log_mel_spectrogram, melspectrogram, mfcc, power_to_db
from speechlm.dsp.pitch import estimate_f0, excitation
from speechlm.dsp.synth import resonator_filter, synthetic_vowel

__all__ = [
    "WINDOWS",
    "autocorrelation",
    "block_frames",
    "cost_matrix",
    "dct",
    "dct_matrix",
    "deltas",
    "dtw",
    "dtw_distances",
    "estimate_f0",
    "excitation",
    "fbank_kaldi",
    "fft_frequencies",
    "formants",
    "frame",
    "get_window",
    "hz_to_mel",
    "kaldi_frames",
    "kaldi_mel_filterbank",
    "levinson_durbin",
    "lifter",
    "log_mel_spectrogram",
    "lpc",
    "lpc_envelope",
    "lpc_frames",
    "lpc_residual",
    "lpc_synthesize",
    "mel_filterbank",
    "mel_frequencies",
    "mel_to_hz",
    "melspectrogram",
    "mfcc",
    "mfcc_kaldi",
    "n_frames",
    "power_spectrogram",
    "power_to_db",
    "preemphasis",
    "resonator_filter",
    "stft",
    "synthetic_vowel",
]
