"""The course as a website, built from the notebooks the test suite executed.

- :mod:`speechlm.dev.site.keep_executed`: the pytest plugin that keeps each
  notebook nbval executes, outputs included, in ``build/executed``;
- :mod:`speechlm.dev.site.build`: the static HTML site in ``build/site``
  (Sphinx + MyST-NB with execution off, the book theme, MathJax bundled);
  ``python -m speechlm.dev.site build`` runs it; its pages are made by
  :mod:`speechlm.dev.site.pages`, its configuration by
  :mod:`speechlm.dev.site.sphinx_conf`;
- :mod:`speechlm.dev.site.zh`: the Chinese edition's pages, with the outputs of
  their English notebooks, its home page and its part of the table of contents;
  every page with a counterpart has a language switch (English ↔ 中文);
- :mod:`speechlm.dev.site.check` and :mod:`speechlm.dev.site.browser`: the link,
  page-weight and headless-Chromium checks that ``tests/site_check.py`` runs.
"""

from speechlm.dev.site.build import EditionMismatchError, MissingExecutedError, build_site

__all__ = ["EditionMismatchError", "MissingExecutedError", "build_site"]
