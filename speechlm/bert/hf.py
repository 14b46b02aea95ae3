"""Weight conversion to and from ``transformers.BertForPreTraining`` (notebook 08)."""

from __future__ import annotations

import torch

from speechlm.bert.model import Bert, BertConfig


def _hf_config(cfg: BertConfig):
    from transformers import BertConfig as HFBertConfig

    return HFBertConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.d_model,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.d_ff,
        hidden_act="gelu",
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.attention_dropout,
        max_position_embeddings=cfg.max_len,
        type_vocab_size=cfg.type_vocab,
        initializer_range=cfg.init_std,
        layer_norm_eps=cfg.layer_norm_eps,
        pad_token_id=cfg.pad_id,
    )


def _pairs(cfg: BertConfig):
    """(our name, Hugging Face name) for every tensor but the fused qkv."""
    names = [
        ("word_emb.weight", "bert.embeddings.word_embeddings.weight"),
        ("pos_emb.weight", "bert.embeddings.position_embeddings.weight"),
        ("type_emb.weight", "bert.embeddings.token_type_embeddings.weight"),
        ("pooler.weight", "bert.pooler.dense.weight"),
        ("pooler.bias", "bert.pooler.dense.bias"),
        ("mlm_dense.weight", "cls.predictions.transform.dense.weight"),
        ("mlm_dense.bias", "cls.predictions.transform.dense.bias"),
        ("mlm_bias", "cls.predictions.bias"),
        ("nsp.weight", "cls.seq_relationship.weight"),
        ("nsp.bias", "cls.seq_relationship.bias"),
    ]
    for p in ("weight", "bias"):
        names += [(f"emb_norm.{p}", f"bert.embeddings.LayerNorm.{p}")]
        names += [(f"mlm_norm.{p}", f"cls.predictions.transform.LayerNorm.{p}")]
        for i in range(cfg.num_layers):
            ours, theirs = f"layers.{i}.", f"bert.encoder.layer.{i}."
            names += [
                (ours + f"attn_out.{p}", theirs + f"attention.output.dense.{p}"),
                (ours + f"attn_norm.{p}", theirs + f"attention.output.LayerNorm.{p}"),
                (ours + f"ff_in.{p}", theirs + f"intermediate.dense.{p}"),
                (ours + f"ff_out.{p}", theirs + f"output.dense.{p}"),
                (ours + f"ff_norm.{p}", theirs + f"output.LayerNorm.{p}"),
            ]
    return names


def to_hf(model: Bert, attn_implementation: str = "eager"):
    """A ``transformers.BertForPreTraining`` with ``model``'s weights (built from a config, no download)."""
    from transformers import BertForPreTraining

    cfg = model.cfg
    hf = BertForPreTraining(_hf_config(cfg))
    hf.set_attn_implementation(attn_implementation)
    ours = model.state_dict()
    theirs = hf.state_dict()
    with torch.no_grad():
        for a, b in _pairs(cfg):
            theirs[b].copy_(ours[a])
        for i in range(cfg.num_layers):
            wq, wk, wv = ours[f"layers.{i}.qkv.weight"].chunk(3)
            bq, bk, bv = ours[f"layers.{i}.qkv.bias"].chunk(3)
            for name, w, bias in (("query", wq, bq), ("key", wk, bk), ("value", wv, bv)):
                theirs[f"bert.encoder.layer.{i}.attention.self.{name}.weight"].copy_(w)
                theirs[f"bert.encoder.layer.{i}.attention.self.{name}.bias"].copy_(bias)
    hf.load_state_dict(theirs)
    hf.tie_weights()
    return hf.train(model.training)


def from_hf(hf) -> Bert:
    """Our :class:`Bert` with the weights of a ``transformers.BertForPreTraining``."""
    c = hf.config
    if c.hidden_act != "gelu":
        raise ValueError(f"only BERT with hidden_act='gelu' can be converted, got {c.hidden_act!r}")
    cfg = BertConfig(
        vocab_size=c.vocab_size,
        d_model=c.hidden_size,
        num_layers=c.num_hidden_layers,
        num_heads=c.num_attention_heads,
        d_ff=c.intermediate_size,
        max_len=c.max_position_embeddings,
        type_vocab=c.type_vocab_size,
        dropout=c.hidden_dropout_prob,
        attention_dropout=c.attention_probs_dropout_prob,
        layer_norm_eps=c.layer_norm_eps,
        pad_id=c.pad_token_id if c.pad_token_id is not None else 0,
        init_std=c.initializer_range,
    )
    model = Bert(cfg)
    theirs = hf.state_dict()
    ours = {a: theirs[b] for a, b in _pairs(cfg)}
    for i in range(cfg.num_layers):
        pre = f"bert.encoder.layer.{i}.attention.self."
        for p in ("weight", "bias"):
            ours[f"layers.{i}.qkv.{p}"] = torch.cat(
                [theirs[pre + f"{n}.{p}"] for n in ("query", "key", "value")]
            )
    model.load_state_dict(ours)
    return model.train(hf.training)
