"""Tokenizers for text: a WordPiece tokenizer (BERT's) and a character tokenizer.

Introduced in notebook 08 (WordPiece, for BERT and GPT) and used again in
notebook 12 (characters, for CTC). Both are trained on the course's own text,
never downloaded.

* :func:`train_wordpiece` learns a WordPiece vocabulary (lower-casing, BERT's
  pre-tokenizer, ``##`` continuation pieces, merges chosen by WordPiece's
  likelihood score) and wraps it as a ``transformers.PreTrainedTokenizerFast``,
  so ``tokenizer(text_a, text_b)`` gives ``[CLS] a [SEP] b [SEP]`` with
  ``token_type_ids`` exactly like ``BertTokenizerFast``. The merges are learned
  here rather than by ``tokenizers.trainers.WordPieceTrainer``, which breaks
  ties between equally frequent pairs in hash-map order and so learns a
  different vocabulary in every process; ours breaks ties by the pieces'
  spelling, so the same texts always give the same vocabulary.
* :class:`CharTokenizer` maps characters to ids with a fixed convention:
  id 0 is the CTC blank and also the padding id, id 1 is ``<unk>``, id 2 is
  ``<eos>`` (the end-of-text token a GPT uses as separator and start token,
  like GPT-2's ``<|endoftext|>``), characters follow from id 3.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

__all__ = ["SPECIAL_TOKENS", "CharTokenizer", "learn_wordpiece", "train_wordpiece"]

#: BERT's special tokens, with ids 0..4 in this order in every vocabulary we train.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _check_texts(texts: Iterable[str]) -> list[str]:
    texts = list(texts)
    if not texts:
        raise ValueError("expected a non-empty list of texts to train the tokenizer on, got none")
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"expected texts as str, got {type(bad[0]).__name__}: {bad[0]!r}")
    return texts


def _merged(a: str, b: str) -> str:
    return a + b[2:]  # b is always a "##" continuation piece


def learn_wordpiece(word_counts: dict[str, int], vocab_size: int, min_frequency: int = 1) -> list[str]:
    """The pieces of a WordPiece vocabulary learned from ``word_counts`` (word -> count), specials first.

    Every word starts as its characters, the first one bare and the others
    with the ``##`` continuation prefix (``"hugs"`` -> ``h ##u ##g ##s``). Each
    step merges the adjacent pair ``(a, b)`` with the highest likelihood score
    ``count(ab) / (count(a) count(b))``, which favours pairs whose parts rarely
    occur apart (BPE would take the most frequent pair), until the vocabulary
    holds ``vocab_size`` pieces or no pair occurs ``min_frequency`` times. Ties
    go to the more frequent pair, then to the alphabetically first one, so the
    result does not depend on the order of the words.
    """
    splits = {word: [word[0], *(f"##{c}" for c in word[1:])] for word in word_counts}
    vocab = list(SPECIAL_TOKENS)
    seen = set(vocab)
    for piece in sorted({p for pieces in splits.values() for p in pieces}):
        if piece not in seen:
            vocab.append(piece)
            seen.add(piece)
    while len(vocab) < vocab_size:
        piece_counts: Counter[str] = Counter()
        pair_counts: Counter[tuple[str, str]] = Counter()
        for word, count in word_counts.items():
            pieces = splits[word]
            for piece in pieces:
                piece_counts[piece] += count
            for pair in pairwise(pieces):
                pair_counts[pair] += count
        candidates = [(pair, n) for pair, n in pair_counts.items() if n >= min_frequency]
        if not candidates:
            break
        (a, b), _ = min(
            candidates, key=lambda item: (-item[1] / (piece_counts[item[0][0]] * piece_counts[item[0][1]]),
                                          -item[1], item[0])
        )  # fmt: skip
        new = _merged(a, b)
        if new not in seen:
            vocab.append(new)
            seen.add(new)
        for pieces in splits.values():
            i = 0
            while i < len(pieces) - 1:
                if pieces[i] == a and pieces[i + 1] == b:
                    pieces[i : i + 2] = [new]
                i += 1
    return vocab[:vocab_size]


def train_wordpiece(texts: Iterable[str], vocab_size: int = 400, min_frequency: int = 1):
    """Train a lower-cased WordPiece tokenizer on ``texts`` (notebook 08).

    Parameters
    ----------
    texts: the training sentences.
    vocab_size: the largest vocabulary to learn, special tokens included; a
        small corpus may give fewer (every word becomes one piece).
    min_frequency: merges seen fewer times than this are not learned.

    Returns a ``transformers.PreTrainedTokenizerFast`` with ``[PAD]=0``,
    ``[UNK]=1``, ``[CLS]=2``, ``[SEP]=3``, ``[MASK]=4``, BERT's single and pair
    templates (``[CLS] A [SEP]`` and ``[CLS] A [SEP] B [SEP]`` with token type
    1 on ``B [SEP]``) and the WordPiece decoder (``"play ##ing"`` -> ``"playing"``).
    The merges are learned by :func:`learn_wordpiece`: the same texts give the
    same vocabulary in every run, whatever their order.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    texts = _check_texts(texts)
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must exceed the {len(SPECIAL_TOKENS)} special tokens, got {vocab_size}")
    normalizer = normalizers.BertNormalizer(lowercase=True, clean_text=True, strip_accents=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    word_counts: Counter[str] = Counter()
    for text in texts:
        word_counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    pieces = learn_wordpiece(dict(word_counts), vocab_size, min_frequency)
    tok = Tokenizer(
        models.WordPiece(
            {piece: i for i, piece in enumerate(pieces)}, unk_token="[UNK]", max_input_chars_per_word=100
        )
    )
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


class CharTokenizer:
    """Characters to ids and back, with CTC's blank at id 0 (for CTC in notebook 12, and character GPTs).

    ``CharTokenizer.from_texts(texts)`` collects the characters of ``texts``
    (lower-cased when ``lowercase=True``). Ids: 0 ``<blank>`` (CTC blank and
    padding: ``F.ctc_loss(..., blank=0)``), 1 ``<unk>`` (a character not seen in
    training), 2 ``<eos>`` (end of text, also the start token of a GPT), then
    the characters in sorted order.
    """

    blank_id = 0
    pad_id = 0
    unk_id = 1
    eos_id = 2
    specials = ("<blank>", "<unk>", "<eos>")

    def __init__(self, chars: Sequence[str], lowercase: bool = True):
        chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError(f"expected single characters, got {chars!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("expected each character once; the alphabet has duplicates")
        self.lowercase = lowercase
        self.itos = [*self.specials, *chars]
        self.stoi = {c: i for i, c in enumerate(chars, start=len(self.specials))}

    @classmethod
    def from_texts(cls, texts: Iterable[str], lowercase: bool = True) -> CharTokenizer:
        """The tokenizer whose alphabet is every character in ``texts``."""
        texts = _check_texts(texts)
        chars = set()
        for text in texts:
            chars.update(text.lower() if lowercase else text)
        return cls(sorted(chars), lowercase=lowercase)

    @property
    def vocab_size(self) -> int:
        """Number of ids, specials included."""
        return len(self.itos)

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str, add_eos: bool = False) -> list[int]:
        """Ids of ``text``'s characters (unknown ones map to ``unk_id``), plus ``eos_id`` if asked."""
        if not isinstance(text, str):
            raise TypeError(f"expected text as str, got {type(text).__name__}")
        text = text.lower() if self.lowercase else text
        ids = [self.stoi.get(c, self.unk_id) for c in text]
        return [*ids, self.eos_id] if add_eos else ids

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Text of ``ids`` (a list or a 1-D tensor); special ids are dropped unless ``skip_special=False``."""
        out = []
        for i in (int(i) for i in ids):
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"id {i} is outside the vocabulary (0..{self.vocab_size - 1})")
            if i < len(self.specials) and skip_special:
                continue
            out.append(self.itos[i])
        return "".join(out)
