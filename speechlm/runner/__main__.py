"""``python -m speechlm pretrain --config C.yaml`` (also under ``torchrun --nproc_per_node=N``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m speechlm pretrain",
        description="HuBERT-style pretraining with checkpoints, resume, a JSONL log and evaluation; "
        "run it under `torchrun --nproc_per_node=N` for data parallelism.",
    )
    parser.add_argument("--config", required=True, help="a YAML file (see configs/pretrain_tiny_cpu.yaml)")
    parser.add_argument("--run-dir", help="override the config's run_dir")
    parser.add_argument("--steps", type=int, help="override train.steps")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    from speechlm.runner.config import ConfigError, PretrainConfig, load_config
    from speechlm.runner.loop import run

    try:
        config = load_config(args.config)
        if args.run_dir or args.steps:
            raw = config.to_dict()
            raw["run_dir"] = args.run_dir or raw["run_dir"]
            raw["train"]["steps"] = args.steps or raw["train"]["steps"]
            config = PretrainConfig.from_dict(raw, source=f"{args.config} (with command-line overrides)")
        records = run(config, progress=not args.no_progress)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    evals = [r for r in records if "eval_loss" in r]
    if evals:
        last = evals[-1]
        print(f"step {last['step']}: dev masked-prediction loss {last['eval_loss']:.3f}, "
              f"accuracy {last['eval_accuracy']:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
