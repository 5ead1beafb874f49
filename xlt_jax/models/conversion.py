"""Hugging Face checkpoint directories <-> xlt checkpoint directories.

An xlt checkpoint directory holds `model.json` (our ModelConfig and the original
config.json), `params/` (one orbax checkpoint per parameter) and the tokenizer files.
A multimodal checkpoint (gemma3) converts as its language model, and exports as that
text-only model (`text_config` as config.json). `python -m xlt_jax.convert` is the command line; `xlt_jax.evaluation.parity.verify`
compares a conversion with `transformers`.
"""

import dataclasses
import json
from typing import TextIO

import numpy as np

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.models.hf_config import model_config_from_hf, text_config
from xlt_jax.models.hf_params import (
  LanguageModelReader,
  from_hf,
  iter_params_from_hf,
  open_hf,
  params_from_hf,
  params_to_hf,
  read_hf_config,
  tensor_mappings,
)

__all__ = ["from_hf", "hf_to_xlt", "load_xlt", "model_config_from_hf", "params_from_hf",
           "params_to_hf", "read_hf_config", "tensor_mappings", "write_hf", "xlt_to_hf"]

MODEL_FILE = "model.json"  # {"model_config": ..., "hf_config": ...}
PARAMS_DIR = "params"  # one orbax checkpoint per parameter: params/<dotted path>/
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "tokenizer.model", "generation_config.json", "chat_template.jinja")
SHARD_BYTES = 2 << 30  # safetensors shard size on export


def _leaf_directory(xlt_dir: str, path: tuple[str, ...]) -> str:
  return paths.absolute(paths.join(xlt_dir, PARAMS_DIR, ".".join(path)))


def hf_to_xlt(hf_dir: str, out_dir: str, dtype: str = "float32",
              stream: TextIO | None = None) -> str:
  """Converts a Hugging Face checkpoint into an xlt checkpoint directory; returns out_dir.

  Of a multimodal checkpoint (gemma3) only the language model is converted; `stream`
  is told how many tensors (vision tower, projector) were left out.

  Streams: each parameter is assembled from its tensors, written as its own orbax
  checkpoint (`params/<dotted path>/`) and dropped before the next. Measured peak RSS
  for a 1.1B bf16 checkpoint: 0.99x its size on disk, against 2.8x when the whole tree
  was built first and saved at once (benchmarks/convert_memory.py).
  """
  import jax
  import orbax.checkpoint as ocp

  from xlt_jax.core import atomic_io

  hf_config = read_hf_config(hf_dir)
  config, reader = open_hf(hf_dir, dtype)
  if paths.exists(paths.join(out_dir, PARAMS_DIR)):
    raise UserInputError(f"{out_dir}/{PARAMS_DIR} already exists; choose an empty --out")
  paths.makedirs(paths.join(out_dir, PARAMS_DIR))
  if isinstance(reader, LanguageModelReader) and stream is not None:
    print(f"{hf_dir} is multimodal ({hf_config.get('model_type')}): converting its language"
          f" model only; {len(reader.dropped)} tensors of the vision tower and projector are"
          " left out", file=stream, flush=True)
  checkpointer = ocp.StandardCheckpointer()
  for path, array in iter_params_from_hf(config, reader.names(), reader.get_tensor, dtype):
    # A jax array, not numpy: orbax keeps extra host copies of numpy leaves.
    checkpointer.save(_leaf_directory(out_dir, path), {"value": jax.device_put(array)})
    checkpointer.wait_until_finished()
    del array
  for name in TOKENIZER_FILES:
    if paths.isfile(paths.join(hf_dir, name)):
      paths.copy(paths.join(hf_dir, name), paths.join(out_dir, name))
  # Written last: a directory without model.json is an unfinished conversion.
  atomic_io.write_json(paths.join(out_dir, MODEL_FILE), {
      "model_config": dataclasses.asdict(config), "hf_config": hf_config})
  return out_dir


def load_xlt(xlt_dir: str, abstract_params=None) -> tuple[ModelConfig, dict, dict]:
  """(model config, params, original HF config) of an xlt checkpoint directory.

  With `abstract_params` (shapes and shardings) the params are restored sharded and
  any shape mismatch is an error naming the parameter.
  """
  import jax
  import orbax.checkpoint as ocp

  path = paths.join(xlt_dir, MODEL_FILE)
  if not paths.isfile(path):
    raise UserInputError(f"{path} does not exist: is {xlt_dir} a finished xlt checkpoint?")
  with paths.open(path, encoding="utf-8") as file:
    record = json.load(file)
  config = ModelConfig(**record["model_config"])
  if abstract_params is None:
    abstract_params = single_device_abstract_params(config)
  checkpointer = ocp.StandardCheckpointer()
  leaves = []
  for key_path, abstract in jax.tree_util.tree_leaves_with_path(abstract_params):
    leaf_path = tuple(key.key for key in key_path)
    directory = _leaf_directory(xlt_dir, leaf_path)
    if not paths.isdir(directory):
      raise UserInputError(f"{xlt_dir} has no parameter {'.'.join(leaf_path)} (another model?)")
    check_shapes(checkpointer.metadata(directory).item_metadata, {"value": abstract}, directory)
    leaves.append(checkpointer.restore(directory, {"value": abstract})["value"])
  params = jax.tree.unflatten(jax.tree.structure(abstract_params), leaves)
  return config, params, record["hf_config"]


def xlt_to_hf(xlt_dir: str, out_dir: str, dtype: str | None = None) -> str:
  """Writes an xlt checkpoint as a Hugging Face directory (safetensors shards + config)."""
  config, params, hf_config = load_xlt(xlt_dir)
  return write_hf(config, params, hf_config, xlt_dir, out_dir, dtype)


def write_hf(config: ModelConfig, params: dict, hf_config: dict, xlt_dir: str, out_dir: str,
             dtype: str | None = None) -> str:
  """Writes `params` (without adapters) as a Hugging Face directory: safetensors shards,
  `hf_config` as config.json and the tokenizer files of `xlt_dir`; returns out_dir."""
  from safetensors.numpy import save_file

  from xlt_jax.core import atomic_io

  paths.makedirs(out_dir)
  numpy_dtype = None
  if dtype is not None:
    import jax.numpy as jnp
    numpy_dtype = np.dtype(jnp.dtype(dtype))
  shards, current, current_bytes = [], {}, 0
  for name, tensor in params_to_hf(config, params):
    tensor = tensor if numpy_dtype is None else tensor.astype(numpy_dtype)
    if current and current_bytes + tensor.nbytes > SHARD_BYTES:
      shards.append(current)
      current, current_bytes = {}, 0
    current[name], current_bytes = tensor, current_bytes + tensor.nbytes
  shards.append(current)
  weight_map = {}
  for index, shard in enumerate(shards, start=1):
    file_name = ("model.safetensors" if len(shards) == 1
                 else f"model-{index:05d}-of-{len(shards):05d}.safetensors")
    # safetensors writes local files only: a gs:// out_dir gets a copy of a local temporary.
    with paths.local_output(paths.join(out_dir, file_name)) as local:
      save_file(shard, local, metadata={"format": "pt"})
    weight_map.update({name: file_name for name in shard})
  if len(shards) > 1:
    atomic_io.write_json(paths.join(out_dir, "model.safetensors.index.json"),
                         {"metadata": {}, "weight_map": weight_map})
  for name in TOKENIZER_FILES:
    if paths.isfile(paths.join(xlt_dir, name)):
      paths.copy(paths.join(xlt_dir, name), paths.join(out_dir, name))
  # A multimodal source's text model: its text_config, loadable as a causal LM.
  atomic_io.write_json(paths.join(out_dir, "config.json"), text_config(hf_config))
  return out_dir


def single_device_abstract_params(config: ModelConfig):
  """Shapes and dtypes of the parameters on the first device, allocating nothing."""
  import flax.linen as nn
  import jax
  import jax.numpy as jnp

  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  boxed = jax.eval_shape(
      lambda: Decoder(config).init(jax.random.key(0), jnp.zeros((1, 1), jnp.int32)))["params"]
  return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=device),
                      nn.unbox(boxed))


def check_shapes(saved, expected, where: str) -> None:
  """Raises UserInputError naming the first parameter whose saved shape differs."""
  import jax

  saved_leaves = dict(jax.tree_util.tree_leaves_with_path(saved))
  expected_leaves = dict(jax.tree_util.tree_leaves_with_path(expected))
  for path, leaf in expected_leaves.items():
    name = jax.tree_util.keystr(path)
    if path not in saved_leaves:
      raise UserInputError(f"checkpoint {where} has no parameter {name}")
    saved_shape = tuple(saved_leaves[path].shape)
    if saved_shape != tuple(leaf.shape):
      raise UserInputError(
          f"checkpoint {where}: parameter {name} has shape {saved_shape}, the model expects"
          f" {tuple(leaf.shape)} (a checkpoint of another model?)"
      )
  extra = set(saved_leaves) - set(expected_leaves)
  if extra:
    name = jax.tree_util.keystr(min(extra, key=str))
    raise UserInputError(f"checkpoint {where} has parameter {name} that the model lacks")
