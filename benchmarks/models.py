"""Benchmark: our attention vs PyTorch's fused kernel, and the autograd engine vs torch.autograd.

Prints Markdown tables (one run, side by side on the same machine):

- ``speechlm.attention.scaled_dot_product_attention`` (written out) vs
  ``F.scaled_dot_product_attention``: max abs error and time ratio across
  sequence lengths (float32, forward only);
- ``speechlm.autograd`` vs ``torch.autograd``: time per training step of the
  same MLP (forward, backward, SGD update) on the same batch, and the max
  difference of the parameters after the steps (float64).

Everything runs on one thread (torch and NumPy's BLAS). Run: ``python benchmarks/models.py``
(about 30 s on a 2-core CPU; ``--quick`` for a smoke test).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from speechlm.attention import scaled_dot_product_attention
from speechlm.autograd import MLP, SGD, cross_entropy


def _best_time(fn, repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def attention_table(lengths=(64, 128, 256, 512, 1024), batch=4, heads=4, head_dim=64, repeat=7) -> str:
    rows = ["| sequence length | max abs error | ours (ms) | torch SDPA (ms) | time ratio ours/torch |",
            "|---:|---:|---:|---:|---:|"]  # fmt: skip
    g = torch.Generator().manual_seed(0)
    for n in lengths:
        q, k, v = (torch.randn(batch, heads, n, head_dim, generator=g) for _ in range(3))
        with torch.no_grad():
            err = (scaled_dot_product_attention(q, k, v, causal=True)
                   - F.scaled_dot_product_attention(q, k, v, is_causal=True)).abs().max().item()  # fmt: skip
            ours = _best_time(
                lambda q=q, k=k, v=v: scaled_dot_product_attention(q, k, v, causal=True), repeat
            )
            theirs = _best_time(
                lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, is_causal=True), repeat
            )
        rows.append(f"| {n} | {err:.1e} | {1e3 * ours:.2f} | {1e3 * theirs:.2f} | {ours / theirs:.2f} |")
    return "\n".join(rows)


def autograd_table(sizes=(117, 256, 256, 40), batch=256, steps=20) -> str:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((batch, sizes[0])), rng.integers(0, sizes[-1], size=batch)
    mlp = MLP(sizes, seed=0)
    params = [torch.tensor(p.data, requires_grad=True) for p in mlp.parameters()]
    opt, topt = SGD(mlp.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(params, lr=0.1, momentum=0.9)
    tx, ty = torch.tensor(x), torch.tensor(y)

    def ours_step():
        opt.zero_grad()
        cross_entropy(mlp(x), y).backward()
        opt.step()

    def torch_step():
        topt.zero_grad()
        h = tx
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = torch.relu(h)
        F.cross_entropy(h, ty).backward()
        topt.step()

    t_ours, t_torch = [], []
    for _ in range(steps):
        start = time.perf_counter()
        ours_step()
        t_ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        torch_step()
        t_torch.append(time.perf_counter() - start)
    diff = max(
        np.abs(p.data - tp.detach().numpy()).max() for p, tp in zip(mlp.parameters(), params, strict=True)
    )
    ours, theirs = float(np.median(t_ours)), float(np.median(t_torch))
    arch = "-".join(map(str, sizes))
    return "\n".join([
        f"| MLP (float64, batch {batch}) | ours (ms/step) | torch (ms/step) | ratio ours/torch "
        f"| max param diff after {steps} steps |",
        "|---|---:|---:|---:|---:|",
        f"| {arch} | {1e3 * ours:.2f} | {1e3 * theirs:.2f} | {ours / theirs:.2f} | {diff:.1e} |",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer lengths and steps (a smoke test)")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # on a busy 2-core machine several threads measure the load, not the code
    print(f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}\n")  # fmt: skip
    print(
        "### Attention: written out vs `F.scaled_dot_product_attention`"
        " (causal, float32, batch 4, 4 heads, d 64)\n"
    )
    print(attention_table((64, 256) if args.quick else (64, 128, 256, 512, 1024)))
    print("\n### Autograd engine vs `torch.autograd`: one SGD step of the notebook 04 MLP\n")
    with threadpool_limits(1):  # NumPy's BLAS on one thread too, like torch
        print(autograd_table(steps=3 if args.quick else 20))


if __name__ == "__main__":
    main()
