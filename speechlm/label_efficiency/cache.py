"""The JSON cache of computed label-efficiency curves (notebook 12): a curve's settings name its file
(:func:`curve_settings`, :func:`cache_name`); the file is read from the user's cache, a shared one
(``$SPEECHLM_SHARED_CACHE``) or a verified archive, else computed and written atomically; a damaged
file is reported by path and computed again."""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict

from speechlm import cache_fetch
from speechlm.label_efficiency.ctc_budgets import CTCCurveRecipe
from speechlm.label_efficiency.word_shots import NOTEBOOK_SHOTS
from speechlm.utils import atomic_write_text, cache_dir, find_cached

VERSION = 1  # bump when the training code changes, so that no stale cached curve is served

# How long a cached result takes to compute with the course's settings (measured: notebook 12 prints
# it; benchmarks/README.md for the CTC curve), announced before the runs start.
_COMPUTE_TIME = {"shots": "about a minute", "ctc": "about 8 to 10 minutes"}

# The embedded-corpus data behind the cached curves (changing them changes the cache key).
CTC_DATA = {"corpus_seed": 0, "n_dev": 60, "n_test": 120}
SHOTS_DATA = {"corpus_seed": 0, "n_train": 600, "n_dev": 200, "n_test": 300}


def curve_settings(kind: str, recipe=None, encoder: str = "hubert") -> dict:
    """The settings that name a cached curve of the course's ``encoder``: ``kind`` is ``"ctc"``
    (:func:`load_ctc_curve`, ``recipe`` defaults to :class:`CTCCurveRecipe`'s) or ``"shots"``
    (:func:`load_shots_curve`, default :data:`NOTEBOOK_SHOTS`)."""
    from speechlm import pretrained

    default, data = {"ctc": (CTCCurveRecipe(), CTC_DATA), "shots": (NOTEBOOK_SHOTS, SHOTS_DATA)}[kind]
    return {"recipe": asdict(recipe or default), "encoder": pretrained.cache_path(encoder).stem, **data}


def cache_name(kind: str, settings: dict) -> str:
    """The file name (in ``cache_dir("results")``) of the curve ``kind`` computed with ``settings``."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"label-efficiency-{kind}-v{VERSION}-{digest}.json"


def _cached(kind: str, settings: dict, compute, progress: bool) -> dict:
    """``{"rows": compute(), "settings", "seconds"}``, cached as JSON under a name that hashes the
    ``settings``: read from the user's cache or a shared one (``$SPEECHLM_SHARED_CACHE``, built once
    by an instructor), else computed and written atomically to the user's cache. A damaged file is
    reported by path (a warning) and computed again."""
    name = cache_name(kind, settings)
    expected = json.loads(json.dumps(settings, default=str))
    result = _read_cached(name, expected)
    if result is None and cache_fetch.fetch_if_enabled("results", name):  # Colab: a verified archive
        result = _read_cached(name, expected)
    if result is not None:
        return result
    print(
        f"The label-efficiency {kind} results are not in the cache yet: training their runs now, once "
        f"({_COMPUTE_TIME[kind]} on a 2-core CPU); every later call reads them from the cache."
    )
    start = time.perf_counter()
    result = {"rows": compute(), "settings": settings}
    result["seconds"] = time.perf_counter() - start
    atomic_write_text(cache_dir("results") / name, json.dumps(result, indent=1, default=str))
    return result


def _read_cached(name: str, settings: dict) -> dict | None:
    """The cached result ``name`` (``settings`` as JSON gives them back), or None to compute it. A
    damaged copy in the user's cache is deleted (then a shared cache may still have a good one); one
    in a shared cache is ignored, and the result computed again shadows it."""
    while (path := find_cached("results", name)) is not None:
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
                raise ValueError('not a JSON object with a "rows" list')
            if result.get("settings") != settings:
                raise ValueError(f"its settings {result.get('settings')} are not {settings}")
            return result
        except (OSError, ValueError) as err:
            problem = f"cannot use the cached label-efficiency curve {path} ({err})"
        mine = path.parent == cache_dir("results", create=False)
        if not mine:
            warnings.warn(
                f"{problem}: ignoring it and computing the curve again into {cache_dir('results')}; "
                "ask whoever built the shared cache ($SPEECHLM_SHARED_CACHE) to rebuild it",
                stacklevel=4,
            )
            return None
        warnings.warn(
            f"{problem}: deleting it, then reading a shared cache's copy or computing the curve again",
            stacklevel=4,
        )
        try:
            path.unlink()
        except OSError:
            return None  # the result computed again replaces it
    return None
