"""Hugging Face `config.json` -> ModelConfig for the families the studies fine-tune.

Each family's quirks become ModelConfig fields; no other module knows family names.
Reads both the transformers 5 layout (`rope_parameters`) and older files
(`rope_theta`, `rope_scaling`, `rope_local_base_freq`).

Multimodal checkpoints (`gemma3`: `Gemma3ForConditionalGeneration`) are read as their
language model: `text_config` with transformers' defaults filled in, because the real
google/gemma-3-4b-pt config.json names only hidden_size, intermediate_size,
num_hidden_layers, rope_scaling and sliding_window there (public copies of that file,
found with code search) and leaves heads, head_dim, vocabulary and rope bases to
`Gemma3TextConfig`'s defaults. tests/test_convert.py checks the table below against
the installed `transformers.Gemma3TextConfig()`.
"""

from typing import Any

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.config import ModelConfig

FAMILIES = ("llama", "qwen2", "qwen3", "cohere", "gemma", "gemma3_text", "gemma3", "falcon")

# transformers' Gemma3TextConfig defaults of the fields this module reads (as legacy
# config.json keys), for the sparse text_config of multimodal gemma3 checkpoints.
GEMMA3_TEXT_DEFAULTS = {
    "vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216,
    "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4,
    "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh", "rms_norm_eps": 1e-6,
    "rope_theta": 1_000_000.0, "rope_local_base_freq": 10_000.0, "query_pre_attn_scalar": 256,
    "sliding_window": 4096, "sliding_window_pattern": 6, "tie_word_embeddings": True,
    "final_logit_softcapping": None, "attn_logit_softcapping": None,
}


def text_config(hf: dict) -> dict:
  """The config.json of the language model itself: `hf` unchanged, or for a multimodal
  gemma3 checkpoint its `text_config` over transformers' defaults (model_type
  gemma3_text, loadable as `Gemma3ForCausalLM`), without the vision tower's fields."""
  if hf.get("model_type") != "gemma3":
    return hf
  text = hf.get("text_config")
  if not isinstance(text, dict):
    raise UserInputError("a gemma3 (multimodal) config.json needs a text_config")
  merged = {**GEMMA3_TEXT_DEFAULTS, **text}
  merged.update(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"])
  for key in ("bos_token_id", "eos_token_id", "pad_token_id", "torch_dtype", "dtype"):
    if key in hf and key not in text:
      merged[key] = hf[key]
  return merged


def _rope(hf: dict, layer_type: str | None = None) -> dict:
  """The rope parameters (theta and scaling) of one layer type, from either layout."""
  parameters = hf.get("rope_parameters")
  if isinstance(parameters, dict) and layer_type in parameters:
    parameters = parameters[layer_type]
  if isinstance(parameters, dict) and "rope_theta" in parameters:
    return parameters
  legacy = dict(hf.get("rope_scaling") or {})
  legacy["rope_theta"] = hf.get("rope_theta", 10_000.0)
  if layer_type == "sliding_attention":
    legacy = {"rope_theta": hf.get("rope_local_base_freq", 10_000.0)}
  return legacy


def _rope_fields(rope: dict) -> dict[str, Any]:
  kind = rope.get("rope_type", rope.get("type", "default"))
  fields: dict[str, Any] = {"rope_base": float(rope["rope_theta"])}
  if kind == "llama3":
    fields.update(
        rope_scaling="llama3",
        rope_scaling_factor=float(rope["factor"]),
        rope_low_frequency_factor=float(rope["low_freq_factor"]),
        rope_high_frequency_factor=float(rope["high_freq_factor"]),
        rope_original_max_positions=int(rope["original_max_position_embeddings"]),
    )
  elif kind == "linear":
    fields.update(rope_scaling="linear", rope_scaling_factor=float(rope["factor"]))
  elif kind != "default":
    raise UserInputError(f"rope scaling {kind!r} is not supported (llama3 and linear are)")
  return fields


def model_config_from_hf(hf: dict, **overrides: Any) -> ModelConfig:
  """The ModelConfig equal to a Hugging Face config dict (`config.json`).

  Raises:
    UserInputError: an unsupported model_type or feature, naming it.
  """
  hf = text_config(hf)
  family = hf.get("model_type")
  if family not in FAMILIES:
    raise UserInputError(
        f"model_type {family!r} is not supported; supported: {', '.join(FAMILIES)}"
    )
  if family == "falcon":
    return _falcon_config(hf, overrides)
  heads = hf["num_attention_heads"]
  fields: dict[str, Any] = {
      "vocab_size": hf["vocab_size"],
      "embed_dim": hf["hidden_size"],
      "num_layers": hf["num_hidden_layers"],
      "num_heads": heads,
      "num_kv_heads": hf.get("num_key_value_heads") or heads,
      "head_dim": hf.get("head_dim") or hf["hidden_size"] // heads,
      "mlp_dim": hf["intermediate_size"],
      "tie_embeddings": bool(hf.get("tie_word_embeddings",
                                    family in ("cohere", "gemma", "gemma3_text"))),
  }
  if family in ("llama", "qwen2", "qwen3"):
    fields.update(norm_epsilon=hf.get("rms_norm_eps", 1e-6), **_rope_fields(_rope(hf)))
    fields["qk_norm"] = family == "qwen3"
    fields["qkv_bias"] = family == "qwen2"  # Qwen2Attention: q/k/v with bias, o without
    if hf.get("attention_bias") or hf.get("mlp_bias"):
      raise UserInputError(f"{family} with attention_bias/mlp_bias is not supported")
    if family == "qwen2" and hf.get("use_sliding_window"):
      raise UserInputError("qwen2 with use_sliding_window=True is not supported")
  elif family == "gemma":
    # GemmaConfig reads the legacy hidden_act "gelu" of the official releases as the
    # tanh approximation; any other activation is not Gemma's.
    activation = hf.get("hidden_activation") or hf.get("hidden_act", "gelu_pytorch_tanh")
    if activation not in ("gelu", "gelu_pytorch_tanh"):
      raise UserInputError(f"gemma activation {activation!r} is not supported")
    if hf.get("attention_bias"):
      raise UserInputError("gemma with attention_bias is not supported")
    fields.update(norm_epsilon=hf.get("rms_norm_eps", 1e-6), norm_scale_plus_one=True,
                  scale_embeddings=True, activation="gelu_tanh", **_rope_fields(_rope(hf)))
  elif family == "cohere":
    if hf.get("use_qk_norm"):
      raise UserInputError("cohere with use_qk_norm=True is not supported yet")
    fields.update(
        norm_type="layer", norm_epsilon=hf.get("layer_norm_eps", 1e-5), parallel_block=True,
        rope_interleaved=True, logit_scale=float(hf.get("logit_scale", 1.0)),
        **_rope_fields(_rope(hf)),
    )
  else:  # gemma3_text
    pattern = hf.get("sliding_window_pattern") or hf.get("_sliding_window_pattern") or 6
    fields.update(
        norm_epsilon=hf.get("rms_norm_eps", 1e-6), norm_scale_plus_one=True, post_norms=True,
        qk_norm=True, scale_embeddings=True, activation="gelu_tanh",
        query_scale=float(hf["query_pre_attn_scalar"]) ** -0.5,
        sliding_window=hf["sliding_window"], global_layer_every=pattern,
        local_rope_base=float(_rope(hf, "sliding_attention")["rope_theta"]),
        **_rope_fields(_rope(hf, "full_attention")),
    )
    if hf.get("final_logit_softcapping") or hf.get("attn_logit_softcapping"):
      raise UserInputError("gemma3 with logit soft-capping is not supported")
    if hf.get("hidden_activation", "gelu_pytorch_tanh") != "gelu_pytorch_tanh":
      raise UserInputError(f"gemma3 activation {hf['hidden_activation']!r} is not supported")
  fields.update(overrides)
  config = ModelConfig(**fields)
  layer_types = hf.get("layer_types")
  if layer_types and [kind == "full_attention" for kind in layer_types] != config.layer_is_global():
    raise UserInputError("layer_types do not follow one global layer every"
                         f" {config.global_layer_every} layers: {layer_types}")
  return config


def _falcon_config(hf: dict, overrides: dict[str, Any]) -> ModelConfig:
  """Falcon 7B's architecture (FalconConfig, transformers' modeling_falcon): one shared
  LayerNorm with bias before parallel attention and MLP, multi-query attention, rotary
  positions, an MLP of dense_h_to_4h, GELU and dense_4h_to_h, tied embeddings. Older
  config.json files name heads and layers n_head and n_layer (FalconConfig's
  attribute_map)."""
  unsupported = [(hf.get("new_decoder_architecture"), "new_decoder_architecture=True"),
                 (hf.get("alibi"), "alibi=True"), (hf.get("bias"), "bias=True"),
                 (not hf.get("parallel_attn", True), "parallel_attn=False"),
                 (not hf.get("multi_query", True), "multi_query=False"),
                 (hf.get("activation", "gelu") != "gelu",
                  f"activation {hf.get('activation')!r}")]
  for present, what in unsupported:
    if present:
      raise UserInputError(f"falcon with {what} is not supported (Falcon 7B's layout is)")
  heads = hf.get("num_attention_heads", hf.get("n_head"))
  hidden = hf["hidden_size"]
  fields: dict[str, Any] = {
      "vocab_size": hf["vocab_size"], "embed_dim": hidden,
      "num_layers": hf.get("num_hidden_layers", hf.get("n_layer")), "num_heads": heads,
      "num_kv_heads": 1, "head_dim": hidden // heads,
      "mlp_dim": hf.get("ffn_hidden_size") or 4 * hidden,
      "tie_embeddings": bool(hf.get("tie_word_embeddings", True)),
      "norm_type": "layer", "norm_bias": True,
      "norm_epsilon": hf.get("layer_norm_epsilon", 1e-5), "parallel_block": True,
      "activation": "gelu", "mlp_gated": False, **_rope_fields(_rope(hf)),
  }
  fields.update(overrides)
  return ModelConfig(**fields)
