"""Adapters of a LoRA run: restored from its checkpoints, merged into the base, exported.

A LoRA run's checkpoints hold only the adapters (`lora_step`); the base is the run's
initial checkpoint (an xlt directory, `python -m xlt_jax.convert hf-to-xlt`). Exports:

- merged: a Hugging Face directory whose weights are W + (alpha / rank) * B @ A (in HF
  layout), loadable by `transformers` alone; with `base_dtype='int8'` W is the int8 base as
  training saw it (dequantised), so the merged model is the trained one;
- PEFT: an adapter directory, `adapter_config.json` + `adapter_model.safetensors`, as
  `PeftModel.save_pretrained` writes them (file names from peft/utils/constants.py:
  CONFIG_NAME, SAFETENSORS_WEIGHTS_NAME; tensor names from peft/utils/save_and_load.py
  `get_peft_model_state_dict`, which drops the adapter name), for
  `PeftModel.from_pretrained(base_model, DIR)`.
"""

from typing import Any

from jax.sharding import Mesh

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.models import conversion, int8_base, lora
from xlt_jax.models.config import ModelConfig
from xlt_jax.training import checkpointing, lora_step

PEFT_CONFIG_FILE = "adapter_config.json"
PEFT_WEIGHTS_FILE = "adapter_model.safetensors"


def restore_adapters(checkpoint_dir: str, which: str, model_config: ModelConfig,
                     lora_config: lora.LoraConfig, mesh: Mesh) -> tuple[int, Any]:
  """(step, adapters) of checkpoint `which` ("best", "latest" or a step) of a LoRA run.

  Raises:
    UserInputError: no such checkpoint, or its adapters have other shapes (another rank or
      other targets), naming the parameter.
  """
  _, abstract_adapters = lora_step.abstract_params(model_config, lora_config, mesh)
  return checkpointing.restore_params(checkpoint_dir, which, abstract_adapters)


def restore_adapted_params(checkpoint_dir: str, which: str, model_config: ModelConfig,
                           lora_config: lora.LoraConfig, base_xlt_dir: str,
                           mesh: Mesh) -> tuple[int, dict]:
  """(step, params) for the plain `Decoder(model_config)`: the base of `base_xlt_dir` with
  the adapters of checkpoint `which` merged in (what evaluation decodes with)."""
  step, adapters = restore_adapters(checkpoint_dir, which, model_config, lora_config, mesh)
  abstract_base, _ = lora_step.abstract_params(model_config, lora_config, mesh)
  _, base, _ = conversion.load_xlt(base_xlt_dir, abstract_base)
  return step, lora.merge(lora.combine(base_as_trained(base, lora_config), adapters), lora_config)


def base_as_trained(base: dict, lora_config: lora.LoraConfig) -> dict:
  """The base weights the adapters were trained on: as loaded, or with `base_dtype='int8'`
  quantised and dequantised (each kernel within half a quantisation step of the original)."""
  if lora_config.base_dtype != "int8":
    return base
  dtype = base["layers"]["attention"]["query"].dtype  # every layer kernel's param_dtype
  return int8_base.dequantize_base(int8_base.quantize_base(base), dtype)


def export_merged(base_xlt_dir: str, lora_config: lora.LoraConfig, adapters: Any, out_dir: str,
                  dtype: str | None = None) -> str:
  """Writes the base of `base_xlt_dir` with `adapters` merged in as a Hugging Face
  directory (config.json and tokenizer files of the base); returns out_dir."""
  config, base, hf_config = conversion.load_xlt(base_xlt_dir)
  merged = lora.merge(lora.combine(base_as_trained(base, lora_config), adapters), lora_config)
  return conversion.write_hf(config, merged, hf_config, base_xlt_dir, out_dir, dtype)


def export_peft(base_xlt_dir: str, lora_config: lora.LoraConfig, adapters: Any,
                out_dir: str) -> str:
  """Writes `adapters` as a PEFT LoRA adapter directory for the base of `base_xlt_dir`
  (exported with `xlt-to-hf`, or the Hugging Face model it was converted from); returns
  out_dir.

  Raises:
    UserInputError: out_dir already holds an adapter.
  """
  from safetensors.numpy import save_file

  if paths.exists(paths.join(out_dir, PEFT_WEIGHTS_FILE)):
    raise UserInputError(f"{out_dir}/{PEFT_WEIGHTS_FILE} already exists; choose an empty --out")
  config, _, hf_config = conversion.load_xlt(base_xlt_dir)
  tensors = dict(lora.peft_tensors(adapters, lora_config, config.num_layers))
  paths.makedirs(out_dir)
  with paths.local_output(paths.join(out_dir, PEFT_WEIGHTS_FILE)) as local:
    save_file(tensors, local, metadata={"format": "pt"})
  base_name = hf_config.get("_name_or_path") or paths.absolute(base_xlt_dir)
  # Written last: a directory with a config but no weights would look like an adapter.
  atomic_io.write_json(paths.join(out_dir, PEFT_CONFIG_FILE),
                       lora.peft_config(lora_config, base_name))
  return out_dir


def export_run(run_dir: str, which: str, out_dir: str, *, peft: bool = False,
               xlt_dir: str | None = None, dtype: str | None = None) -> str:
  """Exports checkpoint `which` of a LoRA run (its run.json: model, "lora", and
  "initial_checkpoint", the base, unless `xlt_dir` names it): merged weights, or with
  `peft` a PEFT adapter directory; returns out_dir.

  Raises:
    UserInputError: not a run directory, a run without adapters or without a base, or no
      such checkpoint.
  """
  import json

  import jax

  from xlt_jax.training import sharding

  run_file = paths.join(run_dir, "run.json")  # evaluation.evaluator.RUN_FILE
  if not paths.isfile(run_file):
    raise UserInputError(f"{run_file} does not exist: is {run_dir} a run directory?")
  with paths.open(run_file, encoding="utf-8") as file:
    run = json.load(file)
  lora_config = lora.from_record(run.get("lora"))
  if not lora_config.enabled:
    raise UserInputError(f"run {run_dir} was trained without LoRA adapters; export its"
                         " checkpoint's params instead")
  base_dir = xlt_dir or run.get("initial_checkpoint")
  if not base_dir:
    raise UserInputError(f"{run_file} names no initial_checkpoint: give the base as --xlt_dir")
  model_config = ModelConfig(**run["model"])
  mesh = sharding.make_mesh(sharding.MeshConfig(data=1), jax.devices()[:1])
  _, adapters = restore_adapters(paths.join(run_dir, "checkpoints"), which, model_config,
                                 lora_config, mesh)
  adapters = jax.device_get(adapters)
  if peft:
    return export_peft(base_dir, lora_config, adapters, out_dir)
  return export_merged(base_dir, lora_config, adapters, out_dir, dtype)
