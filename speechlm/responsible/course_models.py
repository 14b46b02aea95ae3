"""The models the course trains, at the sizes its notebooks use, with an input of a given length
(notebook 17's cost table).

Weights are random: parameters, MACs and CPU time do not depend on them. The
sizes follow the notebooks (04: MLP on 9 stacked MFCC frames; 05: CNN and
GRU on 40 log-mel bands at 100 frames/s; 07: Transformer on 40 bands at 50
frames/s; 08: BERT; 09: GPT; 11: the HuBERT encoder; 12: the CTC model);
BERT's and GPT's vocabulary is the 1,000 WordPieces their tokenizers are
trained for. The speech encoders' sizes are read from their recipes in
:mod:`speechlm.pretrained`; the others are only written in a notebook cell, so
they are copied here and ``tests/test_course_models.py`` checks each copy
against its notebook. One size is not copied: notebook 04's MLP has an output
per phone its 160 training utterances contain (39, all but "oy"), this one per
phone of :data:`~speechlm.corpus.PHONES` (40).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from speechlm.audio import SAMPLE_RATE
from speechlm.bert import Bert, BertConfig
from speechlm.classifiers import CNNClassifier, GRUClassifier, TransformerClassifier
from speechlm.corpus import PHONES
from speechlm.corpus.lexicon import COMMAND_ACTIONS
from speechlm.ctc import ALPHABET, CharVocab
from speechlm.finetune import CTCModel
from speechlm.gpt import GPT, GPTConfig
from speechlm.pretrained import ASR_RECIPES, RECIPES
from speechlm.responsible.cost import gru_macs
from speechlm.ssl.encoder import SpeechEncoder

__all__ = ["CourseModel", "course_models"]


class CourseModel(NamedTuple):
    """A model and an example input: ``model(*args)`` is one forward pass on ``units`` ``unit``;
    ``extra_macs`` are MACs that ``FlopCounterMode`` cannot see (a GRU's)."""

    name: str
    notebook: str
    model: nn.Module
    args: tuple
    units: float
    unit: str
    extra_macs: int = 0


def course_models(seconds: float = 2.0, tokens: int = 32, seed: int = 0) -> list[CourseModel]:
    """The course's trained models with one input each: ``seconds`` of audio (speech models;
    a forward pass over one clip) or ``tokens`` tokens (BERT, GPT: at most their context of 48).
    Inputs are seeded random."""
    vocab_size = 1000  # the WordPiece vocabulary of notebooks 08 and 09
    bert_config = BertConfig(vocab_size, d_model=64, num_layers=2, num_heads=4, d_ff=256, max_len=48)
    gpt_config = GPTConfig(vocab_size, max_len=48, d_model=64, num_layers=2, num_heads=4)
    max_tokens = min(bert_config.max_len, gpt_config.max_len)
    if seconds < 0.1 or not 1 <= tokens <= max_tokens:
        raise ValueError(f"need seconds >= 0.1 and 1 <= tokens <= {max_tokens}, got {seconds} and {tokens}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    samples = int(seconds * SAMPLE_RATE)
    frames_100, frames_50 = 1 + samples // 160, 1 + samples // 320
    encoder_config = RECIPES["hubert"].hubert.encoder  # notebook 11: pretrained.load("hubert")
    asr_encoder_config = RECIPES[ASR_RECIPES["ctc"].encoder].hubert.encoder  # 12: pretrained.load_asr()

    def audio_features(frames: int, bands: int) -> tuple:
        return torch.randn(1, frames, bands, generator=generator), torch.tensor([frames])

    ids = torch.randint(1, vocab_size, (1, tokens), generator=generator)
    gru = GRUClassifier(40, 10, hidden=64, bidirectional=True, dropout=0.2, stack=2)
    # notebook 04: 9 frames of 13 MFCCs in (context_window(mfcc, 4, 4)), 128 hidden units
    mlp = nn.Sequential(nn.Linear(9 * 13, 128), nn.ReLU(), nn.Linear(128, len(PHONES)))
    # notebook 07's classes: every action of the commands task, COMMAND_ACTIONS' and "set" (the temperature)
    n_actions = len(COMMAND_ACTIONS) + 1
    speech = "s of audio"
    return [
        CourseModel(
            "MLP phone classifier",
            "04",
            mlp,
            (torch.randn(frames_100, 9 * 13, generator=generator),),
            seconds,
            speech,
        ),
        CourseModel(
            "CNN digit classifier",
            "05",
            CNNClassifier(40, 10, channels=(64, 64), kernel_size=5),
            audio_features(frames_100, 40),
            seconds,
            speech,
        ),
        CourseModel(
            "GRU digit classifier",
            "05",
            gru,
            audio_features(frames_100, 40),
            seconds,
            speech,
            gru_macs(gru.gru, (frames_100 + 1) // 2),
        ),
        CourseModel(
            "Transformer command classifier",
            "07",
            TransformerClassifier(40, n_actions, d_model=64, num_heads=4, num_layers=2, d_ff=128),
            audio_features(frames_50, 40),
            seconds,
            speech,
        ),
        CourseModel(
            "BERT (MLM + NSP heads)",
            "08",
            Bert(bert_config),
            (ids,),
            tokens,
            "token",
        ),
        CourseModel(
            "GPT",
            "09",
            GPT(gpt_config),
            (ids,),
            tokens,
            "token",
        ),
        CourseModel(
            "HuBERT speech encoder",
            "11",
            SpeechEncoder(encoder_config),
            audio_features(frames_100, encoder_config.n_mels),
            seconds,
            speech,
        ),
        CourseModel(
            "CTC speech recogniser",
            "12",
            CTCModel(SpeechEncoder(asr_encoder_config), len(CharVocab(ALPHABET))),
            audio_features(frames_100, asr_encoder_config.n_mels),
            seconds,
            speech,
        ),
    ]
