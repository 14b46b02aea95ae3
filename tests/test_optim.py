"""Tests of speechlm.optim: warm-up then decay, per-group starts (a frozen encoder), the LambdaLR."""

import math

import pytest
import torch

from speechlm.optim import scheduler, tenth, warmup_decay


def test_linear_warmup_then_decay_to_zero():
    f = warmup_decay(100, 10)
    assert [f(s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5) and f(100) == 0.0
    assert all(f(s) >= f(s + 1) for s in range(9, 100))  # never climbs again after the peak
    assert warmup_decay(10)(0) == 1.0 and warmup_decay(10)(5) == pytest.approx(0.5)  # no warm-up


def test_a_later_start_keeps_the_group_at_zero_then_warms_up_again():
    enc = warmup_decay(100, 10, start=40)
    assert [enc(s) for s in (0, 39)] == [0.0, 0.0]
    assert enc(40) == pytest.approx(0.1) and enc(49) == pytest.approx(1.0)
    assert enc(75) == pytest.approx(0.5) and enc(100) == 0.0
    always = warmup_decay(10, 1, start=10)
    assert all(always(s) == 0.0 for s in range(10))
    assert all(warmup_decay(10, 1, start=25)(s) == 0.0 for s in range(10))  # past the end: frozen throughout


def test_cosine_decay_is_half_a_cosine_over_the_steps_after_the_warmup():
    f = warmup_decay(100, decay="cosine")
    assert [f(s) for s in (0, 50, 100)] == pytest.approx([1.0, 0.5, 0.0])
    assert f(25) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    g = warmup_decay(30, 10, decay="cosine")
    assert g(4) == pytest.approx(0.5) and g(10) == 1.0 and g(20) == pytest.approx(0.5)


def test_the_scheduler_gives_each_group_its_own_start():
    head, encoder = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(
        [{"params": head.parameters(), "lr": 1.0}, {"params": encoder.parameters(), "lr": 0.5}]
    )
    sched = scheduler(opt, 20, 2, starts=[0, 10])
    rates = []
    for _ in range(12):
        rates.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    assert rates[0] == pytest.approx([0.5, 0.0]) and rates[1] == pytest.approx([1.0, 0.0])
    assert rates[10] == pytest.approx([10 / 18, 0.25]) and rates[11] == pytest.approx([9 / 18, 0.5])
    one = torch.optim.SGD(head.parameters(), lr=1.0)
    assert scheduler(one, 10, tenth(10)).get_last_lr() == pytest.approx([1.0])
    with pytest.raises(ValueError, match="2 start steps for 1 parameter groups"):
        scheduler(one, 10, starts=[0, 3])


def test_tenth_and_bad_arguments():
    assert [tenth(n) for n in (1, 9, 10, 300)] == [1, 1, 1, 30]
    with pytest.raises(ValueError, match="total >= 1"):
        warmup_decay(0)
    with pytest.raises(ValueError, match="warmup >= 0"):
        warmup_decay(10, -1)
    with pytest.raises(ValueError, match="decay must be one of"):
        warmup_decay(10, decay="step")
