"""Self-supervised speech pretraining (notebook 11): the encoder, span masking, HuBERT's masked
prediction, wav2vec 2.0's contrastive objective and data2vec's regression of a moving teacher."""

from speechlm.ssl.data2vec import Data2Vec, ema_decay, instance_norm
from speechlm.ssl.encoder import EncoderConfig, EncoderOutput, SpeechEncoder, encode_utterances
from speechlm.ssl.hubert import HuBERT, collate_targets, cosine_logits, layer_features
from speechlm.ssl.masking import expected_mask_fraction, mask_spans
from speechlm.ssl.probe import linear_probe
from speechlm.ssl.wav2vec2 import GumbelQuantizer, Wav2Vec2, sample_distractors

__all__ = [
    "Data2Vec",
    "EncoderConfig",
    "EncoderOutput",
    "GumbelQuantizer",
    "HuBERT",
    "SpeechEncoder",
    "Wav2Vec2",
    "collate_targets",
    "cosine_logits",
    "ema_decay",
    "encode_utterances",
    "expected_mask_fraction",
    "instance_norm",
    "layer_features",
    "linear_probe",
    "mask_spans",
    "sample_distractors",
]
