"""Does a change to pretraining raise the label-efficiency gain? A variant of the course's encoder
against the course's, on the course's CTC label-efficiency curve.

Pretrains the course's HuBERT recipe with the changes given (more unlabeled utterances, more steps,
more clusters, no dropout, the loss on every frame instead of the masked ones, other targets: a
cluster ensemble or BEST-RQ's random-projection units, or another objective on the same data and
budget: wav2vec 2.0's contrastive loss or data2vec's regression of an EMA teacher), caches it under ``--name``
like any recipe of ``speechlm.pretrained``, then fine-tunes it exactly as the course's CTC curve
(``label_efficiency.load_ctc_curve()``) fine-tunes the course's encoder (the same data, head, steps,
learning rate, freezing; dropout as in the course's encoder). The scratch arm does not depend on
pretraining, so it is read from that curve's cache (computed first if missing) and only the
variant's runs train::

    python benchmarks/pretraining_variants.py --name NAME CHANGES

with, for the rows of the table in benchmarks/README.md ("Which changes moved it")::

    --name hubert-2x --steps 1000 --iteration2-steps 500
    --name hubert-3k --utterances 3000 --steps 1000 --iteration2-steps 500
    --name hubert-nodrop --dropout 0 --steps 750 --iteration2-steps 375
    --name hubert-k500 --clusters 500
    --name wav2vec2 --objective wav2vec2
    --name hubert-all-frames --loss-on all
    --name data2vec --objective data2vec
    --name hubert-ensemble --ensemble 50 200
    --name best-rq --targets random_projection

``--seed S`` fine-tunes with seed S (the batches, SpecAugment, the head, the scratch encoder), as
``benchmarks/label_efficiency.py --seed S`` does for the course's encoder, whose curve at that seed
is computed first if it is not cached (issue 21 asks for three seeds per row).

Each takes the variant's pretraining (up to 10 minutes on the 2-core machine, once: it is cached)
plus about 5 minutes of fine-tuning.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from speechlm import pretrained
from speechlm.ssl import SpeechEncoder
from speechlm.ssl.hubert import LOSS_ON
from speechlm.ssl.pretrain import TARGETS

REPOSITORY = str(Path(__file__).resolve().parents[1])
if REPOSITORY not in sys.path:  # run as a script, only benchmarks/ is on the path: add the repository
    sys.path.insert(0, REPOSITORY)
from benchmarks.ctc_curves import against_course, comparison_table  # noqa: E402


def variant(args) -> pretrained.PretrainedRecipe:
    """The course's recipe with the changes asked for, under a new name (so a new cache entry)."""
    course = pretrained.RECIPES["hubert"]
    if args.name == course.name:
        raise SystemExit(f"--name must differ from the course's {course.name!r}: its cache is the baseline")
    h = course.hubert
    changes = {
        "n_utterances": args.utterances,
        "steps": args.steps,
        "iteration2_steps": args.iteration2_steps,
        "n_clusters": args.clusters,
        "loss_on": args.loss_on,
        "targets": getattr(args, "targets", None),
        "ensemble": tuple(args.ensemble) if getattr(args, "ensemble", None) else None,
    }
    hubert = replace(h, **{k: v for k, v in changes.items() if v is not None})
    if args.dropout is not None:
        hubert = replace(hubert, encoder=replace(h.encoder, dropout=args.dropout))
    return replace(course, name=args.name, hubert=hubert, objective=args.objective)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="cache name of the variant (not 'hubert')")
    p.add_argument("--utterances", type=int, help="unlabeled utterances (course: 1,000)")
    p.add_argument("--steps", type=int, help="iteration-1 steps (course: 500)")
    p.add_argument("--iteration2-steps", type=int, help="iteration-2 steps (course: 250)")
    p.add_argument("--clusters", type=int, help="k-means units of both iterations (course: 100)")
    p.add_argument("--dropout", type=float, help="encoder dropout while pretraining (course: 0.1)")
    p.add_argument("--loss-on", choices=LOSS_ON, help="frames HuBERT's loss scores (masked)")
    p.add_argument("--objective", default="hubert", choices=pretrained.OBJECTIVES,
                   help="wav2vec2, data2vec: for steps + iteration-2 steps updates")  # fmt: skip
    p.add_argument("--targets", choices=TARGETS, help="HuBERT's units (kmeans)")
    p.add_argument("--ensemble", type=int, nargs="+", help="extra codebook sizes of a cluster ensemble")
    p.add_argument("--seed", type=int, default=0, help="fine-tuning seed (both encoders' curves)")
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args(argv)
    start = time.perf_counter()
    recipe = variant(args)
    course = pretrained.RECIPES["hubert"]
    weights = pretrained.load(recipe).state_dict()
    info = pretrained.load_info(recipe)
    print(f"{args.name} ({info['time_s']:.0f} s): " + ", ".join(f"{k} {v:.3f}" for k, v in info.items()))
    encoder = SpeechEncoder(course.hubert.encoder)  # fine-tuned with the course's dropout
    encoder.load_state_dict(weights)
    rows, course_rows = against_course(encoder, workers=args.workers, seed=args.seed)
    print("\n" + comparison_table(args.name, rows, course_rows))
    print(f"\ntotal time {time.perf_counter() - start:.0f} s, torch {torch.__version__}")


if __name__ == "__main__":
    main()
