"""One label-efficiency measurement for a chosen pretraining recipe and fine-tuning setting.

Pretrains (or loads from the cache) a HuBERT recipe through ``speechlm.pretrained.load``,
then fine-tunes with CTC from it and from the same architecture initialised at random, on
the first N labeled utterances of the embedded corpus's training split, for each budget
and seed; prints the test CER of both (checkpoint chosen on dev speakers) and the gain::

    python benchmarks/finetune_sweep.py THREADS D_MODEL,LAYERS,UTTERANCES,IT1_STEPS,IT2_STEPS,IT2_LAYER \\
        BUDGETS FT_STEPS SEEDS LR_ENCODER LR_HEAD
    python benchmarks/finetune_sweep.py 1 144,4,1000,500,250,2 25,50 400 0,1 3e-4 2e-3

It is the driver behind the "Label efficiency" table of benchmarks/README.md.
"""

from __future__ import annotations

import sys
import time

import torch

from speechlm import corpus, finetune, pretrained, ssl
from speechlm.ctc import ALPHABET, CharVocab
from speechlm.pretrained import PretrainedRecipe
from speechlm.ssl.pretrain import HubertRecipe


def main(argv: list[str]) -> None:
    if len(argv) != 7:
        raise SystemExit(__doc__)
    torch.set_num_threads(int(argv[0]))
    d_model, layers, n_utt, it1_steps, it2_steps, it2_layer = (int(x) for x in argv[1].split(","))
    budgets = [int(b) for b in argv[2].split(",")]
    ft_steps = int(argv[3])
    seeds = [int(s) for s in argv[4].split(",")]
    lr_encoder, lr_head = float(argv[5]), float(argv[6])
    encoder_config = ssl.EncoderConfig(d_model=d_model, num_layers=layers, num_heads=4, d_ff=4 * d_model)
    hubert = HubertRecipe(
        encoder=encoder_config,
        n_utterances=n_utt,
        n_clusters=100,
        steps=it1_steps,
        iteration2_steps=it2_steps,
        iteration2_layer=it2_layer,
    )
    recipe = PretrainedRecipe("hubert", version=2, hubert=hubert)
    start = time.time()
    encoder = pretrained.load(recipe, progress=True)
    print("pretrained", pretrained.load_info(recipe), f"{time.time() - start:.0f} s", flush=True)
    vocab = CharVocab(ALPHABET)

    def prepare(split: str, size: int):
        utterances = corpus.load("embedded", split=split, size=size, seed=0, progress=False)
        return finetune.prepare(utterances, vocab)

    pool, dev, test = prepare("train", 1000), prepare("dev", 60), prepare("test", 120)
    for budget in budgets:
        mean_cer = {}
        for name in ("pretrained", "scratch"):
            cers = []
            for seed in seeds:
                if name == "pretrained":
                    init = encoder
                else:
                    torch.manual_seed(12345)
                    init = ssl.SpeechEncoder(encoder.config)
                config = finetune.FinetuneConfig(
                    steps=ft_steps,
                    lr_encoder=lr_encoder,
                    lr_head=lr_head,
                    eval_every=ft_steps // 5,
                    seed=seed,
                )
                start = time.time()
                model, info = finetune.finetune_ctc(init, pool[:budget], dev, vocab, config, progress=False)
                cer = finetune.evaluate_asr(model, test, vocab)["cer"]
                cers.append(cer)
                print(
                    f"  {name} budget={budget} seed={seed}: test CER {cer:.3f}, dev CER"
                    f" {info['best_dev_cer']:.3f} at step {info['best_step']} ({time.time() - start:.0f} s)",
                    flush=True,
                )
            mean_cer[name] = sum(cers) / len(cers)
        gain = (mean_cer["scratch"] - mean_cer["pretrained"]) / mean_cer["scratch"]
        row = f"| {budget} | {mean_cer['pretrained']:.3f} | {mean_cer['scratch']:.3f} | {gain:+.1%} |"
        print(row, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
