"""Label efficiency of HuBERT pretraining on any corpus: CTC from a pretrained vs a from-scratch encoder.

The whole pipeline on one corpus: k-means targets on its unlabeled training audio, HuBERT
pretraining (iterations 1 and 2), then CTC training at each labeled budget from the pretrained
encoder and from the same architecture freshly initialised (``speechlm.label_efficiency.ctc_curve``:
the same head, steps, learning-rate grid and SpecAugment for both; the learning rate and the
checkpoint chosen on the dev speakers; CER and WER on the test speakers). Prints a Markdown table
and the label ratio at equal CER::

    python benchmarks/label_efficiency.py                         # embedded corpus, defaults
    python benchmarks/label_efficiency.py --corpus fsdd --root ~/data/free-spoken-digit-dataset
    python benchmarks/label_efficiency.py --corpus folder --root my_recordings --budgets 20 50
    python benchmarks/label_efficiency.py --corpus folder --root ~/data/asterisk-en  # asterisk_corpus.py
    python benchmarks/label_efficiency.py --corpus folder --root ~/data/fillets-nl  # fillets_corpus.py
    python benchmarks/label_efficiency.py --encoder-lrs 5e-4 2e-3   # a grid: twice the runs

With the defaults (600 steps, encoder learning rate 2e-3, at 25, 50 and 100 labels: the course's CTC
curve, ``label_efficiency.load_ctc_curve()``; notebook 12 computes only the digit-word point, and
``--shots`` adds that whole curve) the curve takes about 8 minutes on the 2-core machine, plus the
pretraining (cached for the embedded corpus; 5-10 minutes on a new corpus). Measured in all on real
recordings: 18 minutes on Asterisk's English prompts, 25 on the longer lines of Fish Fillets
(benchmarks/README.md).

On the embedded corpus with the default pretraining settings the encoder is the course's cached one
(``speechlm.pretrained.load("hubert")``, the encoder of notebooks 11-17). A real corpus is read
from ``--root`` and shuffled (seed 0); the first N training utterances no longer than
``--max-seconds`` (5 s, the length of the embedded corpus's longest) are labeled, and pretraining
sees every training utterance cut into pieces of at most that length, so that a step costs about
what it costs on the embedded corpus (``real_corpus_data``). FSDD has no dev split, so random
training utterances serve as dev, and a folder needs ``train/`` and ``test/`` sub-folders (``dev/``
optional). ``--shots`` adds the digit-word curve (1, 3 and 10 recordings per digit; notebook 12
computes the first point) on the embedded corpus only.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from speechlm import corpus, finetune, label_efficiency
from speechlm import pretrained as pretrained_cache
from speechlm.ctc import ALPHABET, CharVocab
from speechlm.ssl.pretrain import pretrain_hubert

REPOSITORY = str(Path(__file__).resolve().parents[1])
if REPOSITORY not in sys.path:  # run as a script, only benchmarks/ is on the path: add the repository
    sys.path.insert(0, REPOSITORY)
from benchmarks.ctc_curves import label_ratio, markdown_table  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    default = label_efficiency.CTCCurveRecipe()
    course = pretrained_cache.RECIPES["hubert"].hubert
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="embedded", choices=["embedded", "fsdd", "folder"])
    p.add_argument("--root", default=None, help="folder of the real corpus (fsdd, folder)")
    p.add_argument("--budgets", type=int, nargs="+", default=list(default.budgets), help="labeled utterances")
    p.add_argument("--steps", type=int, default=default.steps, help="CTC steps, the same for every run")
    p.add_argument(
        "--encoder-lrs", type=float, nargs="+", default=list(default.encoder_lrs), help="grid, both arms"
    )
    p.add_argument("--freeze-fraction", type=float, default=default.freeze_fraction,
                   help="share of the steps the pretrained encoder stays frozen (1: always)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="fine-tuning seed")
    p.add_argument("--pretrain-utterances", type=int, default=course.n_utterances)
    p.add_argument("--pretrain-steps", type=int, default=course.steps)
    p.add_argument("--iteration2-steps", type=int, default=course.iteration2_steps)
    p.add_argument("--max-seconds", type=float, default=5.0,
                   help="a real corpus: pretrain on pieces of at most this length and label only "
                   "utterances up to it (0: off; the embedded corpus's longest is 4.7 s)")  # fmt: skip
    p.add_argument("--dev-size", type=int, default=60)
    p.add_argument("--test-size", type=int, default=120)
    p.add_argument("--workers", type=int, default=None, help="processes (default: 2 where 2 cores exist)")
    p.add_argument("--shots", action="store_true", help="also the digit-word curve (embedded corpus)")
    return p.parse_args(argv)


def _hold_out(items: list, n: int, seed: int = 0) -> tuple[list, list]:
    """Shuffle ``items`` (seeded) and split off ``n`` of them: ``(held out, rest)``."""
    order = np.random.default_rng(seed).permutation(len(items))
    shuffled = [items[i] for i in order]
    return shuffled[:n], shuffled[n:]


def load_splits(args) -> tuple[list, list, list]:
    """(unlabeled training utterances in a random order, dev, test) of the chosen corpus."""
    if args.corpus == "embedded":  # already in a random order; the first N are the course's N labels
        train = corpus.load("embedded", split="train", size=args.pretrain_utterances, seed=0, progress=False)
        dev = corpus.load("embedded", split="dev", size=args.dev_size, seed=0, progress=False)
        test = corpus.load("embedded", split="test", size=args.test_size, seed=0, progress=False)
        return train, dev, test
    if args.root is None:
        raise SystemExit(f"--corpus {args.corpus} needs --root PATH (a local copy; nothing is downloaded)")
    root = Path(args.root).expanduser()
    if args.corpus == "folder" and not ((root / "train").is_dir() and (root / "test").is_dir()):
        raise SystemExit(f"{root} needs train/ and test/ sub-folders (and optionally dev/), one per split")
    train = corpus.load(args.corpus, split="train", root=root, progress=False)
    test = _hold_out(corpus.load(args.corpus, split="test", root=root, progress=False), args.test_size)[0]
    if args.corpus == "folder" and (root / "dev").is_dir():
        dev = _hold_out(corpus.load("folder", split="dev", root=root, progress=False), args.dev_size)[0]
        train = _hold_out(train, 0)[1]
    else:  # no dev split (FSDD): hold out random training utterances
        dev, train = _hold_out(train, args.dev_size)
    return train[: args.pretrain_utterances], dev, test


def cut(audio: np.ndarray, max_samples: int) -> list[np.ndarray]:
    """``audio`` in the fewest equal pieces of at most ``max_samples`` (itself when short enough)."""
    n = len(audio)
    pieces = max(1, -(-n // max_samples))
    return [audio[i * n // pieces : (i + 1) * n // pieces] for i in range(pieces)]


def real_corpus_data(unlabeled: list, max_seconds: float) -> tuple[list[np.ndarray], list]:
    """A real corpus's (pretraining audio, labeled pool): every training utterance cut into pieces
    of at most ``max_seconds``, and the utterances no longer than that, in order (0: no limit).

    A step of pretraining or fine-tuning costs about the length of the longest utterance in its
    batch, so a corpus of long lines (Fish Fillets: up to 14 s) would take several times longer than
    the embedded corpus (at most 4.7 s) for the same steps. Cutting is harmless for pretraining (it
    needs no transcript; HuBERT and wav2vec 2.0 crop too); labeled utterances cannot be cut, so long
    ones are left out of the labeled pool. Dev and test utterances are kept whole."""
    if max_seconds < 0:
        raise SystemExit(f"--max-seconds must be positive (0: no limit), got {max_seconds}")
    if max_seconds == 0:
        return [u.audio for u in unlabeled], list(unlabeled)
    limit = round(max_seconds * corpus.SAMPLE_RATE)
    pieces = [piece for u in unlabeled for piece in cut(u.audio, limit)]
    return pieces, [u for u in unlabeled if len(u.audio) <= limit]


def pretraining_recipe(args, n_utterances: int) -> pretrained_cache.PretrainedRecipe:
    """The course's recipe with this run's data size and steps (the course's own with the defaults)."""
    course = pretrained_cache.RECIPES["hubert"]
    hubert = replace(
        course.hubert,
        n_utterances=n_utterances,
        steps=args.pretrain_steps,
        iteration2_steps=args.iteration2_steps,
    )
    return replace(course, hubert=hubert)


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    unlabeled, dev, test = load_splits(args)
    if args.corpus == "embedded":
        pool = unlabeled
    else:
        audio, pool = real_corpus_data(unlabeled, args.max_seconds)
        print(f"pretraining on {len(audio)} pieces of {len(unlabeled)} utterances; {len(pool)} labelable")
    label_efficiency.check_budgets(args.budgets, len(pool))  # before the pretraining, not after
    if args.corpus == "embedded":  # cached; the course's own encoder with the default settings
        recipe = pretraining_recipe(args, len(unlabeled))
        encoder, info = pretrained_cache.load(recipe), pretrained_cache.load_info(recipe)
    else:
        encoder, info = pretrain_hubert(audio, pretraining_recipe(args, len(audio)).hubert)
    print(f"pretrained ({info['time_s']:.0f} s): " + ", ".join(f"{k} {v:.3f}" for k, v in info.items()))

    vocab = CharVocab(ALPHABET)
    labeled = finetune.prepare(pool[: max(args.budgets)], vocab)
    dev_items, test_items = finetune.prepare(dev, vocab), finetune.prepare(test, vocab)
    recipe = label_efficiency.CTCCurveRecipe(
        budgets=tuple(args.budgets),
        steps=args.steps,
        encoder_lrs=tuple(args.encoder_lrs),
        freeze_fraction=args.freeze_fraction,
        seed=args.seed,
    )
    rows = label_efficiency.ctc_curve(encoder, labeled, dev_items, test_items, recipe, workers=args.workers)
    print(
        f"\n{args.corpus}: {len(unlabeled)} unlabeled utterances, {args.pretrain_steps} + "
        f"{args.iteration2_steps} pretraining steps; {args.steps} CTC steps per run, encoder learning "
        f"rates {list(args.encoder_lrs)} (chosen on {len(dev_items)} dev utterances), pretrained encoder "
        f"frozen for {args.freeze_fraction:.0%} of the steps; {len(test_items)} test utterances\n"
    )
    print(markdown_table(rows))
    for r in rows:
        print(f"  {r['budget']}: encoder lr: pretrained {r['pretrained_lr']:g}, scratch {r['scratch_lr']:g}")
    budgets = [r["budget"] for r in rows]
    ratio = label_ratio(budgets, [r["pretrained_cer"] for r in rows], [r["scratch_cer"] for r in rows])
    shown = f"{ratio:.1f}x" if ratio else f"more than {budgets[-1] / budgets[0]:.0f}x"
    print(f"\nlabel ratio at equal CER (scratch labels / pretrained labels at {budgets[0]}): {shown}")
    if args.shots:
        if args.corpus != "embedded":
            raise SystemExit("--shots uses the embedded corpus's digit words")
        shots = label_efficiency.load_shots_curve(label_efficiency.ShotsRecipe(), progress=False)["rows"]
        print("\n| labeled per digit | accuracy pretrained | accuracy scratch |\n|---:|---:|---:|")
        for r in shots:
            print(f"| {r['shots']} | {r['pretrained_accuracy']:.1%} | {r['scratch_accuracy']:.1%} |")
    print(f"\ntotal time {time.perf_counter() - start:.0f} s, torch {torch.__version__}")


if __name__ == "__main__":
    main()
