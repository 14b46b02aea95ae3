"""Benchmark: speechlm.gpt vs transformers.GPT2LMHeadModel (notebooks 08-09).

Prints Markdown tables, measured side by side in one run:

1. Training throughput (tokens per second) of our GPT and of Hugging Face's
   GPT-2 with the same configuration, the same initial weights (copied with
   ``gpt.to_hf``) and the same batches: forward, next-token loss, backward and
   an AdamW step. Hugging Face runs with its default attention ("sdpa") and
   with "eager". Times are the best of ``--repeat`` rounds, the models
   alternating within each round, so that a busy machine slows both alike.
   The largest logit difference at the start is reported too (parity).
2. Generation speed (new tokens per second, greedy) of our GPT with and
   without the KV cache, and of ``GPT2LMHeadModel.generate`` (which uses its cache).

Everything runs on one CPU thread by default (``--threads``): on a shared
2-core machine more threads measure the machine's load, not the code. Target:
ours at least as fast as Hugging Face's (ratio >= 1).

Run: ``python benchmarks/language_models.py`` (about a minute on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
import transformers

from speechlm import gpt


def _train_step_fn(model, hf: bool, batches):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def run(n_steps: int) -> None:
        for i in range(n_steps):
            ids = batches[i % len(batches)]
            loss = model(input_ids=ids, labels=ids).loss if hf else gpt.lm_loss(model(ids), ids)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return run


def training_table(cfg: gpt.GPTConfig, batch: int, steps: int, repeat: int) -> list[str]:
    torch.manual_seed(0)
    ours = gpt.GPT(cfg)
    contenders = {"speechlm.gpt.GPT": (ours, False)}
    for attn in ("sdpa", "eager"):
        contenders[f"GPT2LMHeadModel ({attn})"] = (gpt.to_hf(ours, attn_implementation=attn), True)
    gen = torch.Generator().manual_seed(1)
    batches = [torch.randint(cfg.vocab_size, (batch, cfg.max_len), generator=gen) for _ in range(steps)]
    with torch.no_grad():
        ours.eval()
        reference = ours(batches[0])
        errors = {
            name: float((model.eval()(batches[0]).logits - reference).abs().max())
            for name, (model, hf) in contenders.items()
            if hf
        }
    runs = {name: _train_step_fn(model, hf, batches) for name, (model, hf) in contenders.items()}
    for run in runs.values():
        run(2)  # warm-up
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run(steps)
            best[name] = min(best[name], time.perf_counter() - start)
    tokens = steps * batch * cfg.max_len
    ours_tps = tokens / best["speechlm.gpt.GPT"]
    rows = [
        "| model | training tokens/s | ours / this | max abs logit difference |",
        "|---|---|---|---|",
    ]
    for name, seconds in best.items():
        tps = tokens / seconds
        err = "-" if name not in errors else f"{errors[name]:.1e}"
        rows.append(f"| {name} | {tps:,.0f} | {ours_tps / tps:.2f} | {err} |")
    return rows


def generation_table(cfg: gpt.GPTConfig, batch: int, new_tokens: int, repeat: int) -> list[str]:
    torch.manual_seed(0)
    ours = gpt.GPT(cfg).eval()
    hf = gpt.to_hf(ours, attn_implementation="sdpa").eval()
    prompt = torch.zeros(batch, 1, dtype=torch.long)
    contenders = {
        "speechlm.gpt.generate, KV cache": lambda: gpt.generate(ours, prompt, new_tokens, greedy=True),
        "speechlm.gpt.generate, no cache": lambda: gpt.generate(
            ours, prompt, new_tokens, greedy=True, use_cache=False
        ),
        "GPT2LMHeadModel.generate (cache)": lambda: hf.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=0,
        ),
    }
    outputs = {name: fn() for name, fn in contenders.items()}  # warm-up, and the tokens must agree
    first = next(iter(outputs.values()))
    assert all(torch.equal(out, first) for out in outputs.values()), "greedy generations differ"
    best = dict.fromkeys(contenders, float("inf"))
    with torch.no_grad():
        for _ in range(repeat):
            for name, fn in contenders.items():
                start = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - start)
    cached = batch * new_tokens / best["speechlm.gpt.generate, KV cache"]
    rows = ["| generation | new tokens/s | ours with cache / this |", "|---|---|---|"]
    for name, seconds in best.items():
        tps = batch * new_tokens / seconds
        rows.append(f"| {name} | {tps:,.0f} | {cached / tps:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = gpt.GPTConfig(
        vocab_size=args.vocab,
        max_len=args.context,
        d_model=args.width,
        num_layers=args.layers,
        num_heads=args.heads,
    )
    print(
        f"GPT: {args.layers} layers, width {args.width}, {args.heads} heads, context {args.context}, "
        f"vocabulary {args.vocab}; batch {args.batch}; {args.threads} thread(s); "
        f"{platform.processor() or 'cpu'}; "
        f"torch {torch.__version__}, transformers {transformers.__version__}\n"
    )
    print("\n".join(training_table(cfg, args.batch, args.steps, args.repeat)))
    print()
    print("\n".join(generation_table(cfg, args.batch, args.context - 1, args.repeat)))


if __name__ == "__main__":
    main()
