"""speechlm: the package behind the course *Speech Language Pretraining*.

Each module holds one concept, introduced in one notebook; the notebooks
derive an idea, then call the package, which is the single source of truth.
"""

from __future__ import annotations

import platform

from speechlm.utils import cache_dir, get_device, headline, set_seed, skip_triton_on_cpu

__version__ = "0.1.0"

__all__ = ["__version__", "cache_dir", "get_device", "headline", "set_seed", "setup"]


def setup(
    seed: int = 0,
    *,
    device: str | None = None,
    quiet: bool = False,
    fetch_cache: bool | str = "auto",
    language: str = "en",
):
    """Prepare a notebook: seed everything, pick the device, print versions.

    Called by every notebook's setup cell. Returns the ``torch.device``
    (CPU unless a GPU is present or another device is requested).
    ``fetch_cache`` says whether a missing pretrained encoder, recogniser or
    label-efficiency curve (notebooks 11-17) is first fetched as a verified
    archive of the course cache instead of trained (about 12 minutes on 2
    cores): ``"auto"`` on Colab or where ``SPEECHLM_FETCH_CACHE=1``, ``True``,
    or ``False``; offline it falls back to training, with a message (see
    :mod:`speechlm.cache_fetch`). ``language`` is the language of the
    exercises' statements, hints and feedback: ``"en"``, or ``"zh"`` in the
    Chinese edition (``notebooks/zh/``); anything else is a ``ValueError``.
    """
    from speechlm import cache_fetch
    from speechlm.exercises.language import set_language

    set_language(language)  # first: a wrong language fails before anything else changes
    cache_fetch.set_fetch_policy(fetch_cache)
    dev = get_device(device)
    if dev.type == "cpu":  # before set_seed, whose torch calls already import torch._dynamo
        skip_triton_on_cpu()  # a GPU compiler a CPU run never uses: 77 MB less in every kernel
    set_seed(seed)
    try:
        import matplotlib

        matplotlib.rcParams.update({"figure.figsize": (7.0, 2.6), "figure.dpi": 80})
    except ImportError:
        pass
    else:
        from speechlm.plot import use_cjk_font

        use_cjk_font()  # Chinese characters draw in every figure (the corpus's translations, notebook 16)
    if not quiet:
        import numpy
        import torch

        try:
            import torchaudio

            ta = torchaudio.__version__
        except (ImportError, OSError):
            ta = "missing"
        print(
            f"speechlm {__version__} | python {platform.python_version()} | numpy {numpy.__version__}"
            f" | torch {torch.__version__} | torchaudio {ta} | device {dev} | seed {seed}"
        )
    return dev
