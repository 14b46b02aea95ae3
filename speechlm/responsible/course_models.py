"""The models the course trains, at the sizes its notebooks use, with an input of a given length
(notebook 17's cost table).

Weights are random: parameters, MACs and CPU time do not depend on them. The
sizes follow the notebooks (04: MLP on 9 stacked MFCC frames; 05: CNN and
GRU on 40 log-mel bands at 100 frames/s; 07: Transformer on 40 bands at 50
frames/s; 08: BERT; 09: GPT; 11: the HuBERT encoder; 12: the CTC model);
BERT's and GPT's vocabulary is the 1,000 WordPieces their tokenizers are
trained for.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from speechlm.bert import Bert, BertConfig
from speechlm.classifiers import CNNClassifier, GRUClassifier, TransformerClassifier
from speechlm.corpus import PHONES
from speechlm.corpus.lexicon import COMMAND_ACTIONS
from speechlm.ctc import CharVocab
from speechlm.finetune import ALPHABET, CTCModel
from speechlm.gpt import GPT, GPTConfig
from speechlm.pretrained import RECIPES
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
    a forward pass over one clip) or ``tokens`` tokens (BERT, GPT). Inputs are seeded random."""
    if seconds < 0.1 or not 1 <= tokens <= 32:
        raise ValueError(f"need seconds >= 0.1 and 1 <= tokens <= 32, got {seconds} and {tokens}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    samples = int(seconds * 16_000)
    frames_100, frames_50 = 1 + samples // 160, 1 + samples // 320
    encoder_config = RECIPES["hubert"].hubert.encoder

    def audio_features(frames: int, bands: int) -> tuple:
        return torch.randn(1, frames, bands, generator=generator), torch.tensor([frames])

    ids = torch.randint(1, 1000, (1, tokens), generator=generator)
    gru = GRUClassifier(40, 10, hidden=64, bidirectional=True, dropout=0.2, stack=2)
    mlp = nn.Sequential(nn.Linear(9 * 13, 128), nn.ReLU(), nn.Linear(128, len(PHONES)))
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
            TransformerClassifier(40, len(COMMAND_ACTIONS), d_model=64, num_heads=4, num_layers=2, d_ff=128),
            audio_features(frames_50, 40),
            seconds,
            speech,
        ),
        CourseModel(
            "BERT (MLM + NSP heads)",
            "08",
            Bert(BertConfig(vocab_size=1000, hidden=64, layers=2, heads=4, intermediate=256, max_len=48)),
            (ids,),
            tokens,
            "token",
        ),
        CourseModel(
            "GPT",
            "09",
            GPT(GPTConfig(vocab_size=1000, context=32, width=64, layers=2, heads=4)),
            (ids,),
            tokens,
            "token",
        ),
        CourseModel(
            "HuBERT speech encoder",
            "11",
            SpeechEncoder(encoder_config),
            audio_features(frames_100, 80),
            seconds,
            speech,
        ),
        CourseModel(
            "CTC speech recogniser",
            "12",
            CTCModel(SpeechEncoder(encoder_config), len(CharVocab(ALPHABET))),
            audio_features(frames_100, 80),
            seconds,
            speech,
        ),
    ]
