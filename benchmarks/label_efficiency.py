"""Label efficiency of HuBERT pretraining: CTC fine-tuning from a pretrained vs a from-scratch encoder.

The whole pipeline on one corpus: k-means targets on its unlabeled training audio, HuBERT
pretraining, then CTC fine-tuning at each labeled budget from the pretrained encoder and from the
same architecture freshly initialised. Both get the same steps, the same learning-rate grid and the
same SpecAugment; the learning rate and the checkpoint are chosen on the dev speakers and the error
rates are measured on the test speakers. With ``--freeze-fraction f`` the pretrained encoder's
first ``f`` of the steps train the head only (freezing a random encoder would only handicap the
baseline, so the scratch encoder always trains from step 1). Prints a Markdown table and the label
ratio at equal CER::

    python benchmarks/label_efficiency.py                         # embedded corpus, defaults
    python benchmarks/label_efficiency.py --corpus fsdd --root ~/data/free-spoken-digit-dataset
    python benchmarks/label_efficiency.py --corpus folder --root my_recordings --budgets 20 50
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from speechlm import corpus, finetune, ssl
from speechlm import pretrained as pretrained_cache
from speechlm.ctc import CharVocab
from speechlm.pretrained import PretrainedRecipe
from speechlm.ssl.pretrain import HubertRecipe, pretrain_hubert


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="embedded", choices=["embedded", "fsdd", "folder"])
    p.add_argument("--root", default=None, help="folder of the real corpus (fsdd, folder)")
    p.add_argument("--budgets", type=int, nargs="+", default=[25, 50, 100], help="labeled utterances")
    p.add_argument("--pretrain-utterances", type=int, default=1000)
    p.add_argument("--pretrain-steps", type=int, default=500)
    p.add_argument("--iteration2-steps", type=int, default=250)
    p.add_argument("--clusters", type=int, default=100)
    p.add_argument("--finetune-steps", type=int, default=400)
    p.add_argument(
        "--encoder-lrs", type=float, nargs="+", default=[5e-4, 2e-3], help="grid of encoder learning rates"
    )
    p.add_argument("--freeze-fraction", type=float, default=0.0, help="head-only share of the steps")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="fine-tuning seeds (results averaged)")
    p.add_argument("--d-model", type=int, default=144)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dev-size", type=int, default=100)
    p.add_argument("--test-size", type=int, default=200)
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 is fastest on a busy machine)")
    return p.parse_args(argv)


def load_split(args, split: str, size: int) -> list:
    if args.corpus == "embedded":
        return corpus.load("embedded", split=split, size=size, seed=0, progress=False)
    return corpus.load(args.corpus, split=split, size=size, root=args.root, progress=False)


def label_ratio(budgets: list[int], pre: list[float], scratch: list[float]) -> str:
    """How many more labels the scratch encoder needs to match the pretrained one at the smallest
    budget: interpolate scratch CER linearly in log(budget)."""
    target = pre[0]
    for i in range(len(budgets) - 1):
        (b0, c0), (b1, c1) = (budgets[i], scratch[i]), (budgets[i + 1], scratch[i + 1])
        if c0 >= target >= c1 and c0 != c1:
            frac = (c0 - target) / (c0 - c1)
            equal_budget = np.exp(np.log(b0) + frac * (np.log(b1) - np.log(b0)))
            return f"{equal_budget / budgets[0]:.1f}x"
    if scratch[0] <= target:
        return "1.0x or less"
    return f"more than {budgets[-1] / budgets[0]:.0f}x"


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    unlabeled = load_split(args, "train", args.pretrain_utterances)
    dev, test = load_split(args, "dev", args.dev_size), load_split(args, "test", args.test_size)
    config = ssl.EncoderConfig(
        d_model=args.d_model, num_layers=args.layers, num_heads=4, d_ff=4 * args.d_model
    )
    recipe = HubertRecipe(
        encoder=config, n_utterances=len(unlabeled), n_clusters=args.clusters, steps=args.pretrain_steps,
        iteration2_steps=args.iteration2_steps, iteration2_layer=max(1, args.layers // 2),
    )  # fmt: skip
    if args.corpus == "embedded":  # cached, and shared with the notebooks when the recipe is the default
        cached = PretrainedRecipe("hubert", version=2, hubert=recipe)
        encoder_pt = pretrained_cache.load(cached)
        info = pretrained_cache.load_info(cached)
    else:
        encoder_pt, info = pretrain_hubert([u.audio for u in unlabeled], recipe)
    print(f"pretrained ({info['time_s']:.0f} s): " + ", ".join(f"{k} {v:.3f}" for k, v in info.items()))
    torch.manual_seed(12345)
    scratch = ssl.SpeechEncoder(config)
    vocab = CharVocab(finetune.ALPHABET)
    labeled_pool = finetune.prepare(unlabeled, vocab)
    dev_items, test_items = finetune.prepare(dev, vocab), finetune.prepare(test, vocab)
    rows = []
    for budget in args.budgets:
        if budget > len(labeled_pool):
            raise SystemExit(f"budget {budget} is more than the {len(labeled_pool)} training utterances")
        result = {}
        for name, encoder, freeze in (
            ("pretrained", encoder_pt, args.freeze_fraction),
            ("scratch", scratch, 0.0),
        ):
            scores = []
            for seed in args.seeds:
                best = None
                for lr in args.encoder_lrs:
                    steps = args.finetune_steps
                    ft = finetune.FinetuneConfig(
                        steps=steps,
                        lr_encoder=lr,
                        freeze_steps=int(freeze * steps),
                        eval_every=max(1, steps // 6),
                        seed=seed,
                    )
                    model, ft_info = finetune.finetune_ctc(
                        encoder, labeled_pool[:budget], dev_items, vocab, ft
                    )
                    if best is None or ft_info["best_dev_cer"] < best[0]:
                        best = (ft_info["best_dev_cer"], model)
                scores.append(finetune.evaluate_asr(best[1], test_items, vocab))
            result[name] = {k: float(np.mean([s[k] for s in scores])) for k in ("cer", "wer")}
        rows.append((budget, result))
        pre, scr = result["pretrained"], result["scratch"]
        print(f"budget {budget}: CER pretrained {pre['cer']:.3f} scratch {scr['cer']:.3f}", flush=True)
    print(
        f"\n{args.corpus}: {len(unlabeled)} unlabeled utterances, {args.pretrain_steps} pretraining steps, "
        f"{args.finetune_steps} CTC steps, encoder lrs {args.encoder_lrs}, seeds {args.seeds}\n"
    )
    print("| labeled | CER pretrained | CER scratch | WER pretrained | WER scratch | relative CER gain |")
    print("|---:|---:|---:|---:|---:|---:|")
    for budget, r in rows:
        pre, scr = r["pretrained"], r["scratch"]
        gain = (scr["cer"] - pre["cer"]) / scr["cer"]
        cells = [
            f"{pre['cer']:.3f}",
            f"{scr['cer']:.3f}",
            f"{pre['wer']:.3f}",
            f"{scr['wer']:.3f}",
            f"{gain:+.0%}",
        ]
        print(f"| {budget} | " + " | ".join(cells) + " |")
    budgets = [b for b, _ in rows]
    ratio = label_ratio(
        budgets, [r["pretrained"]["cer"] for _, r in rows], [r["scratch"]["cer"] for _, r in rows]
    )
    print(f"\nlabel ratio at equal CER (scratch labels / pretrained labels at {budgets[0]}): {ratio}")
    print(f"total time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
