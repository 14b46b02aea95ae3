"""Issue 18: hints are graded and never the code, nothing is given away before an attempt, and every
checker fails the typical subtly wrong answers its statement rules out (overflowing softmaxes, top-k
that drops ties, framing that is wrong for odd lengths, ...) with a ``[fail]`` line and feedback."""

import inspect
import itertools
import re

import numpy as np
import pytest
import scipy.fft
import scipy.signal
import torch

from speechlm import dsp, exercises
from speechlm.exercises import Exercise


@pytest.fixture(autouse=True)
def fresh_hints(monkeypatch):
    """Every test starts a session in which no hint has been shown."""
    monkeypatch.setattr(exercises, "_HINTS_SHOWN", {})


def _raises_not_implemented(*args):
    raise NotImplementedError  # your code here


def _returns_none(*args):
    pass


def _returns_ellipsis(*args):
    return ...


STUBS = {
    "raises NotImplementedError": _raises_not_implemented,
    "returns None": _returns_none,
    "returns ...": _returns_ellipsis,
}


def _source_lines(function) -> list[str]:
    """The reference's code lines (stripped), those long enough to give something away."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return []
    lines = [line.strip() for line in source.splitlines()]
    return [line for line in lines if len(line) >= 12 and not line.startswith(("#", '"', "def ", "@"))]


@pytest.mark.parametrize("stub", list(STUBS), ids=list(STUBS))
def test_no_exercise_prints_a_hint_or_its_solution_before_an_attempt(stub, capsys):
    problems = []
    for exercise_id in exercises.list_exercises():
        ex = exercises.get(exercise_id)
        result = exercises.check(exercise_id, STUBS[stub])
        out = capsys.readouterr().out
        if result or not out.startswith(f"[fail] {exercise_id}: not yet: "):
            problems.append(f"{exercise_id}: not a 'not yet' line: {out!r}")
        if out.count("\n") != 1:
            problems.append(f"{exercise_id}: more than one line before an attempt: {out!r}")
        shown = [h for h in ex.hints if h in out] + [
            line for line in _source_lines(ex.reference) if line in out
        ]
        if "Hint" in out or shown:
            problems.append(f"{exercise_id}: gives away {shown or 'a hint'} before an attempt: {out!r}")
        if exercises._HINTS_SHOWN:
            problems.append(f"{exercise_id}: counted a hint as shown: {exercises._HINTS_SHOWN}")
    assert not problems, "\n".join(problems)


# What a hint may not contain: it is prose and maths, never Python that solves the exercise.
CODE_IN_A_HINT = {
    "a call of a module's or an object's function": r"\b[A-Za-z_]\w*(?:\.\w+)+\s*\(",
    "a call of a Python built-in": r"\b(?:abs|round|range|len|sum|min|max|sorted|zip|enumerate|list|dict|int|"
    r"float|str|print|isinstance|map|any|all)\(",
    "a Python statement": r"\b(?:lambda|yield|elif)\b|\bdef \w+\(|\bimport \w|\breturn\s+\S*[\[\](=+*/@]",
    "a loop or a comprehension": r"\bfor \w+(?:, \w+)* in \w",
    "a slice": r"\[[^\]\n]*:[^\]\n]*\]",
    "a Python operator with no maths meaning": r"\*\*|\s@\s|==|!=|\+=|-=|\*=|/=",
    "an f-string or a keyword argument": r"\bf[\"']|\b(?:axis|keepdims|dtype|side|kind)=",
    "a repeated list": r"\[[^\]\n]*\]\s*\*",
}


def test_no_hint_is_code():
    """Hints are prose and maths: no call of a library or built-in function, no keyword, loop, slice or
    Python-only operator, and no line of the reference solution."""
    problems = []
    for exercise_id in exercises.list_exercises():
        ex = exercises.get(exercise_id)
        assert len(ex.hints) >= 2 and len(set(ex.hints)) == len(ex.hints), exercise_id
        for number, text in enumerate(ex.hints, start=1):
            for what, pattern in CODE_IN_A_HINT.items():
                match = re.search(pattern, text)
                if match:
                    problems.append(f"{exercise_id} hint {number}: {what}, {match.group(0)!r}: {text!r}")
            problems += [
                f"{exercise_id} hint {number}: the reference's line {line!r}"
                for line in _source_lines(ex.reference)
                if line in text
            ]
    assert not problems, "\n".join(problems)


def test_the_rule_catches_the_hints_the_issue_quotes():
    quoted = ["abs(f_hz - sr * round(f_hz / sr)).", "np.exp(-np.mean(log_probs)).", "[0] * (len_a + 2)"]
    for text in quoted:
        assert any(re.search(pattern, text) for pattern in CODE_IN_A_HINT.values()), text


def test_hints_come_on_request_one_per_call_then_the_solution(capsys):
    ex = exercises.get("01.alias")
    for number, text in enumerate(ex.hints, start=1):
        exercises.hint("01.alias")
        out = capsys.readouterr().out
        assert out.startswith(f"Hint {number} of {len(ex.hints)} for 01.alias: {text}")
        assert all(other not in out for other in ex.hints if other != text)
    exercises.hint("01.alias")
    out = capsys.readouterr().out
    assert "Hint" not in out.split("(")[0] and "solutions/01_*.ipynb" in out
    exercises.hint("01.hann")  # counted per exercise
    assert capsys.readouterr().out.startswith("Hint 1 of ")


def test_a_failed_attempt_shows_the_input_the_expected_value_and_only_the_first_hint(capsys):
    ex = exercises.get("01.frame_count")
    assert len(ex.hints) == 3
    assert not exercises.check("01.frame_count", lambda n, length, hop, center: 0)
    out = capsys.readouterr().out
    first, *more = ex.hints
    assert out.startswith("[fail] 01.frame_count: case 1/") and "failed for the input (the int 16000" in out
    assert "expected 98, got the int 0" in out
    assert f"Hint 1 of 3: {first}" in out and not any(h in out for h in more)
    assert 'exercises.hint("01.frame_count") shows hint 2 of 3' in out
    exercises.hint("01.frame_count")
    assert capsys.readouterr().out.startswith(f"Hint 2 of 3 for 01.frame_count: {more[0]}")
    exercises.check("01.frame_count", lambda n, length, hop, center: 0)  # hint 1 again; hint() goes on
    assert 'exercises.hint("01.frame_count") shows hint 3 of 3' in capsys.readouterr().out


def test_a_learner_error_is_an_attempt_and_shows_the_input(capsys):
    assert not exercises.check("00.db", lambda power: power.nonexistent)
    out = capsys.readouterr().out
    assert "raised AttributeError" in out and "for the input (an array (3,)" in out and "Hint 1 of" in out


def test_hints_must_be_a_sequence_of_at_least_two():
    def make(hints):
        return Exercise("99.x", "Return x.", lambda x: x, lambda rng: [(1,)], hints)

    with pytest.raises(ValueError, match="at least two"):
        make("Return x.")
    with pytest.raises(ValueError, match="at least two"):
        make(("Return x.",))
    with pytest.raises(ValueError, match="non-empty"):
        make(("Return x.", " "))
    assert make(["A nudge.", "The idea."]).hints == ("A nudge.", "The idea.")


# The central idea of each notebook (read from its markdown) and the exercise on it.
CENTRAL = {
    "00": "00.word_at",  # reading the corpus's alignments
    "01": "01.stft",  # frames, windows and the STFT
    "02": "02.step_up",  # Levinson-Durbin's order recursion (the loop itself is in the notebook)
    "03": "03.mfcc",  # filterbank, log, DCT
    "04": "04.tanh_mlp_grad",  # backpropagation by the chain rule
    "05": "05.gru_step",  # the recurrent classifier (and 05.masked_mean: padding and masks)
    "06": "06.attention",  # scaled dot-product attention
    "07": "07.pre_ln_block",  # the pre-LN encoder block
    "08": "08.corrupt",  # BERT's 80/10/10 masking
    "09": "09.next_token_loss",  # the causal LM loss
    "10": "10.assign_units",  # k-means units (and 10.pnmi: measuring them)
    "11": "11.masked_loss",  # HuBERT's masked-only loss
    "12": "12.ctc_loss",  # the CTC forward recursion
    "13": "13.bigram_perplexity",  # a unit LM against its baseline (and 13.joint_sequence)
    "14": "14.layer_mix",  # the pooled head over the encoder's layers
    "15": "15.cer_buckets",  # how ASR errors propagate through a cascade (and 15.attentive_pool)
    "16": "16.beam_step",  # decoding an encoder-decoder
    "17": "17.own_phone_attention",  # interpretability (and 17.remove: privacy, 17.block_macs: cost)
    "18": "18.rank_losses",  # data-parallel training that retraces one process
}


def test_every_notebook_has_an_exercise_on_its_central_idea():
    assert set(CENTRAL) == {f"{n:02d}" for n in range(19)}
    for number, exercise_id in CENTRAL.items():
        assert exercise_id in exercises.list_exercises(number), exercise_id


def test_the_duplicates_are_gone():
    ids = exercises.list_exercises()
    assert not {"14.noise_gain", "17.mix", "18.block_params"} & set(ids)
    assert {"00.snr", "07.block_parameters"} <= set(ids)


# Subtly wrong answers: what a learner who misses what the statement demands would write.
def _quiet(fn):
    """Run ``fn`` with NumPy's overflow and invalid-value warnings off (the naive answers overflow)."""

    def run(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    return run


def _naive_softmax(z, axis=-1):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _naive_log_softmax(z, axis=-1):
    return np.log(_naive_softmax(z, axis))


def _layer_norm(x, eps=1e-5):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)


def _step_up_in_place(k):
    """The step-up recursion whose update overwrites a_i before a_{m-i} has used it."""
    a = np.zeros(len(k) + 1)
    a[0] = 1.0
    for m in range(1, len(k) + 1):
        for i in range(1, m):
            a[i] = a[i] + k[m - 1] * a[m - i]
        a[m] = k[m - 1]
    return a


def _step_up_right(k):
    return exercises.get("02.step_up").reference(k)


def _ctc(log_probs, labels, *, log_space=True, skip_equal=False):
    ext = [0]
    for label in labels:
        ext += [label, 0]
    emit = log_probs[:, ext] if log_space else np.exp(log_probs[:, ext])
    zero = -np.inf if log_space else 0.0
    add = np.logaddexp if log_space else np.add
    alpha = np.full(len(ext), zero)
    alpha[:2] = emit[0, :2]
    for t in range(1, len(log_probs)):
        new = alpha.copy()
        new[1:] = add(new[1:], alpha[:-1])
        for s in range(2, len(ext)):
            if ext[s] != 0 and (skip_equal or ext[s] != ext[s - 2]):
                new[s] = add(new[s], alpha[s - 2])
        alpha = new + emit[t] if log_space else new * emit[t]
    end = add(alpha[-1], alpha[-2])
    return float(-end if log_space else -np.log(end))


def _top_k_exactly_k(logits, k):
    out = np.full_like(logits, -np.inf)
    keep = np.argsort(logits)[-k:]
    out[keep] = logits[keep]
    return out


def _contingency(phones, unit_ids):
    _, y = np.unique(phones, return_inverse=True)
    _, z = np.unique(unit_ids, return_inverse=True)
    table = np.zeros((y.max() + 1, z.max() + 1))
    np.add.at(table, (y, z), 1)
    return table / table.sum()


def _pnmi_over_h_units(phones, unit_ids):
    p = _contingency(phones, unit_ids)
    py, pz = p.sum(1), p.sum(0)
    nz = p > 0
    mutual = np.sum(p[nz] * np.log(p[nz] / np.outer(py, pz)[nz]))
    return mutual / -np.sum(pz * np.log(pz))


def _bigram_all_tokens_as_contexts(train, test, vocab_size, k):
    pairs, tokens = {}, np.zeros(vocab_size)
    for s in train:
        for u, w in itertools.pairwise(s):
            pairs[u, w] = pairs.get((u, w), 0) + 1
        np.add.at(tokens, s, 1)
    logs = [
        np.log((pairs.get((u, w), 0) + k) / (tokens[u] + k * vocab_size))
        for s in test
        for u, w in itertools.pairwise(s)
    ]
    return float(np.exp(-np.mean(logs)))


def _beam_best_token_per_row(scores, log_probs, width):
    best = log_probs.argmax(1)
    order = np.argsort(-(scores + log_probs.max(1)), kind="stable")[:width]
    return [(int(row), int(best[row])) for row in order]


def _ngram_unclipped(hypothesis, reference, n):
    hyp, ref = hypothesis.replace(" ", ""), reference.replace(" ", "")
    grams = [hyp[i : i + n] for i in range(len(hyp) - n + 1)]
    ref_grams = {ref[i : i + n] for i in range(len(ref) - n + 1)}
    return sum(g in ref_grams for g in grams) / len(grams) if grams else 0.0


def _remove_without_orthonormalising(x, directions):
    out = x.astype(np.float64)
    for d in directions.T:
        out = out - np.outer(out @ d, d) / (d @ d)
    return out


def _gru(x, h, w_ih, w_hh, b_ih, b_hh, *, reset_after_bias=False, swap_update=False):
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T
    size = h.shape[1]
    r = sigmoid(gi[:, :size] + gh[:, :size] + b_hh[:size])
    z = sigmoid(gi[:, size : 2 * size] + gh[:, size : 2 * size] + b_hh[size : 2 * size])
    hidden = (
        r * gh[:, 2 * size :] + b_hh[2 * size :]
        if reset_after_bias
        else r * (gh[:, 2 * size :] + b_hh[2 * size :])
    )
    n = np.tanh(gi[:, 2 * size :] + hidden)
    return z * n + (1 - z) * h if swap_update else (1 - z) * n + z * h


def _unique_runs(segments):
    return len(np.unique(segments))


def _own_share(weights, segments):
    same = segments[:, None] == segments[None, :]
    return (weights * same).sum(-1).mean(-1)


def _mean_field_accuracy(predictions, references):
    fields = ("intent", "action", "device", "room")
    return float(
        np.mean([[p[f] == r[f] for f in fields] for p, r in zip(predictions, references, strict=True)])
    )


def _rank_batches_contiguous(permutation, global_batch, world_size, rank):
    per_rank = global_batch // world_size
    return [
        permutation[start + rank * per_rank : start + (rank + 1) * per_rank]
        for start in range(0, len(permutation) // global_batch * global_batch, global_batch)
    ]


def _hop_and_field_hop_first(layers):
    hop, field = 1, 1
    for kernel, stride in layers:
        hop *= stride
        field += (kernel - 1) * hop
    return hop, field


def _receptive_field_without_jumps(kernel_sizes, strides, dilations):
    return 1 + sum((k - 1) * d for k, d in zip(kernel_sizes, dilations, strict=True))


def _deltas_zero_padded(x):
    p = np.pad(x, ((2, 2), (0, 0)))
    return (p[3:-1] - p[1:-3] + 2 * (p[4:] - p[:-4])) / 10


def _softmax_jacobian_naive(z):
    p = _naive_softmax(z)
    return np.diag(p) - np.outer(p, p)


def _positional_encoding_halves(max_len, d_model):
    angle = np.arange(max_len)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)


def _block(x, weights, w_value, w1, w2, *, post_ln=False, residual=True):
    if post_ln:
        h = _layer_norm(x + weights @ x @ w_value)
        return _layer_norm(h + np.maximum(h @ w1, 0) @ w2)
    h = weights @ _layer_norm(x) @ w_value + (x if residual else 0)
    return np.maximum(_layer_norm(h) @ w1, 0) @ w2 + (h if residual else 0)


def _collapse_dropping_blanks_first(path):
    labels = [c for c in path if c != 0]
    return [c for i, c in enumerate(labels) if i == 0 or c != labels[i - 1]]


SUBTLE = {
    "00.db": {
        "20 log10, for amplitudes": lambda p: 20 * np.log10(np.maximum(p, 1e-10)),
        "no floor": _quiet(lambda p: 10 * np.log10(p)),
    },
    "00.snr": {
        "the noisy energy for the noise's": lambda c, n: float(10 * np.log10(np.sum(c**2) / np.sum(n**2)))
    },
    "00.word_at": {"end included": lambda words, t: next((w for w, s, e in words if s <= t <= e), "sil")},
    "00.phone_durations": {
        "totals, not means": lambda phones: {
            p: sum(e - s for q, s, e in phones if q == p) for p, _, _ in phones
        }
    },
    "01.frame_count": {
        "centring pads frame_length, wrong for odd lengths": lambda n, length, hop, c: (
            1 + (n + (length if c else 0) - length) // hop
        )
    },
    "01.alias": {"f mod sr, not folded": lambda f, sr: f % sr},
    "01.hann": {"the symmetric window": lambda length: np.hanning(length)},
    "01.stft": {
        "the symmetric window": lambda x, length, hop: np.abs(
            np.fft.rfft(dsp.frame(x, length, hop) * np.hanning(length), axis=-1)
        ),
        "centred frames": lambda x, length, hop: np.abs(dsp.stft(x, n_fft=length, hop_length=hop)),
        "even-length bins, wrong for odd lengths": lambda x, length, hop: np.abs(
            np.fft.rfft(
                dsp.frame(x, length, hop) * dsp.get_window("hann", length), n=length // 2 * 2, axis=-1
            )
        ),
    },
    "02.autocorrelation": {
        "circular": lambda x, lag: np.array([np.dot(x, np.roll(x, -k)) for k in range(lag + 1)]),
        "divided by N": lambda x, lag: dsp.autocorrelation(x, lag) / len(x),
    },
    "02.step_up": {
        "the predictor's sign convention": lambda k: np.concatenate([[1.0], -_step_up_right(k)[1:]]),
        "Rabiner and Schafer's k": lambda k: _step_up_right(-np.asarray(k)),
        "an update in place": _step_up_in_place,
        "k taken last to first": lambda k: _step_up_right(np.asarray(k)[::-1]),
    },
    "02.prediction_gain": {
        "20 log10": lambda x, order: float(
            20
            * np.log10(
                dsp.autocorrelation(x, order)[0]
                / dsp.levinson_durbin(dsp.autocorrelation(x, order), order)[2]
            )
        )
    },
    "03.mel_htk": {"the natural log": lambda f: 2595 * np.log(1 + np.asarray(f) / 700)},
    "03.mfcc": {
        "log before the filterbank": lambda p, fb, n: dsp.dct(np.log(np.maximum(p, 1e-10)) @ fb.T, n_out=n),
        "log10": lambda p, fb, n: dsp.dct(np.log10(np.maximum(p @ fb.T, 1e-10)), n_out=n),
        "the DCT without its orthonormal scale": lambda p, fb, n: scipy.fft.dct(
            np.log(np.maximum(p @ fb.T, 1e-10)), type=2, axis=-1
        )[..., :n],
    },
    "03.lifter": {
        "n counted from 1": lambda c, L: c * (1 + L / 2 * np.sin(np.pi * np.arange(1, c.shape[-1] + 1) / L))
    },
    "03.deltas": {"zero padding": _deltas_zero_padded},
    "03.dtw": {"squared distances": lambda x, y: _dtw(((x[:, None] - y[None]) ** 2).sum(-1))},
    "04.softmax_jacobian": {
        "a softmax that overflows": _quiet(_softmax_jacobian_naive),
        "the sign flipped": lambda z: -exercises.get("04.softmax_jacobian").reference(z),
    },
    "04.cross_entropy_grad": {
        "a softmax that overflows": _quiet(lambda z, t: (_naive_softmax(z) - np.eye(z.shape[1])[t]) / len(t)),
        "not divided by the batch": lambda z, t: (
            exercises.get("04.cross_entropy_grad").reference(z, t) * len(t)
        ),
    },
    "04.tanh_mlp_grad": {
        "tanh' forgotten": lambda x, w1, w2: x.T @ (np.ones((x.shape[0], w2.shape[1])) @ w2.T)
    },
    "04.central_difference": {
        "a forward difference": lambda x, eps: np.array(
            [
                (np.sum(np.sin(x + eps * e) * (x + eps * e) ** 2) - np.sum(np.sin(x) * x**2)) / eps
                for e in np.eye(x.size).reshape(x.size, *x.shape)
            ]
        ).reshape(x.shape)
    },
    "05.conv_output_length": {"dilation ignored": lambda n, k, s, p, d: (n + 2 * p - (k - 1) - 1) // s + 1},
    "05.receptive_field": {"strides ignored": _receptive_field_without_jumps},
    "05.masked_mean": {"padding averaged in": lambda x, lengths: x.mean(axis=1)},
    "05.gru_step": {
        "reset gate outside the bias": _quiet(lambda *a: _gru(*a, reset_after_bias=True)),
        "update gate the wrong way round": _quiet(lambda *a: _gru(*a, swap_update=True)),
    },
    "06.padding_causal_mask": {
        "padded queries masked too": lambda lengths, size: (
            exercises.get("06.padding_causal_mask").reference(lengths, size)
            & (np.arange(size)[None, :, None] < np.asarray(lengths)[:, None, None])
        ),
        "the upper triangle": lambda lengths, size: (
            np.triu(np.ones((size, size), dtype=bool))[None]
            & (np.arange(size)[None, None, :] < np.asarray(lengths)[:, None, None])
        ),
    },
    "06.attention": {
        "a softmax that overflows": _quiet(
            lambda q, k, v, m: (
                _naive_softmax(np.where(m, q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]), -np.inf)) @ v
            )
        ),
        "no 1 / sqrt(d)": lambda q, k, v, m: exercises.get("06.attention").reference(
            q * np.sqrt(q.shape[-1]), k, v, m
        ),
    },
    "06.split_heads": {
        "a direct reshape": lambda x, h: x.reshape(x.shape[0], h, x.shape[1], x.shape[2] // h)
    },
    "07.positional_encoding": {"sines and cosines in two halves": _positional_encoding_halves},
    "07.rms_norm": {
        "LayerNorm: the mean subtracted": lambda x, g, eps: _layer_norm(x, eps) * g,
        "eps outside the root": lambda x, g, eps: x / (np.sqrt(np.mean(x * x, -1, keepdims=True)) + eps) * g,
        "no eps": _quiet(lambda x, g, eps: x / np.sqrt(np.mean(x * x, -1, keepdims=True)) * g),
        "over the first axis": lambda x, g, eps: x / np.sqrt(np.mean(x * x, 0, keepdims=True) + eps) * g,
        "the root of the sum, not the mean": lambda x, g, eps: (
            x / np.sqrt(np.sum(x * x, -1, keepdims=True) + eps) * g
        ),
        "divided by the standard deviation": lambda x, g, eps: (
            x / np.sqrt(x.var(-1, keepdims=True) + eps) * g
        ),
    },
    "07.block_parameters": {"no biases": lambda d, f: 4 * d * d + 2 * d * f + 4 * d},
    "07.pre_ln_block": {
        "post-LN": lambda x, w, wv, w1, w2: _block(x, w, wv, w1, w2, post_ln=True),
        "no residual": lambda x, w, wv, w1, w2: _block(x, w, wv, w1, w2, residual=False),
    },
    "08.mask_count": {"truncated, not rounded": lambda n, p: int(min(n, max(1, int(p * n))))},
    "08.token_types": {"A's [SEP] in segment B": lambda a, b: [0] * (a + 1) + [1] * (b + 2)},
    "08.mlm_loss": {
        "averaged over all positions": lambda z, labels: (
            exercises.get("08.mlm_loss").reference(z, labels) * np.mean(labels != -100)
        ),
        "a softmax that overflows": _quiet(
            lambda z, labels: float(
                -_naive_log_softmax(z[labels != -100])[
                    np.arange(np.sum(labels != -100)), labels[labels != -100]
                ].mean()
            )
        ),
    },
    "08.corrupt": {
        "labels only where masked": lambda ids, c, u, r, m: (
            exercises.get("08.corrupt").reference(ids, c, u, r, m)[0],
            np.where(c & (u < 0.8), ids, -100),
        ),
        "random above 0.9 instead of below": lambda ids, c, u, r, m: exercises.get("08.corrupt").reference(
            ids, c, np.where(u >= 0.8, 1.7 - u, u), r, m
        ),
    },
    "09.causal_mask": {
        "no diagonal": lambda t: np.tril(np.ones((t, t), dtype=bool), k=-1),
        "0s and 1s": lambda t: np.tril(np.ones((t, t), dtype=int)),
    },
    "09.next_token_loss": {
        "not shifted": lambda z, ids: float(
            -(
                z[np.arange(len(ids)), ids] - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) - z.max(1)
            ).mean()
        ),
        "a softmax that overflows": _quiet(
            lambda z, ids: float(-_naive_log_softmax(z[:-1])[np.arange(len(ids) - 1), ids[1:]].mean())
        ),
    },
    "09.top_k": {"exactly k, ties dropped": _top_k_exactly_k},
    "09.perplexity": {
        "a sum, not a mean": lambda lp: float(np.exp(-np.sum(lp))),
        "base 2": lambda lp: float(2 ** (-np.mean(lp))),
    },
    "10.assign_units": {"the largest dot product": lambda x, c: (x @ c.T).argmax(1)},
    "10.dedup": {"unique values": lambda ids: np.unique(ids).tolist()},
    "10.phone_purity": {
        "cluster purity": lambda phones, units: float(_contingency(phones, units).max(1).sum())
    },
    "10.pnmi": {"normalised by H(units)": _pnmi_over_h_units},
    "11.mask_fraction": {"p times span": lambda p, span: p * span},
    "11.masked_loss": {
        "averaged over all frames": lambda z, t, m: (
            exercises.get("11.masked_loss").reference(z, t, m) * np.mean(m)
        ),
        "the loss on all frames": lambda z, t, m: exercises.get("11.masked_loss").reference(
            z, t, np.ones_like(m)
        ),
    },
    "11.cosine_logits": {
        "embeddings not normalised": lambda p, e, t: (p / np.linalg.norm(p, axis=1, keepdims=True)) @ e.T / t,
        "times the temperature": lambda p, e, t: exercises.get("11.cosine_logits").reference(p, e, t) * t * t,
    },
    "11.info_nce": {
        "a softmax that overflows": _quiet(
            lambda c, q, t: float(
                -_naive_log_softmax(
                    (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (c / np.linalg.norm(c)) / t
                )[0]
            )
        )
    },
    "12.extend": {"no final blank": lambda labels: [x for label in labels for x in (0, label)] or [0]},
    "12.collapse": {"blanks dropped before merging": _collapse_dropping_blanks_first},
    "12.ctc_loss": {
        "in probability space: underflows": _quiet(lambda lp, labels: _ctc(lp, labels, log_space=False)),
        "skips between equal labels": lambda lp, labels: _ctc(lp, labels, skip_equal=True),
    },
    "12.cer": {
        "divided by the hypothesis' length": lambda ref, hyp: (
            exercises.get("12.cer").reference(ref, hyp) * len(ref) / max(len(hyp), 1)
        )
    },
    "13.bigram_perplexity": {
        "every token counted as a context": _bigram_all_tokens_as_contexts,
        "the mean of per-sequence perplexities": lambda train, test, v, k: float(
            np.mean([exercises.get("13.bigram_perplexity").reference(train, [s], v, k) for s in test])
        ),
    },
    "13.unit_frames": {"durations not doubled": lambda u, d: np.repeat(u, d).tolist()},
    "13.phase_update": {
        "momentum not normalised": lambda rebuilt, prev, mag, m: exercises.get("13.phase_update").reference(
            rebuilt - m * prev, prev, mag, 0.0
        )
    },
    "13.joint_sequence": {
        "units offset by 3 only": lambda text, units, n: [
            0,
            1,
            *(3 + i for i in text),
            2,
            *(3 + u for u in units),
            0,
        ]
    },
    "14.layer_mix": {
        "a softmax that overflows": _quiet(lambda layers, z: np.tensordot(_naive_softmax(z), layers, axes=1)),
        "the plain mean": lambda layers, z: layers.mean(0),
    },
    "14.exact_match": {"the mean field accuracy": _mean_field_accuracy},
    "14.compose_intent": {"spaces kept": lambda action, device: f"{action}_{device}"},
    "15.attentive_pool": {
        "padding in the softmax": lambda frames, w, n: exercises.get("15.attentive_pool").reference(
            frames, w, len(frames)
        ),
        "a softmax that overflows": _quiet(lambda frames, w, n: _naive_softmax(frames[:n] @ w) @ frames[:n]),
    },
    "15.majority": {
        "the majority of the test labels": lambda train, test: exercises.get("15.majority").reference(
            test, test
        )
    },
    "15.cer_buckets": {
        "v < edge, not v <= edge": lambda v, c, edges: [
            float(np.mean(c[i == b])) if np.any(i == b) else float("nan")
            for i in [np.searchsorted(edges, v, side="right")]
            for b in range(len(edges) + 1)
        ]
    },
    "16.teacher_forcing": {"the output without eos": lambda t, bos, eos: ([bos, *t], list(t))},
    "16.beam_step": {"the best token of each row only": _beam_best_token_per_row},
    "16.length_normalise": {
        "multiplied by the length": lambda lp, n, a: int(
            np.argmax(np.asarray(lp) * np.asarray(n, float) ** a)
        )
    },
    "16.ngram_precision": {"unclipped counts": _ngram_unclipped},
    "17.block_macs": {"the attention products forgotten": lambda t, d, f: 4 * t * d * d + 2 * t * d * f},
    "17.remove": {"the raw directions, one by one": _remove_without_orthonormalising},
    "17.own_phone_attention": {
        "chance as 1 / number of phones": lambda w, s: _own_share(w, s) * _unique_runs(s),
        "the share, not the ratio": lambda w, s: _own_share(w, s),
    },
    "18.front_end": {"the hop multiplied first": _hop_and_field_hop_first},
    "18.rank_batches": {"contiguous shards": _rank_batches_contiguous},
    "18.rank_losses": {
        "each rank's own mean": lambda sums, counts: sums / counts,
        "no world_size factor": lambda sums, counts: sums / np.sum(counts),
    },
}


def _dtw(cost):
    n, m = cost.shape
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(n):
        for j in range(m):
            d[i + 1, j + 1] = cost[i, j] + min(d[i, j + 1], d[i + 1, j], d[i, j])
    return float(d[n, m])


def test_every_exercise_has_subtly_wrong_answers():
    assert set(SUBTLE) == set(exercises.list_exercises())


SUBTLE_CASES = [(i, name) for i, answers in SUBTLE.items() for name in answers]


@pytest.mark.parametrize(("exercise_id", "mistake"), SUBTLE_CASES, ids=[f"{i}: {m}" for i, m in SUBTLE_CASES])
def test_a_subtly_wrong_answer_fails_with_feedback(exercise_id, mistake, capsys):
    result = exercises.check(exercise_id, SUBTLE[exercise_id][mistake])
    out = capsys.readouterr().out
    assert not result, f"{exercise_id}: {mistake!r} passed"
    assert out.startswith(f"[fail] {exercise_id}: case "), out
    assert "failed for the input (" in result.message and "expected" in result.message, result.message
    assert "Hint 1 of " in out


@pytest.mark.parametrize("order", [1, 2, 3, 7, 12, 18])
def test_step_up_gives_back_levinson_durbins_filter(order):
    """02.step_up's reference, on the reflection coefficients of real autocorrelations (a vowel frame, an
    AR(2) process, noise, every frame of a vowel in one batch), returns the filter dsp.levinson_durbin
    returns."""
    rng = np.random.default_rng(order)
    vowel = dsp.synthetic_vowel(f0_hz=130.0, duration_s=0.2, noise=0.01)
    frames = [
        dsp.preemphasis(vowel[1000:1512]) * np.hamming(512),
        scipy.signal.lfilter([1.0], [1.0, -1.2, 0.6], rng.standard_normal(800)),
        rng.standard_normal(400),
    ]
    step_up = exercises.get("02.step_up").reference
    for x in frames:
        a, k, _ = dsp.levinson_durbin(dsp.autocorrelation(x, order), order)
        assert k.shape == (order,) and np.all(np.abs(k) < 1)
        np.testing.assert_allclose(step_up(k), a, rtol=1e-10, atol=1e-12)
    batch = dsp.block_frames(dsp.preemphasis(vowel), 400, 160) * np.hamming(400)
    a_batch, k_batch, _ = dsp.levinson_durbin(dsp.autocorrelation(batch, order), order)
    np.testing.assert_allclose(np.array([step_up(k) for k in k_batch]), a_batch, rtol=1e-10, atol=1e-12)


def test_step_up_cases_include_order_one_and_odd_orders():
    ex = exercises.get("02.step_up")
    orders = [len(k) for (k,) in ex.cases(np.random.default_rng(ex.seed))]
    assert 1 in orders and sum(p % 2 for p in orders) >= 3 and max(orders) > 10, orders
    np.testing.assert_allclose(ex.reference(np.array([-0.5])), [1.0, -0.5])
    k1, k2 = 0.3, -0.6  # by hand: a^(2) = [1, k_1 + k_2 k_1, k_2]
    np.testing.assert_allclose(ex.reference(np.array([k1, k2])), [1.0, k1 + k2 * k1, k2])


@pytest.mark.skipif(
    not hasattr(torch.nn.functional, "rms_norm"), reason="torch.nn.functional.rms_norm needs torch >= 2.4"
)
def test_rms_norm_reference_matches_torch():
    """07.rms_norm's reference equals torch.nn.functional.rms_norm on every hidden case (zeros included)."""
    ex = exercises.get("07.rms_norm")
    cases = list(ex.cases(np.random.default_rng(ex.seed)))
    shapes = [x.shape for x, _, _ in cases]
    assert {1, 2, 3} <= {len(s) for s in shapes}, shapes
    for x, gamma, eps in cases:
        expected = torch.nn.functional.rms_norm(
            torch.from_numpy(x), gamma.shape, torch.from_numpy(gamma), eps
        ).numpy()
        np.testing.assert_allclose(ex.reference(x, gamma, eps), expected, rtol=1e-12, atol=1e-15)
    assert np.all(ex.reference(np.zeros((2, 3)), np.ones(3), 1e-6) == 0)


def test_token_types_given_and_returning_numpy_values(capsys):
    right = exercises.get("08.token_types").reference
    assert exercises.check("08.token_types", lambda a, b: np.array(right(a, b)))
    assert exercises.check("08.token_types", lambda a, b: right(np.int64(a), np.int64(b)))
    as_float = exercises.check("08.token_types", lambda a, b: np.array(right(a, b), dtype=float))
    assert not as_float and "expected an int, got the float64 0.0" in as_float.message
    as_2d = exercises.check("08.token_types", lambda a, b: np.array([right(a, b)]))
    assert not as_2d and "expected a list of" in as_2d.message
    capsys.readouterr()
