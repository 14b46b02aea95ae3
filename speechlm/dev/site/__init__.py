"""The course as a website, built from the notebooks the test suite executed.

- :mod:`speechlm.dev.site.keep_executed`: the pytest plugin that keeps each
  notebook nbval executes, outputs included, in ``build/executed``;
- :mod:`speechlm.dev.site.build`: the static HTML site in ``build/site``
  (Sphinx + MyST-NB with execution off, the book theme, MathJax bundled);
  ``python -m speechlm.dev.site build`` runs it;
- :mod:`speechlm.dev.site.check` and :mod:`speechlm.dev.site.browser`: the link,
  page-weight and headless-Chromium checks that ``tests/site_check.py`` runs.
"""

from speechlm.dev.site.build import MissingExecutedError, build_site

__all__ = ["MissingExecutedError", "build_site"]
