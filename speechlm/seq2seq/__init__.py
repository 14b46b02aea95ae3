"""Encoder-decoder Transformer, teacher forcing, greedy and beam search decoding (notebook 16).

.. math::
    p(y \\mid x) = \\prod_{t=1}^{T} p(y_t \\mid y_{<t}, \\mathrm{Enc}(x)), \\qquad
    \\mathrm{CrossAttn}(Y, M) = \\mathrm{softmax}\\left(\\frac{(Y W_Q)(M W_K)^\\top}{\\sqrt{d}}\\right) M W_V

* :class:`DecoderBlock`: pre-LN causal self-attention, cross-attention to the encoder memory
  ``M (batch, source, d_model)`` (padded source frames masked), feed-forward. It equals
  ``nn.TransformerDecoderLayer(norm_first=True, batch_first=True)`` once weights are copied
  (:meth:`DecoderBlock.copy_from_torch`) and can return the cross-attention weights.
* :class:`TokenEncoder` (source tokens, for text translation) and :class:`FeatureEncoder` (frames
  such as the pretrained speech encoder's output, :func:`speech_features`) give the memory;
  :class:`Seq2Seq` joins an encoder and a :class:`TransformerDecoder`.
* Teacher forcing (:func:`teacher_forcing_batch`, :func:`seq2seq_loss`, :func:`train_seq2seq`):
  the decoder reads the reference prefix ``<bos> y_1 .. y_{T}`` and predicts ``y_1 .. y_T <eos>``.
* :func:`greedy_decode` (batched) and :func:`beam_search` (one utterance at a time, a shrinking beam:
  a hypothesis that emits ``<eos>`` leaves the beam, which narrows by one; the best finished
  hypothesis by ``log p / length ** length_penalty`` wins; the loop is :func:`beam_search_one`).

Token conventions follow :class:`speechlm.text.CharTokenizer`: ``<eos>`` (id 2) also starts every
target (the ``<bos>``), id 0 pads. :func:`chinese_tokenizer` builds the character vocabulary of the
Chinese side; :func:`translation_scores` computes chrF and BLEU with ``sacrebleu``.

Modules: :mod:`~speechlm.seq2seq.model` (the network), :mod:`~speechlm.seq2seq.training` (teacher
forcing), :mod:`~speechlm.seq2seq.decoding` (greedy, beam search, :func:`translate`) and
:mod:`~speechlm.seq2seq.translation` (speech features, the Chinese tokenizer, scores).
"""

from speechlm.seq2seq.decoding import Hypothesis, beam_search, beam_search_one, greedy_decode, translate
from speechlm.seq2seq.model import DecoderBlock, FeatureEncoder, Seq2Seq, TokenEncoder, TransformerDecoder
from speechlm.seq2seq.training import seq2seq_loss, teacher_forcing_batch, train_seq2seq
from speechlm.seq2seq.translation import chinese_tokenizer, sentence_chrf, speech_features, translation_scores

__all__ = [
    "DecoderBlock",
    "FeatureEncoder",
    "Hypothesis",
    "Seq2Seq",
    "TokenEncoder",
    "TransformerDecoder",
    "beam_search",
    "beam_search_one",
    "chinese_tokenizer",
    "greedy_decode",
    "sentence_chrf",
    "seq2seq_loss",
    "speech_features",
    "teacher_forcing_batch",
    "train_seq2seq",
    "translate",
    "translation_scores",
]
