"""Pieces of the pretraining runner that make 2 processes equal 1: batch sharding, per-utterance masks
and a loss that sums over frames; and the refusal to resume a different run."""

import dataclasses

import pytest
import torch

from speechlm.features import encoder_lengths
from speechlm.runner import CHECKPOINT, ConfigError, PretrainConfig, run
from speechlm.runner.checkpoint import _check_resumable
from speechlm.runner.distributed import Context, shard_batches
from speechlm.runner.objective import MaskedPrediction, utterance_masks
from speechlm.ssl import EncoderConfig, HuBERT, mask_spans

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("n_items", "global_batch", "world"), [(16, 4, 2), (23, 6, 3), (9, 4, 4), (10, 3, 1)]
)
def test_the_ranks_batches_together_are_the_single_process_batches(n_items, global_batch, world):
    single = shard_batches(Context(0, 1, CPU), n_items, global_batch, epoch=2, seed=5)
    shards = [
        shard_batches(Context(r, world, CPU), n_items, global_batch, epoch=2, seed=5) for r in range(world)
    ]
    assert len(single) == n_items // global_batch
    for k, batch in enumerate(single):
        union = [i for shard in shards for i in shard[k]]
        assert sorted(union) == sorted(batch) and len(set(union)) == global_batch
    assert single != shard_batches(Context(0, 1, CPU), n_items, global_batch, epoch=3, seed=5)  # reshuffled


def test_a_batch_that_does_not_split_evenly_is_refused():
    with pytest.raises(
        ValueError, match=r"batch_size \(6\) must be divisible by the number of processes \(4\)"
    ):
        shard_batches(Context(1, 4, CPU), 20, 6, epoch=0, seed=0)


def _tiny_model() -> HuBERT:
    torch.manual_seed(0)
    config = EncoderConfig(d_model=32, num_layers=2, num_heads=2, d_ff=64, dropout=0.0)
    return HuBERT(8, config).eval()


def test_masks_and_loss_sums_do_not_depend_on_the_batching():
    model = _tiny_model()
    objective = MaskedPrediction(model)
    generator = torch.Generator().manual_seed(1)
    lengths = torch.tensor([57, 121, 90, 33])
    mels = [torch.randn(int(n), 80, generator=generator) for n in lengths]
    targets = [torch.randint(0, 8, (int(encoder_lengths(n)),), generator=generator) for n in lengths]

    def run_batch(indices):
        padded = torch.nn.utils.rnn.pad_sequence([mels[i] for i in indices], batch_first=True)
        padded_targets = torch.nn.utils.rnn.pad_sequence(
            [targets[i] for i in indices], batch_first=True, padding_value=-100
        )
        mask = utterance_masks(lengths[indices], indices, (0, 0, 0), model)
        return objective(padded, lengths[indices], padded_targets, mask), mask

    (whole_sum, whole_n, whole_correct), whole_mask = run_batch([0, 1, 2, 3])
    parts = [run_batch([0, 2]), run_batch([1, 3])]
    assert torch.equal(parts[0][1][0, :29], whole_mask[0, :29])  # utterance 0's mask, alone or not
    assert whole_n == sum(int(p[0][1]) for p in parts) and whole_n > 0
    assert whole_correct == sum(int(p[0][2]) for p in parts)
    torch.testing.assert_close(whole_sum, parts[0][0][0] + parts[1][0][0], rtol=1e-5, atol=0)
    other_epoch = utterance_masks(lengths, [0, 1, 2, 3], (0, 1, 0), model)
    assert not torch.equal(other_epoch, whole_mask)


def test_the_summed_loss_is_hubert_s_loss():
    """MaskedPrediction computes with HuBERT's own loss: per masked frame, the same as HuBERT's forward
    given the same mask (eval mode, so that the mask is the only random draw)."""
    model = _tiny_model()
    generator = torch.Generator().manual_seed(2)
    lengths = torch.tensor([90, 61])
    mels = torch.randn(2, 90, 80, generator=generator)
    targets = torch.randint(0, 8, (2, 45), generator=generator)
    targets[1, 31:] = -100
    torch.manual_seed(3)
    loss, metrics = model(mels, lengths, targets)
    torch.manual_seed(3)
    mask = mask_spans(
        encoder_lengths(lengths), 45, start_prob=model.start_prob, span_length=model.span_length
    )
    loss_sum, n_scored, n_correct = MaskedPrediction(model)(mels, lengths, targets, mask)
    torch.testing.assert_close(loss_sum / n_scored, loss)
    assert n_correct / n_scored == pytest.approx(metrics["accuracy"])
    with pytest.raises(ValueError, match=r"mask must be \(batch, frames\) = \(2, 45\), got \(2, 44\)"):
        MaskedPrediction(model)(mels, lengths, targets, mask[:, :44])


def test_a_run_dir_holding_a_different_model_is_not_resumed(tmp_path):
    config = PretrainConfig.from_dict(
        {"run_dir": str(tmp_path), "data": {"train_size": 8, "dev_size": 2, "tasks": ["digits"]},
         "model": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "n_clusters": 8},
         "train": {"steps": 2, "batch_size": 4, "warmup_steps": 1}}
    )  # fmt: skip
    other = dataclasses.replace(config, model=dataclasses.replace(config.model, num_layers=3))
    torch.save({"config": other.to_dict()}, tmp_path / CHECKPOINT)
    with pytest.raises(ConfigError, match=r"different 'model'.*use a new run_dir"):
        run(config, progress=False)


def test_a_checkpoint_from_before_a_model_key_existed_is_resumed(tmp_path):
    """Keys added to the model section since a checkpoint was written (EncoderConfig's n_mels, say)
    take their defaults, which are what that run used."""
    config = PretrainConfig()
    saved = config.to_dict()
    for key in ("n_mels", "pos_conv_kernel", "pos_conv_groups"):
        del saved["model"][key]
    _check_resumable({"config": saved}, config, tmp_path / CHECKPOINT)
    saved["model"]["d_model"] = 32
    with pytest.raises(ConfigError, match=r"different 'model'"):
        _check_resumable({"config": saved}, config, tmp_path / CHECKPOINT)
