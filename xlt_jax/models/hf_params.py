"""Hugging Face parameter names and tensors <-> xlt-jax parameters, tensor by tensor.

Parameter names are mapped by a table derived from ModelConfig fields (never from
family names). Reading streams one tensor at a time into preallocated stacked
arrays, so peak memory stays near one copy of the model. Every name and shape is
checked: a missing, unexpected or misshapen tensor is an error naming it.
"""

import dataclasses
import json
import math
from typing import Callable, Iterator

import numpy as np

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.models.hf_config import model_config_from_hf, text_config


@dataclasses.dataclass(frozen=True)
class TensorMapping:
  hf_name: str  # full Hugging Face name
  path: tuple[str, ...]  # path in our params tree
  layer: int | None  # index along the stacked layer axis, None for unstacked
  # Kernels: how many of our leading axes are input axes (HF stores [out, in]); 0 for a
  # bias (HF [out], ours possibly split, e.g. [N, H]); None: copied as is.
  fan_in_axes: int | None
  # A slice of a fused tensor (Falcon's query_key_value): (first row, end row, rows of
  # the whole tensor) along HF's output axis; None: the whole tensor.
  rows: tuple[int, int, int] | None = None


def _layer_entries(config: ModelConfig) -> list[tuple[str, tuple[str, ...], int | None]]:
  """(HF suffix inside a layer, our path under layers/, fan_in_axes) for one layer."""
  entries = [
      ("input_layernorm.weight", ("attention_norm", "scale"), None),
      ("self_attn.q_proj.weight", ("attention", "query"), 1),
      ("self_attn.k_proj.weight", ("attention", "key"), 1),
      ("self_attn.v_proj.weight", ("attention", "value"), 1),
      ("self_attn.o_proj.weight", ("attention", "out"), 2),
      ("mlp.gate_proj.weight", ("mlp", "gate"), 1),
      ("mlp.up_proj.weight", ("mlp", "up"), 1),
      ("mlp.down_proj.weight", ("mlp", "down"), 1),
  ]
  if config.qkv_bias:  # HF [N * H] -> ours [N, H]: no input axes (fan_in_axes 0)
    entries += [("self_attn.q_proj.bias", ("attention", "query_bias"), 0),
                ("self_attn.k_proj.bias", ("attention", "key_bias"), 0),
                ("self_attn.v_proj.bias", ("attention", "value_bias"), 0)]
  if config.qk_norm:
    entries += [("self_attn.q_norm.weight", ("attention", "query_norm", "scale"), None),
                ("self_attn.k_norm.weight", ("attention", "key_norm", "scale"), None)]
  if config.post_norms:
    entries += [("post_attention_layernorm.weight", ("post_attention_norm", "scale"), None),
                ("pre_feedforward_layernorm.weight", ("mlp_norm", "scale"), None),
                ("post_feedforward_layernorm.weight", ("post_mlp_norm", "scale"), None)]
  elif not config.parallel_block:
    entries.append(("post_attention_layernorm.weight", ("mlp_norm", "scale"), None))
  return entries


def _falcon_mappings(config: ModelConfig) -> list[TensorMapping]:
  """Falcon's names (transformers' modeling_falcon): `transformer.h.{i}.*`, one
  LayerNorm with bias per layer, and query, key and value fused in one
  `query_key_value` tensor whose rows are the N query heads, then the K key heads, then
  the K value heads (multi-query layout, FalconAttention._split_heads)."""
  N, K, H = config.num_heads, config.num_kv_heads, config.head_dim
  total = (N + 2 * K) * H
  mappings = [
      TensorMapping("transformer.word_embeddings.weight", ("embedding",), None, None),
      TensorMapping("transformer.ln_f.weight", ("final_norm", "scale"), None, None),
      TensorMapping("transformer.ln_f.bias", ("final_norm", "bias"), None, None),
  ]
  if not config.tie_embeddings:
    mappings.append(TensorMapping("lm_head.weight", ("output",), None, 1))
  for layer in range(config.num_layers):
    prefix = f"transformer.h.{layer}."
    fused = prefix + "self_attention.query_key_value.weight"
    mappings += [
        TensorMapping(prefix + "input_layernorm.weight", ("layers", "attention_norm", "scale"),
                      layer, None),
        TensorMapping(prefix + "input_layernorm.bias", ("layers", "attention_norm", "bias"),
                      layer, None),
        TensorMapping(fused, ("layers", "attention", "query"), layer, 1, (0, N * H, total)),
        TensorMapping(fused, ("layers", "attention", "key"), layer, 1,
                      (N * H, (N + K) * H, total)),
        TensorMapping(fused, ("layers", "attention", "value"), layer, 1,
                      ((N + K) * H, total, total)),
        TensorMapping(prefix + "self_attention.dense.weight", ("layers", "attention", "out"),
                      layer, 2),
        TensorMapping(prefix + "mlp.dense_h_to_4h.weight", ("layers", "mlp", "up"), layer, 1),
        TensorMapping(prefix + "mlp.dense_4h_to_h.weight", ("layers", "mlp", "down"), layer, 1),
    ]
  return mappings


def tensor_mappings(config: ModelConfig) -> list[TensorMapping]:
  """Every tensor of the Hugging Face checkpoint and where it lives in our params."""
  if config.norm_bias:  # only Falcon's layout has LayerNorm biases
    return _falcon_mappings(config)
  mappings = [
      TensorMapping("model.embed_tokens.weight", ("embedding",), None, None),
      TensorMapping("model.norm.weight", ("final_norm", "scale"), None, None),
  ]
  if not config.tie_embeddings:
    mappings.append(TensorMapping("lm_head.weight", ("output",), None, 1))
  for layer in range(config.num_layers):
    for suffix, path, fan_in in _layer_entries(config):
      mappings.append(TensorMapping(f"model.layers.{layer}.{suffix}", ("layers", *path), layer,
                                    fan_in))
  return mappings


def _get(tree: dict, path: tuple[str, ...]):
  for key in path:
    tree = tree[key]
  return tree


def _hf_shape(our_shape: tuple[int, ...], fan_in_axes: int | None) -> tuple[int, ...]:
  if fan_in_axes is None:
    return our_shape
  if fan_in_axes == 0:
    return (math.prod(our_shape),)
  return (math.prod(our_shape[fan_in_axes:]), math.prod(our_shape[:fan_in_axes]))


def iter_params_from_hf(
    config: ModelConfig,
    names: set[str],
    get_tensor: Callable[[str], np.ndarray],
    dtype: str = "float32",
) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
  """Yields (path in our params tree, array) one parameter at a time.

  Each yielded array is assembled from its HF tensors (all layers of a stacked
  parameter) fetched one by one with `get_tensor(name)`; nothing else is held,
  so a caller that writes and drops each array converts in the memory of the
  largest parameter. Names are checked before the first tensor is read.

  Raises:
    UserInputError: a tensor missing, unexpected (e.g. a bias), or of the wrong shape,
      naming the tensor with expected and found shapes.
  """
  import jax
  from flax import linen as nn

  abstract = jax.eval_shape(
      lambda: Decoder(config).init(jax.random.key(0), np.zeros((1, 1), np.int32))
  )
  shapes = nn.unbox(abstract)["params"]
  numpy_dtype = np.dtype(jax.numpy.dtype(dtype))  # "bfloat16" resolves via ml_dtypes
  mappings = tensor_mappings(config)
  expected = {mapping.hf_name for mapping in mappings}
  names = {name for name in names if not name.endswith("rotary_emb.inv_freq")}
  if config.tie_embeddings:
    names.discard("lm_head.weight")  # some tied checkpoints store the copy anyway
  unexpected = sorted(names - expected)
  if unexpected:
    raise UserInputError(f"checkpoint tensor {unexpected[0]} has no place in the model"
                         f" ({len(unexpected)} unexpected tensors)")
  missing = [mapping.hf_name for mapping in mappings if mapping.hf_name not in names]
  if missing:
    raise UserInputError(f"checkpoint lacks tensor {missing[0]}")
  by_path: dict[tuple[str, ...], list[TensorMapping]] = {}
  for mapping in mappings:
    by_path.setdefault(mapping.path, []).append(mapping)
  for path, group in by_path.items():
    target = np.empty(_get(shapes, path).shape, numpy_dtype)
    for mapping in group:
      our_shape = target.shape[1:] if mapping.layer is not None else target.shape
      tensor = np.asarray(get_tensor(mapping.hf_name))
      if mapping.rows is not None:
        first, end, total = mapping.rows
        if tensor.shape[:1] != (total,):
          raise UserInputError(f"tensor {mapping.hf_name}: expected {total} rows (fused"
                               f" query, key and value), found shape {tensor.shape}")
        tensor = tensor[first:end]
      want = _hf_shape(our_shape, mapping.fan_in_axes)
      if tensor.shape != want:
        raise UserInputError(
            f"tensor {mapping.hf_name}: expected shape {want}, found {tensor.shape}"
        )
      value = tensor if mapping.fan_in_axes is None else tensor.T.reshape(our_shape)
      if mapping.layer is None:
        target[...] = value
      else:
        target[mapping.layer] = value
    yield path, target


def params_from_hf(
    config: ModelConfig,
    names: set[str],
    get_tensor: Callable[[str], np.ndarray],
    dtype: str = "float32",
) -> dict:
  """Our whole params tree from HF tensors (see iter_params_from_hf for the checks)."""
  params: dict = {}
  for path, array in iter_params_from_hf(config, names, get_tensor, dtype):
    node = params
    for key in path[:-1]:
      node = node.setdefault(key, {})
    node[path[-1]] = array
  return params


def params_to_hf(config: ModelConfig, params: dict) -> Iterator[tuple[str, np.ndarray]]:
  """Yields (HF name, tensor) pairs, one tensor at a time (a fused tensor once, when
  its last part is read)."""
  parts: list[np.ndarray] = []
  for mapping in tensor_mappings(config):
    value = np.asarray(_get(params, mapping.path))
    if mapping.layer is not None:
      value = value[mapping.layer]
    if mapping.fan_in_axes is not None:
      value = value.reshape(_hf_shape(value.shape, mapping.fan_in_axes)[::-1]).T
    if mapping.rows is not None:
      parts.append(value)
      if mapping.rows[1] < mapping.rows[2]:
        continue
      value, parts = np.concatenate(parts, axis=0), []
    yield mapping.hf_name, np.ascontiguousarray(value)


def _safetensors_files(hf_dir: str) -> list[str]:
  index = paths.join(hf_dir, "model.safetensors.index.json")
  if paths.isfile(index):
    with paths.open(index, encoding="utf-8") as file:
      files = sorted(set(json.load(file)["weight_map"].values()))
    return [paths.join(hf_dir, name) for name in files]
  single = paths.join(hf_dir, "model.safetensors")
  if paths.isfile(single):
    return [single]
  raise UserInputError(f"{hf_dir} has no model.safetensors or model.safetensors.index.json")


def read_hf_config(hf_dir: str) -> dict:
  path = paths.join(hf_dir, "config.json")
  if not paths.isfile(path):
    raise UserInputError(f"{path} does not exist: is {hf_dir} a Hugging Face checkpoint?")
  with paths.open(path, encoding="utf-8") as file:
    return json.load(file)


class SafetensorsReader:
  """Reads tensors from .safetensors files one at a time with plain file reads.

  Deliberately not `safetensors.safe_open`: it memory-maps the files, and every
  mapped page it touches stays resident, so converting a model would hold the
  whole checkpoint in memory next to the converted copy. The format is an
  8-byte little-endian header length, a JSON header (dtype, shape, data_offsets
  per tensor) and the raw little-endian data.
  """

  _DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64",
             "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
             "BOOL": "bool"}

  def __init__(self, files: list[str]):
    self._entries: dict[str, tuple[str, int, dict]] = {}
    for path in files:
      with paths.open(path, "rb") as file:
        header_length = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(header_length))
      header.pop("__metadata__", None)
      for name, entry in header.items():
        self._entries[name] = (path, 8 + header_length, entry)

  def names(self) -> set[str]:
    return set(self._entries)

  def get_tensor(self, name: str) -> np.ndarray:
    import jax.numpy as jnp

    path, data_start, entry = self._entries[name]
    if entry["dtype"] not in self._DTYPES:
      raise UserInputError(f"tensor {name} in {path} has unsupported dtype {entry['dtype']}")
    dtype = np.dtype(jnp.dtype(self._DTYPES[entry["dtype"]]))
    begin, end = entry["data_offsets"]
    with paths.open(path, "rb") as file:  # a store's file seeks with ranged reads
      file.seek(data_start + begin)
      data = np.frombuffer(file.read(end - begin), dtype=dtype)
    return data.reshape(entry["shape"])


class LanguageModelReader:
  """The language model of a multimodal checkpoint under its text-only model's names.

  `Gemma3ForConditionalGeneration` checkpoints store it as `language_model.model.*`
  (google/gemma-3-4b-pt's index, and what transformers 5's save_pretrained writes)
  or, in transformers' in-memory layout, `model.language_model.*`, with the head as
  `language_model.lm_head.weight` or `lm_head.weight`
  (transformers/conversion_mapping.py, "llava" renamings, which gemma3 uses). Those
  become `model.*` and `lm_head.weight`; every other tensor (vision tower, multimodal
  projector) is left out and counted in `dropped`.
  """

  _PREFIXES = (("language_model.model.", "model."), ("model.language_model.", "model."),
               ("language_model.lm_head.", "lm_head."), ("lm_head.", "lm_head."))

  def __init__(self, reader: SafetensorsReader):
    self._reader = reader
    self._source: dict[str, str] = {}
    for name in sorted(reader.names()):
      for prefix, replacement in self._PREFIXES:
        if name.startswith(prefix):
          self._source.setdefault(replacement + name[len(prefix):], name)
          break
    self.dropped = sorted(set(reader.names()) - set(self._source.values()))

  def names(self) -> set[str]:
    return set(self._source)

  def get_tensor(self, name: str) -> np.ndarray:
    return self._reader.get_tensor(self._source[name])


def open_hf(hf_dir: str, dtype: str = "float32"
            ) -> tuple[ModelConfig, SafetensorsReader | LanguageModelReader]:
  """The ModelConfig of a Hugging Face checkpoint directory and a reader of its tensors
  (of its language model only, for a multimodal checkpoint: a LanguageModelReader)."""
  hf_config = read_hf_config(hf_dir)
  config = model_config_from_hf(hf_config, dtype=dtype, param_dtype=dtype)
  reader = SafetensorsReader(_safetensors_files(hf_dir))
  if text_config(hf_config) is not hf_config:
    return config, LanguageModelReader(reader)
  return config, reader


def from_hf(hf_dir: str, dtype: str = "float32") -> tuple[Decoder, dict]:
  """Loads a Hugging Face checkpoint directory as (model, params), streaming tensors.

  `model.apply({"params": params}, token_ids)[0]` gives logits [batch, length, vocab].
  Peak memory is about one copy of the parameters in `dtype` plus one tensor.
  """
  config, reader = open_hf(hf_dir, dtype)
  return Decoder(config), params_from_hf(config, reader.names(), reader.get_tensor, dtype)
