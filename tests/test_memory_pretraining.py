"""Memory of the shared encoder's pretraining (issue 22): the C heap is trimmed after each step, and
what is kept between phases is no bigger than the data it holds. The full-size peaks are measured in
benchmarks/, not here."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_models import SIXTEEN_WIDE
from torch import nn

import speechlm.ssl.encoder
import speechlm.ssl.pretrain
import speechlm.workers
from speechlm import features, ssl
from speechlm.ssl.pretrain import HubertRecipe, pretrain_hubert
from speechlm.train import fit
from speechlm.utils import set_seed

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# In a fresh interpreter: free 128 MB of heap blocks below a live block, which keeps glibc from
# shrinking the heap, then trim. Prints the resident MB before the blocks, after freeing them, after
# trimming.
_FRAGMENTED_HEAP = textwrap.dedent(
    """
    import numpy as np
    from speechlm.workers import release_free_memory

    def rss_mb():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

    big = np.ones(16 << 20, np.uint8)
    del big  # glibc now serves blocks below 16 MB from its heap, and keeps them when freed
    start = rss_mb()
    blocks = [np.ones(4 << 20, np.uint8) for _ in range(32)]
    pin = np.ones(256 << 10, np.uint8)  # a live block above the freed ones
    del blocks
    freed = rss_mb()
    released = release_free_memory()
    print(start, freed, rss_mb(), released)
    """
)


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's; other C libraries keep their own heaps")
def test_release_free_memory_hands_freed_heap_blocks_back():
    out = subprocess.run(
        [sys.executable, "-c", _FRAGMENTED_HEAP], capture_output=True, text=True, timeout=60, check=True
    )
    start, freed, trimmed, released = out.stdout.split()
    start, freed, trimmed = float(start), float(freed), float(trimmed)
    assert freed - start > 100, f"the freed blocks should stay resident before trimming: {out.stdout}"
    assert freed - trimmed > 100, f"trimming should hand back the 128 MB of freed blocks: {out.stdout}"
    assert released == "True"


def _variable_length_run(release_memory: bool):
    """A few steps on batches of different lengths; returns the history and the final weights."""
    set_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 3))
    g = torch.Generator().manual_seed(0)
    batches = [
        (torch.randn(4, length, 8, generator=g), torch.randint(0, 3, (4, length), generator=g))
        for length in (5, 17, 9, 30, 12)
    ]

    def step(model, batch):
        x, y = batch
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten())

    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    history = fit(
        model, batches, optimizer=opt, steps=7, step_fn=step, log_every=1, progress=False,
        release_memory=release_memory, seed=0,
    )  # fmt: skip
    return history, model.state_dict()


def test_fit_release_memory_changes_no_number():
    plain, plain_state = _variable_length_run(release_memory=False)
    trimmed, trimmed_state = _variable_length_run(release_memory=True)
    assert trimmed.train_loss == plain.train_loss
    for name, tensor in plain_state.items():
        assert torch.equal(trimmed_state[name], tensor), name


def _tiny_pretraining(num_layers: int) -> tuple[list[np.ndarray], HubertRecipe]:
    """Four noise "utterances" of 0.2-0.4 s and a recipe of 3 + 2 steps on an encoder 16 wide."""
    rng = np.random.default_rng(0)
    audios = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (3200, 4800, 6400, 4000)]
    recipe = HubertRecipe(
        encoder=ssl.EncoderConfig(d_model=16, num_layers=num_layers, num_heads=2, d_ff=32),
        n_utterances=4, n_clusters=3, steps=3, iteration2_steps=2, iteration2_layer=1, batch_size=2,
        warmup_steps=1,
    )  # fmt: skip
    return audios, recipe


@pytest.mark.parametrize("short", [True, False], ids=["memory short (Binder)", "memory plentiful"])
def test_pretraining_trims_the_heap_after_every_step_where_memory_is_short(monkeypatch, short):
    calls = []
    monkeypatch.setattr(speechlm.workers, "release_free_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(speechlm.workers, "memory_is_short", lambda: short)
    audios, recipe = _tiny_pretraining(num_layers=1)
    pretrain_hubert(audios, recipe, progress=False)
    # always after the first k-means, after iteration 1 and after the second k-means; where memory is
    # short also after every step and after the one batch of iteration 2's layer features (4 utterances)
    assert len(calls) == 3 + (recipe.steps + recipe.iteration2_steps + 1 if short else 0)


def test_layer_features_do_not_keep_the_padded_batch_alive():
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(SIXTEEN_WIDE)
    mels = [torch.randn(n, 80) for n in (40, 100, 60)]
    features = ssl.layer_features(encoder, mels, 1, batch_size=3)
    assert [f.shape for f in features] == [(20, 16), (50, 16), (30, 16)]
    # a view of the (3, 50, 16) batch would keep it whole; the memory behind each array is its own frames
    owners = [f.base if f.base is not None else f for f in features]
    sizes = [o.untyped_storage().nbytes() if isinstance(o, torch.Tensor) else o.nbytes for o in owners]
    assert sizes == [f.nbytes for f in features] == [20 * 16 * 4, 50 * 16 * 4, 30 * 16 * 4]


def test_checkpointed_blocks_give_the_same_gradients_and_keep_fewer_activations():
    def saved_bytes_and_grads(checkpointed: bool):
        torch.manual_seed(0)
        model = ssl.HuBERT(8, ssl.EncoderConfig(d_model=32, num_layers=3, num_heads=2, d_ff=64, dropout=0.1))
        model.encoder.checkpoint_blocks = checkpointed
        generator = torch.Generator().manual_seed(1)
        mels = [torch.randn(n, 80, generator=generator) for n in (90, 140, 120)]
        targets = [
            torch.randint(0, 8, (int(features.encoder_lengths(torch.tensor(n))),)) for n in (90, 140, 120)
        ]
        batch = ssl.collate_targets(list(zip(mels, targets, strict=True)))
        storages = {}

        def pack(tensor):
            storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
            return tensor

        torch.manual_seed(2)  # the dropout masks and the span masks
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            loss, _ = model(*batch)
        loss.backward()
        return sum(storages.values()), loss.item(), {n: p.grad for n, p in model.named_parameters()}

    kept, loss, grads = saved_bytes_and_grads(False)
    kept_checkpointed, loss_checkpointed, grads_checkpointed = saved_bytes_and_grads(True)
    assert loss_checkpointed == loss
    for name, grad in grads.items():
        assert torch.equal(grads_checkpointed[name], grad), name  # dropout replayed: bit for bit
    assert kept_checkpointed < 0.5 * kept, (kept_checkpointed, kept)


@pytest.mark.parametrize("short", [True, False], ids=["memory short (Binder)", "memory plentiful"])
def test_pretraining_recomputes_the_blocks_where_memory_is_short_with_the_same_weights(monkeypatch, short):
    recomputed = []
    original = speechlm.ssl.encoder.checkpoint

    def counting(*args, **kwargs):
        recomputed.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(speechlm.ssl.encoder, "checkpoint", counting)
    audios, recipe = _tiny_pretraining(num_layers=2)
    monkeypatch.setattr(speechlm.workers, "memory_is_short", lambda: False)
    reference, info = pretrain_hubert(audios, recipe, progress=False)
    assert recomputed == []
    monkeypatch.setattr(speechlm.workers, "memory_is_short", lambda: short)
    encoder, info_again = pretrain_hubert((a for a in audios), recipe, progress=False)  # a generator too
    # 2 blocks in each of the 5 training steps (not in the evaluations, which need no gradients)
    assert len(recomputed) == (2 * (recipe.steps + recipe.iteration2_steps) if short else 0)
    assert not encoder.checkpoint_blocks  # switched off again once trained
    assert info_again["accuracy_it2"] == info["accuracy_it2"]
    for name, tensor in reference.state_dict().items():
        assert torch.equal(encoder.state_dict()[name], tensor), name
    with pytest.raises(ValueError, match="at least one utterance"):
        pretrain_hubert(iter([]), recipe, progress=False)


def test_the_pretraining_audio_is_handed_over_one_array_at_a_time(monkeypatch):
    import weakref

    from speechlm import corpus, pretrained
    from speechlm.corpus import Utterance

    base = np.zeros(3000, np.float32)  # like the corpus cache: every utterance a view of one array
    gone = weakref.finalize(base, lambda: None)
    fake = [
        Utterance(
            audio=base[i * 1000 : (i + 1) * 1000],
            sample_rate=16000,
            text="a",
            speaker="s",
            words=[],
            phones=[],
            labels={},
            id=f"u{i}",
        )
        for i in range(3)
    ]
    monkeypatch.setattr(corpus, "load", lambda *args, **kwargs: fake)
    stream = pretrained._training_audio(pretrained.RECIPES["hubert"])
    first = next(stream)  # the corpus is loaded now
    del base
    fake.clear()
    assert first.shape == (1000,) and gone.alive  # the others are still to come
    del first
    assert [a.shape for a in stream] == [(1000,), (1000,)]
    assert not gone.alive  # nothing kept once all were read: the features are all pretraining keeps
