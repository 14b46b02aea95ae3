"""A spoken language model, GSLM-style (notebook 13): speech tokeniser, unit LM data, unit-to-speech
resynthesis and a joint speech-text vocabulary."""

from speechlm.slm.joint import SPECIALS, JointVocabulary
from speechlm.slm.lm import extend_vocabulary, lm_sequences, span_perplexity, token_stream, unit_lm_ids
from speechlm.slm.tokenizer import SpeechTokenizer, UnitSequence, encoder_frames
from speechlm.slm.vocoder import UnitVocoder, griffin_lim, stft_magnitude, unit_frames

__all__ = [
    "SPECIALS",
    "JointVocabulary",
    "SpeechTokenizer",
    "UnitSequence",
    "UnitVocoder",
    "encoder_frames",
    "extend_vocabulary",
    "griffin_lim",
    "lm_sequences",
    "span_perplexity",
    "stft_magnitude",
    "token_stream",
    "unit_frames",
    "unit_lm_ids",
]
