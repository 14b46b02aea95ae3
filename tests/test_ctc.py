import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from speechlm import ctc


def _random_batch(seed: int, batch: int = 6, n_time: int = 30, n_classes: int = 5, max_s: int = 8):
    g = torch.Generator().manual_seed(seed)
    log_probs = torch.randn(n_time, batch, n_classes, generator=g, dtype=torch.float64).log_softmax(-1)
    input_lengths = torch.randint(max_s * 2 + 2, n_time + 1, (batch,), generator=g)
    input_lengths[0] = n_time
    target_lengths = torch.randint(1, max_s + 1, (batch,), generator=g)
    # few classes make repeated neighbours (which need a blank between them) common
    targets = torch.randint(1, n_classes, (batch, max_s), generator=g)
    targets[1, :3] = 2  # a guaranteed repeat
    target_lengths[1] = max(int(target_lengths[1]), 3)
    return log_probs, targets, input_lengths, target_lengths


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_matches_torch_ctc_loss(reduction, seed):
    log_probs, targets, input_lengths, target_lengths = _random_batch(seed)
    ours = ctc.ctc_forward_loss(log_probs, targets, input_lengths, target_lengths, reduction=reduction)
    theirs = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction=reduction)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


def test_loss_matches_torch_in_float32_with_other_blank_index():
    log_probs, targets, input_lengths, target_lengths = _random_batch(3)
    log_probs = log_probs.float()
    targets = targets - 1  # labels 0..3, the blank is class 4
    ours = ctc.ctc_forward_loss(log_probs, targets, input_lengths, target_lengths, blank=4, reduction="none")
    theirs = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=4, reduction="none")
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


def test_gradients_match_torch():
    log_probs, targets, input_lengths, target_lengths = _random_batch(4)
    logits = log_probs.clone().requires_grad_(True)
    ctc.ctc_forward_loss(logits.log_softmax(-1), targets, input_lengths, target_lengths).backward()
    ours = logits.grad.clone()
    logits.grad = None
    F.ctc_loss(logits.log_softmax(-1), targets, input_lengths, target_lengths).backward()
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, logits.grad, atol=1e-6, rtol=1e-5)


def test_single_frame_single_label_is_minus_its_log_probability():
    log_probs = torch.tensor([[[0.1, 0.7, 0.2]]]).log()  # (time=1, batch=1, classes=3)
    loss = ctc.ctc_forward_loss(log_probs, torch.tensor([[1]]), [1], [1], reduction="none")
    torch.testing.assert_close(loss, -torch.tensor([0.7]).log())


def test_two_frames_sum_over_the_three_alignments():
    y = torch.tensor([[0.5, 0.5], [0.4, 0.6]])  # frames x (blank, a)
    log_probs = y.log()[:, None, :]
    # "a" in 2 frames: (a, a), (blank, a), (a, blank)
    expected = -torch.log(y[0, 1] * y[1, 1] + y[0, 0] * y[1, 1] + y[0, 1] * y[1, 0])
    loss = ctc.ctc_forward_loss(log_probs, torch.tensor([[1]]), [2], [1], reduction="sum")
    torch.testing.assert_close(loss, expected)


def test_impossible_alignment_is_infinite_like_torch():
    log_probs = torch.randn(3, 1, 4).log_softmax(-1)
    targets = torch.tensor([[1, 1, 1]])  # needs 5 frames (blanks between the repeats)
    ours = ctc.ctc_forward_loss(log_probs, targets, [3], [3], reduction="none")
    theirs = F.ctc_loss(log_probs, targets, [3], [3], reduction="none")
    assert torch.isinf(ours).all() and torch.isinf(theirs).all()


def test_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match="time, batch, classes"):
        ctc.ctc_forward_loss(torch.zeros(3, 4), torch.zeros(1, 1), [3], [1])
    with pytest.raises(ValueError, match="input_lengths must be in"):
        ctc.ctc_forward_loss(torch.zeros(3, 1, 4), torch.ones(1, 1), [4], [1])
    with pytest.raises(ValueError, match="reduction"):
        ctc.ctc_forward_loss(torch.zeros(3, 1, 4), torch.ones(1, 1), [3], [1], reduction="avg")


def test_greedy_decode_collapses_repeats_and_drops_blanks():
    path = torch.tensor([[0, 1, 1, 0, 1, 2, 2, 0, 3], [2, 2, 2, 0, 0, 0, 0, 0, 0]])
    logits = F.one_hot(path, 4).float()
    assert ctc.ctc_greedy_decode(logits) == [[1, 1, 2, 3], [2]]
    assert ctc.ctc_greedy_decode(logits, lengths=[5, 2]) == [[1, 1], [2]]


def test_char_vocab_round_trip_and_errors():
    vocab = ctc.CharVocab.from_texts(["turn on", "Lights"])
    assert len(vocab) == len(set("turn onlights")) + 1
    ids = vocab.encode("lights on")
    assert 0 not in ids and vocab.decode(ids) == "lights on"
    with pytest.raises(ValueError, match=r"\['z'\] are not in the alphabet"):
        vocab.encode("zoo")
    with pytest.raises(ValueError, match="repeated"):
        ctc.CharVocab("aab")


def test_ctc_head_outputs_log_probabilities():
    head = ctc.CTCHead(16, 7).eval()
    out = head(torch.randn(2, 5, 16))
    assert out.shape == (2, 5, 7)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(2, 5))


def _collapse(path, blank=0):
    out = []
    for i, c in enumerate(path):
        if c != blank and (i == 0 or c != path[i - 1]):
            out.append(c)
    return out


def test_loss_equals_brute_force_sum_over_all_alignments():
    g = torch.Generator().manual_seed(5)
    n_time, n_classes = 6, 3
    log_probs = torch.randn(n_time, 1, n_classes, generator=g, dtype=torch.float64).log_softmax(-1)
    target = [1, 1, 2]  # a repeat: needs a blank between the two 1s
    total = 0.0
    for path in itertools.product(range(n_classes), repeat=n_time):
        if _collapse(path) == target:
            total += math.exp(sum(log_probs[t, 0, c].item() for t, c in enumerate(path)))
    loss = ctc.ctc_forward_loss(log_probs, torch.tensor([target]), [n_time], [3], reduction="sum")
    assert loss.item() == pytest.approx(-math.log(total), abs=1e-10)


def test_forward_variables_start_and_end_like_the_recursion_says():
    log_probs = torch.randn(5, 2, 4, dtype=torch.float64).log_softmax(-1)
    targets = torch.tensor([[1, 2], [3, 0]])
    alphas = ctc.ctc_forward_variables(log_probs, targets, [5, 4], [2, 1])
    assert alphas.shape == (5, 2, 5)
    torch.testing.assert_close(alphas[0, 0, :2], log_probs[0, 0, [0, 1]])  # start in blank or first label
    assert (alphas[0, :, 2:] < -1e29).all()  # nothing else is reachable after one frame
    torch.testing.assert_close(alphas[4, 1], alphas[3, 1])  # frames past the length change nothing
    nll = -torch.logaddexp(alphas[3, 1, 2], alphas[3, 1, 1])
    torch.testing.assert_close(
        nll, ctc.ctc_forward_loss(log_probs, targets, [5, 4], [2, 1], reduction="none")[1]
    )
