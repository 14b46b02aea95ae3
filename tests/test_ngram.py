"""Tests of speechlm.ngram: add-k unigram and bigram models."""

import math

import numpy as np
import pytest

from speechlm.ngram import NGramLM

TRAIN = [[0, 1, 2, 0], [0, 1, 3, 0]]


def test_bigram_probabilities_by_hand():
    lm = NGramLM(order=2, vocab_size=5, k=0.1).fit(TRAIN)
    # P(1|0) = (2 + .1) / (2 + .5); P(2|1) = (1 + .1) / (2 + .5); P(0|2) = (1 + .1) / (1 + .5)
    expected = np.log([2.1 / 2.5, 1.1 / 2.5, 1.1 / 1.5])
    np.testing.assert_allclose(lm.log_probs([0, 1, 2, 0]), expected, rtol=1e-12)
    assert lm.perplexity([[0, 1, 2, 0]]) == pytest.approx(math.exp(-expected.mean()), rel=1e-12)
    # an unseen pair still has probability k / (c(u) + kV)
    np.testing.assert_allclose(lm.log_probs([4, 4]), [math.log(0.1 / 0.5)])


def test_unigram_probabilities_by_hand():
    lm = NGramLM(order=1, vocab_size=5, k=1.0).fit(TRAIN)
    # predicted tokens: 1 2 0 1 3 0 -> counts 0:2 1:2 2:1 3:1 4:0, N = 6
    np.testing.assert_allclose(np.exp(lm.log_probs([4, 1, 4])), [3 / 11, 1 / 11])


def test_probabilities_sum_to_one():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 7, size=int(rng.integers(2, 9))).tolist() for _ in range(40)]
    for order in (1, 2):
        lm = NGramLM(order=order, vocab_size=7, k=0.5).fit(seqs)
        for u in range(7):
            total = sum(math.exp(lm.log_probs([u, w])[0]) for w in range(7))
            assert total == pytest.approx(1.0, abs=1e-12)


def test_bigram_beats_unigram_on_structured_text():
    rng = np.random.default_rng(1)
    seqs = [[0, *[1 + (i % 4) for i in range(int(rng.integers(0, 4)), 12)], 0] for _ in range(50)]
    uni = NGramLM(1, 6, k=0.1).fit(seqs)
    bi = NGramLM(2, 6, k=0.1).fit(seqs)
    assert bi.perplexity(seqs) < 0.5 * uni.perplexity(seqs)


def test_bad_input():
    with pytest.raises(ValueError, match="order"):
        NGramLM(3, 5)
    with pytest.raises(ValueError, match="k must be positive"):
        NGramLM(2, 5, k=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        NGramLM(2, 5).perplexity(TRAIN)
    with pytest.raises(ValueError, match="start token"):
        NGramLM(2, 5).fit([[1]])
    with pytest.raises(ValueError, match=r"0\.\.4"):
        NGramLM(2, 5).fit([[0, 5]])
