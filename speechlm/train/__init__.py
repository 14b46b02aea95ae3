"""The course's one training loop, evaluation helpers and a history plot (introduced in notebook 05).

:func:`fit` trains any ``torch.nn.Module``. What one step computes is a
callback, so the same loop serves classifiers, BERT, GPT, CTC and
pretraining:

- ``step_fn(model, batch) -> loss`` (or ``(loss, {"name": value, ...})``) for
  anything custom;
- else ``loss_fn``: the batch is a tuple ``(*inputs, target)`` (for example a
  :class:`speechlm.batching.PaddedBatch`) and the loss is
  ``loss_fn(model(*inputs), target)``;
- else the model computes its own loss: ``loss = model(*batch)`` (or
  ``model(**batch)`` for a dict).

It moves batches to the device, clips gradients, steps an optional scheduler
(:mod:`speechlm.optim`), shows a ``tqdm.auto`` bar with the live loss,
evaluates on ``eval_loader`` (or with ``eval_fn``, for a metric such as a
character error rate), keeps the weights of the best evaluation if asked
(``keep_best``), and returns a :class:`History`. A loader without a length
(an endless sampler of random batches) trains for ``steps``. With the same seed two runs give identical
histories. ``checkpoint=path`` saves model and optimizer state dicts
atomically at every evaluation; :func:`load_checkpoint` reads them back with
``weights_only=True``.
"""

from speechlm.train.adamw import fit_adamw
from speechlm.train.checkpoint import load_checkpoint
from speechlm.train.loop import History, default_step_fn, evaluate, fit, to_device
from speechlm.train.results import confusion_matrix, count_parameters, plot_history, predict

__all__ = [
    "History",
    "confusion_matrix",
    "count_parameters",
    "default_step_fn",
    "evaluate",
    "fit",
    "fit_adamw",
    "load_checkpoint",
    "plot_history",
    "predict",
    "to_device",
]
