"""What the layers of a speech encoder hold: per-layer representations and attention maps (notebook 17).

:func:`encode_layers` runs the encoder once and keeps every layer's frames,
the input of the speaker probe (:mod:`speechlm.responsible.privacy`), of the
layer-wise phone probe and of the robustness tests. :func:`attention_maps`
returns each block's attention weights on one utterance:
:class:`speechlm.ssl.SpeechEncoder` does not hand them out, so this function
runs the encoder's own modules (front end, position convolution, blocks) with
``need_weights=True``, and checks that the frames it computes are the
encoder's own. :func:`phone_probe_accuracy` is the layer-wise phone probe on
such frames; :func:`own_segment_attention` summarises a map by the share of
attention a frame pays to its own phone, against the share uniform attention
would pay.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from speechlm.features import ENCODER_FRAME_RATE_HZ, log_mel_features
from speechlm.ssl.encoder import SpeechEncoder, encode_utterances
from speechlm.ssl.probe import linear_probe
from speechlm.units import frame_phone_labels

__all__ = [
    "attention_maps",
    "encode_layers",
    "frame_phone_targets",
    "own_segment_attention",
    "phone_probe_accuracy",
]


def encode_layers(
    encoder: SpeechEncoder, audios: Sequence[np.ndarray], batch_size: int = 32, progress: bool = False
) -> list[np.ndarray]:
    """Every layer's frames for each clip: a list of ``(num_layers + 1, frames, d_model)`` float32
    arrays (index 0: the Transformer's input, ``i``: block ``i``'s output; 50 frames/s).

    ``audios``: 16 kHz mono clips ``(num_samples,)``. The encoder runs in eval mode, in batches of
    ``batch_size`` clips sorted by length (less padding; :func:`~speechlm.ssl.encoder.encode_utterances`).
    """
    if len(audios) == 0:
        raise ValueError("encode_layers needs at least one clip, got none")
    mels = [log_mel_features(a) for a in audios]
    layers = encode_utterances(encoder, mels, batch_size=batch_size, by_length=True, progress=progress)
    return [np.ascontiguousarray(h.transpose(0, 1).numpy()) for h in layers]


@torch.no_grad()
def attention_maps(encoder: SpeechEncoder, audio: np.ndarray) -> torch.Tensor:
    """Attention weights of every block on one clip: ``(num_layers, num_heads, frames, frames)``,
    row ``i`` the distribution of query frame ``i`` over the key frames (rows sum to 1).

    Runs :meth:`SpeechEncoder.frontend`, the position convolution and each block with
    ``need_weights=True`` in eval mode, and raises if the frames differ from those of
    ``encoder(...)`` (so the maps belong to the same computation).
    """
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    mels = log_mel_features(audio)[None].to(device)
    mel_lengths = torch.tensor([mels.shape[1]])
    reference = encoder(mels, mel_lengths)
    x, _ = encoder.frontend(mels, mel_lengths)
    x = x + F.gelu(encoder.pos_conv(x.transpose(1, 2))).transpose(1, 2)
    maps = []
    for block, expected in zip(encoder.layers, reference.layers[1:], strict=True):
        x, weights = block(x, need_weights=True)
        torch.testing.assert_close(x, expected, rtol=1e-4, atol=1e-4)
        maps.append(weights[0])
    encoder.train(was_training)
    return torch.stack(maps)


def own_segment_attention(
    maps, phones: Sequence[tuple[str, float, float]], frame_rate_hz: float = ENCODER_FRAME_RATE_HZ
) -> tuple[np.ndarray, float]:
    """How much each head attends within the query frame's own phone.

    ``maps (..., frames, frames)`` (e.g. :func:`attention_maps`, ``(layers, heads, frames, frames)``);
    ``phones`` the clip's alignment ``[(phone, start_s, end_s)]``; frame ``i`` is read at
    ``i / frame_rate_hz`` seconds (as :func:`speechlm.units.frame_phone_labels`). Returns
    ``(share (...), uniform)``: the attention mass on keys of the query's segment, averaged over
    queries, and the same average for uniform attention (the mean segment length over ``frames``).
    """
    weights = np.asarray(maps, dtype=np.float64)
    if weights.ndim < 2 or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(f"maps must be (..., frames, frames), got shape {weights.shape}")
    if not phones:
        raise ValueError("phones is empty: an alignment is needed to define the segments")
    times = np.arange(weights.shape[-1]) / frame_rate_hz
    ends = np.array([end for _, _, end in phones])
    segment = np.minimum(np.searchsorted(ends, times, side="right"), len(phones) - 1)
    same = segment[:, None] == segment[None, :]
    return (weights * same).sum(-1).mean(-1), float(same.mean())


def frame_phone_targets(
    phones_per_clip: Sequence[Sequence[tuple[str, float, float]]],
    num_frames: Sequence[int],
    time_scale: float = 1.0,
) -> np.ndarray:
    """Phone labels of the encoder's frames (50/s) of several clips, concatenated: ``(sum(num_frames),)``.
    ``time_scale`` divides every alignment time (a clip played ``time_scale`` times faster)."""
    if len(phones_per_clip) != len(num_frames):
        raise ValueError(f"got {len(phones_per_clip)} alignments for {len(num_frames)} clips")
    if time_scale <= 0:
        raise ValueError(f"time_scale must be positive, got {time_scale}")
    return np.concatenate(
        [
            frame_phone_labels(
                [(p, s / time_scale, e / time_scale) for p, s, e in phones], n, ENCODER_FRAME_RATE_HZ
            )
            for phones, n in zip(phones_per_clip, num_frames, strict=True)
        ]
    )


def phone_probe_accuracy(
    train_frames: Sequence[np.ndarray],
    train_phones: Sequence[Sequence[tuple[str, float, float]]],
    test_frames: Sequence[np.ndarray],
    test_phones: Sequence[Sequence[tuple[str, float, float]]],
    seed: int = 0,
) -> float:
    """Frame phone accuracy of a linear probe (:func:`speechlm.ssl.linear_probe`) trained on the
    ``(frames, dim)`` arrays of some clips (50 frames/s) with their alignments and tested on others."""
    if len(train_frames) == 0 or len(test_frames) == 0:
        raise ValueError("the phone probe needs at least one training and one test clip")
    y_train = frame_phone_targets(train_phones, [len(f) for f in train_frames])
    y_test = frame_phone_targets(test_phones, [len(f) for f in test_frames])
    return linear_probe(np.concatenate(train_frames), y_train, np.concatenate(test_frames), y_test, seed=seed)
