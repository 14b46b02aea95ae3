"""``python -m speechlm pretrain --config C.yaml`` (also under ``torchrun --nproc_per_node=N``).

Every problem with the config, the ``run_dir`` or the checkpoints is printed as
``error: ...`` (what is wrong and the fix, no traceback) with exit status 2;
damage that the run works around is printed as ``warning: ...``.
"""

from __future__ import annotations

import argparse
import sys
import warnings


def _steps(text: str) -> int:
    """``--steps``: the total number of training steps to reach, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of steps, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be at least 1 (the total number of steps to reach), got {value}"
        )
    return value


def _plain(show_warning, category: type[Warning]):
    """``warnings.showwarning`` that prints ``category`` as ``warning: message``, others as before."""

    def show(message, warning_category, *args, **kwargs):
        if issubclass(warning_category, category):
            print(f"warning: {message}", file=sys.stderr)
        else:
            show_warning(message, warning_category, *args, **kwargs)

    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m speechlm pretrain",
        description="HuBERT-style pretraining with checkpoints, resume, a JSONL log and evaluation; "
        "run it under `torchrun --nproc_per_node=N` for data parallelism.",
    )
    parser.add_argument("--config", required=True, help="a YAML file (see configs/pretrain_tiny_cpu.yaml)")
    parser.add_argument("--run-dir", help="override the config's run_dir")
    parser.add_argument(
        "--steps",
        type=_steps,
        help="override train.steps: the total to reach (a resumed run continues to it)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    from speechlm.runner.checkpoint import RunError, RunWarning
    from speechlm.runner.config import ConfigError, PretrainConfig, load_config
    from speechlm.runner.loop import run
    from speechlm.utils import skip_triton_on_cpu

    skip_triton_on_cpu()  # every rank of a CPU run: no GPU compiler loaded with the optimizer

    try:
        config = load_config(args.config)
        if args.run_dir is not None or args.steps is not None:
            raw = config.to_dict()
            if args.run_dir is not None:
                raw["run_dir"] = args.run_dir
            if args.steps is not None:
                raw["train"]["steps"] = args.steps
            config = PretrainConfig.from_dict(raw, source=f"{args.config} (with command-line overrides)")
        with warnings.catch_warnings():
            warnings.showwarning = _plain(warnings.showwarning, RunWarning)
            records = run(config, progress=not args.no_progress)
    except (ConfigError, RunError) as exc:
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
