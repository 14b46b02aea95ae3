import math

import numpy as np
import pytest
import torch

from speechlm import metrics


def test_wer_counts_substitutions_deletions_and_insertions_over_all_words():
    refs = ["turn the light", "lights on"]
    hyps = ["turn a light", "on off"]
    # pair 1: one substitution; pair 2: delete "lights", insert "off"; 3 edits over 5 reference words
    assert metrics.wer(refs, hyps) == pytest.approx(3 / 5)
    assert metrics.wer("a b c", "a b c") == 0.0
    assert metrics.wer("a", "b c d") == pytest.approx(3.0)  # insertions can push WER past 1


def test_cer_counts_characters_including_spaces():
    assert metrics.cer("ab cd", "ab cd") == 0.0
    assert metrics.cer("ab cd", "abcd") == pytest.approx(1 / 5)
    assert metrics.cer(["abc", "de"], ["abd", "de"]) == pytest.approx(1 / 5)


def test_error_rates_reject_bad_input():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        metrics.wer(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        metrics.cer(["", "a"], ["x", "a"])


def test_accuracy_and_perplexity():
    assert metrics.accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 0, 4])) == 0.75
    assert metrics.accuracy(np.array([[1, 1]]), np.array([[1, 0]])) == 0.5
    with pytest.raises(ValueError, match="same shape"):
        metrics.accuracy([1, 2], [1])
    assert metrics.perplexity(math.log(50.0)) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="non-negative"):
        metrics.perplexity(-1.0)
