"""BERT from scratch: masking, next-sentence pairs, the model, its loss (notebook 08).

* :func:`mask_tokens`: BERT's masked-LM corruption. In each sequence 15% of
  the ordinary tokens (never ``[CLS]``, ``[SEP]``, ``[PAD]``) are chosen; of
  those 80% become ``[MASK]``, 10% a random ordinary token, 10% stay as they
  are; labels are the original ids there and ``-100`` everywhere else.
* :func:`nsp_pairs`: next-sentence pairs, half true continuations from the same
  scene (label 0, ``IsNext``), half a sentence of another scene (label 1,
  ``NotNext``), the label convention of ``transformers.BertForPreTraining``.
* :class:`Bert`: embeddings (word + position + token type, LayerNorm), a
  post-LN Transformer encoder as in the BERT paper, the pooler (tanh of a
  dense layer on ``[CLS]``), the MLM head tied to the word embeddings and the
  NSP head on the pooled ``[CLS]``.
* :func:`pretraining_loss`: MLM cross-entropy over the chosen positions plus
  NSP cross-entropy, exactly what ``BertForPreTraining(..., labels=...,
  next_sentence_label=...)`` returns as ``loss``.
* :func:`to_hf` / :func:`from_hf`: weight conversion to and from
  ``transformers.BertForPreTraining``; the same weights give the same logits.
* :func:`pretraining_batch`, :func:`pretrain`, :func:`evaluate_pretraining`:
  batches of (optionally paired) sentences with Hugging Face's input names,
  a short pretraining loop and held-out MLM / NSP accuracy.
* :class:`BertClassifier`, :func:`finetune`, :func:`classify`: a
  sequence classifier on the pooled ``[CLS]`` (as
  ``BertForSequenceClassification``) and its fine-tuning loop.
"""

from speechlm.bert.data import mask_tokens, nsp_pairs, pretraining_batch, pretraining_examples
from speechlm.bert.hf import from_hf, to_hf
from speechlm.bert.model import Bert, BertConfig, BertOutput, mlm_accuracy, pretraining_loss
from speechlm.bert.training import (
    BertClassifier,
    classify,
    evaluate_pretraining,
    fill_mask,
    finetune,
    pretrain,
)

__all__ = [
    "Bert",
    "BertClassifier",
    "BertConfig",
    "BertOutput",
    "classify",
    "evaluate_pretraining",
    "fill_mask",
    "finetune",
    "from_hf",
    "mask_tokens",
    "mlm_accuracy",
    "nsp_pairs",
    "pretrain",
    "pretraining_batch",
    "pretraining_examples",
    "pretraining_loss",
    "to_hf",
]
