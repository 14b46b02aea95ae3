"""How much could better targets give? The course's encoder pretrained on the true phones.

HuBERT's paper (Hsu et al. 2021) measures its k-means targets against a supervised topline: the
same masked prediction with phonetic units from a forced alignment as the targets. This script
does that on the course's data: the course's HuBERT recipe (the same 1,000 training utterances,
encoder, masking, optimiser and seed; its 500 + 250 updates in one run of 750) with every 20 ms
frame's eSpeak phone as its target instead of a k-means unit, then the CTC fine-tuning of the course's
label-efficiency curve (``label_efficiency.load_ctc_curve()``: the same labelled utterances, head,
steps, learning rate and freezing). The scratch arm does not depend on pretraining, so it is read
from that curve's cache, as
``pretraining_variants.py`` does::

    python benchmarks/oracle_targets.py            # masked prediction of phones (HuBERT's topline)
    python benchmarks/oracle_targets.py --loss-on all   # every frame scored: supervised phone training
    python benchmarks/oracle_targets.py --steps 1500    # twice the course's pretraining updates

The phone alignments are labels the self-supervised recipes never see (they are the corpus's
synthesis alignments), so this is not a recipe for the course: it is the ceiling of what better
units could pass on to fine-tuning at this encoder size, number of updates and fine-tuning recipe.
About 5 minutes of pretraining and 5 of fine-tuning on the 2-core machine; the encoder is cached
under the benchmarks' cache folder, named by the options and the course recipe's key.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from speechlm import corpus, pretrained, units
from speechlm.features import ENCODER_FRAME_RATE_HZ, encoder_lengths, log_mel_features
from speechlm.ssl import HuBERT, SpeechEncoder
from speechlm.ssl.hubert import LOSS_ON, check_loss_on
from speechlm.ssl.pretrain import train_on_targets
from speechlm.utils import atomic_path, cache_dir

REPOSITORY = str(Path(__file__).resolve().parents[1])
if REPOSITORY not in sys.path:  # run as a script, only benchmarks/ is on the path: add the repository
    sys.path.insert(0, REPOSITORY)
from benchmarks.ctc_curves import against_course, comparison_table  # noqa: E402


def phone_targets(utterances, mels) -> tuple[list[np.ndarray], list[str]]:
    """Each utterance's phone index at every encoder frame, and the phone inventory (sorted)."""
    frames = [int(encoder_lengths(torch.tensor(len(m)))) for m in mels]
    labels = [
        units.frame_phone_labels(u.phones, n, ENCODER_FRAME_RATE_HZ)
        for u, n in zip(utterances, frames, strict=True)
    ]
    inventory = sorted(set(np.concatenate(labels).tolist()))
    index = {p: i for i, p in enumerate(inventory)}
    return [np.array([index[p] for p in lab], dtype=np.int64) for lab in labels], inventory


def pretrain_on_phones(loss_on: str, steps: int | None = None, progress: bool = True) -> tuple[dict, dict]:
    """The course's recipe with phone targets for ``steps`` updates (default: the course's 500 + 250):
    ``(encoder state dict, info)``, cached."""
    course = pretrained.RECIPES["hubert"]
    h = course.hubert
    check_loss_on(loss_on)
    steps = steps or h.steps + h.iteration2_steps
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    path = cache_dir("benchmarks") / f"oracle-phones-{loss_on}-{steps}-{course.key()}.pt"
    if path.exists():
        saved = torch.load(path, weights_only=True)
        return saved["state"], saved["info"]
    utts = corpus.load("embedded", split="train", size=h.n_utterances, seed=course.corpus_seed)
    mels = [log_mel_features(u.audio) for u in utts]
    targets, inventory = phone_targets(utts, mels)
    torch.manual_seed(h.seed)
    model = HuBERT(len(inventory), h.encoder, loss_on=loss_on)
    history = train_on_targets(model, mels, targets, h, steps, progress, h.seed)
    info = {"phones": float(len(inventory)), "train_loss": history.train_loss[-1], "time_s": history.time_s}
    state = model.encoder.state_dict()
    with atomic_path(path) as tmp:  # whole or not at all
        torch.save({"state": state, "info": info}, tmp)
    return state, info


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loss-on", default="masked", choices=LOSS_ON,
                   help="masked: HuBERT's topline; all: every frame's phone (supervised)")  # fmt: skip
    p.add_argument("--steps", type=int, default=None, help="pretraining updates (course: 500 + 250)")
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args(argv)
    start = time.perf_counter()
    state, info = pretrain_on_phones(args.loss_on, args.steps)
    print("oracle pretraining: " + ", ".join(f"{k} {v:.3f}" for k, v in info.items()))
    course = pretrained.RECIPES["hubert"]
    encoder = SpeechEncoder(course.hubert.encoder)
    encoder.load_state_dict(state)
    rows, course_rows = against_course(encoder, workers=args.workers)
    name = f"phone targets ({args.loss_on}{f', {args.steps} steps' if args.steps else ''})"
    print("\n" + comparison_table(name, rows, course_rows))
    print(f"\ntotal time {time.perf_counter() - start:.0f} s, torch {torch.__version__}")


if __name__ == "__main__":
    main()
