"""The embedded spoken corpus (placeholder while the synthesis lands)."""

from speechlm.corpus.grammar import TASKS, sample_scenes, sample_texts

__all__ = ["TASKS", "sample_scenes", "sample_texts"]
