"""Course tooling for maintainers: never imported by a lesson.

What keeps the notebooks, the README and the website in step with
``notebooks/course.toml``; learners never call it (their commands, such as
``python -m speechlm cache build``, live in the rest of the package).

- :mod:`speechlm.dev.course`: the course as data (``notebooks/course.toml``,
  ``notebooks/timings.json``, the repository's address) and the memory budget;
- :mod:`speechlm.dev.headers`: ``python -m speechlm course headers``, the
  generated header and setup cells of every notebook and the README's course map;
- :mod:`speechlm.dev.checks`: ``python -m speechlm course check``, the
  conventions of CONTRIBUTING.md;
- :mod:`speechlm.dev.zh`: the Chinese edition's generated header and setup cells,
  ``README.zh.md``'s course map and ``python -m speechlm course zh-new NN``;
- :mod:`speechlm.dev.zh_sync`: the sync check of the Chinese edition (part of
  ``course check``) and ``python -m speechlm course zh-stale``;
- :mod:`speechlm.dev.glossary`: ``docs/glossary.toml`` rendered to ``docs/glossary.md``
  and the glossary rule of the sync check;
- :mod:`speechlm.dev.timing`: ``python -m speechlm course time``, each
  notebook's run time, peak memory and headline into ``notebooks/timings.json``;
- :mod:`speechlm.dev.memory`: peak memory of a kernel and its workers, and
  Binder's 2 GB emulated with a memory cgroup (also used by ``conftest.py``);
- :mod:`speechlm.dev.site`: ``python -m speechlm course site``, the course as a
  website built from the notebooks the test suite executed.
"""
