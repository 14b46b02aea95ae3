"""Weight conversion to and from ``transformers.GPT2LMHeadModel`` (notebook 09)."""

from __future__ import annotations

import torch

from speechlm.gpt.model import GPT, GPTConfig


def _hf_config(cfg: GPTConfig):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.max_len,
        n_embd=cfg.d_model,
        n_layer=cfg.num_layers,
        n_head=cfg.num_heads,
        n_inner=cfg.d_ff,
        activation_function="gelu_new",
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        layer_norm_epsilon=cfg.layer_norm_eps,
        initializer_range=cfg.init_std,
        bos_token_id=None,
        eos_token_id=None,
    )


def _names(cfg: GPTConfig) -> list[tuple[str, str, bool]]:
    """(our name, Hugging Face name, transposed?) for every tensor; Conv1D weights are transposed."""
    names = [("wte.weight", "transformer.wte.weight", False), ("wpe.weight", "transformer.wpe.weight", False)]
    names += [(f"ln_f.{p}", f"transformer.ln_f.{p}", False) for p in ("weight", "bias")]
    for i in range(cfg.num_layers):
        ours, theirs = f"blocks.{i}.", f"transformer.h.{i}."
        for a, b in (
            ("qkv", "attn.c_attn"),
            ("attn_proj", "attn.c_proj"),
            ("fc", "mlp.c_fc"),
            ("fc_proj", "mlp.c_proj"),
        ):
            names += [
                (ours + a + ".weight", theirs + b + ".weight", True),
                (ours + a + ".bias", theirs + b + ".bias", False),
            ]
        for ln in ("ln_1", "ln_2"):
            names += [(ours + f"{ln}.{p}", theirs + f"{ln}.{p}", False) for p in ("weight", "bias")]
    return names


def to_hf(model: GPT, attn_implementation: str = "eager"):
    """A ``transformers.GPT2LMHeadModel`` with ``model``'s weights (built from a config, no download)."""
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel(_hf_config(model.cfg))
    hf.set_attn_implementation(attn_implementation)
    ours, theirs = model.state_dict(), hf.state_dict()
    with torch.no_grad():
        for a, b, transposed in _names(model.cfg):
            theirs[b].copy_(ours[a].t() if transposed else ours[a])
    hf.load_state_dict(theirs)
    hf.tie_weights()
    return hf.train(model.training)


def from_hf(hf) -> GPT:
    """Our :class:`GPT` with the weights of a ``transformers.GPT2LMHeadModel``."""
    c = hf.config
    if c.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(
            f"only GPT-2's tanh GELU ('gelu_new') can be converted, got {c.activation_function!r}"
        )
    if c.scale_attn_by_inverse_layer_idx or not c.scale_attn_weights:
        raise ValueError("only the standard 1/sqrt(head_dim) attention scaling can be converted")
    cfg = GPTConfig(
        vocab_size=c.vocab_size,
        max_len=c.n_positions,
        d_model=c.n_embd,
        num_layers=c.n_layer,
        num_heads=c.n_head,
        d_ff=c.n_inner or 4 * c.n_embd,
        dropout=c.resid_pdrop,
        layer_norm_eps=c.layer_norm_epsilon,
        init_std=c.initializer_range,
    )
    model = GPT(cfg)
    theirs = hf.state_dict()
    model.load_state_dict({a: theirs[b].t() if t else theirs[b] for a, b, t in _names(cfg)})
    return model.train(hf.training)
