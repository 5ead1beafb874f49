"""LoRA through the launcher: P2's gin on a tiny Hugging Face base trains adapters only,
evaluates, and exports through `python -m xlt_jax.convert xlt-to-hf --lora_run` as merged
weights and as a PEFT adapter that `peft` loads (both giving the same logits); bad LoRA
settings are one error line before anything is compiled."""

import dataclasses
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from test_base_checkpoint import (
  REPO,
  _launch,
  _save_base,
  _smoke_arguments,
  demo_dir,  # noqa: F401  (a fixture)
)

from xlt_jax.core.errors import UserInputError
from xlt_jax.models import conversion, lora
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.training import checkpointing, lora_export, sharding
from xlt_jax.training.train_step import abstract_params


def _one_error_line(result) -> str:
  assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
  (line,) = result.stderr.strip().splitlines()
  return line


def test_a_lora_target_that_names_no_module_is_one_error_line_and_exit_2(tmp_path):
  line = _one_error_line(_launch(
      "-m", "xlt_jax.launch", "--gin_file=gin/smoke_cpu.gin", "--gin_file=gin/training/lora_p2.gin",
      f"--gin.MODEL_DIR='{tmp_path / 'm'}'", "--gin.LoraConfig.targets=('q_proj', 'lm_head')",
      timeout=300))
  assert line == ("error: LoraConfig.targets: 'lm_head' names no module of the model; choose"
                  " from q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")
  assert not (tmp_path / "m").exists()


def test_lora_without_a_base_to_adapt_is_refused_before_anything_is_written(tmp_path):
  from xlt_jax.runner import gin_setup, study_runner

  model_dir = tmp_path / "study"
  experiment, config = gin_setup.build_experiment(
      ["gin/smoke_cpu.gin", "gin/training/lora_p3.gin"], [f"MODEL_DIR = '{model_dir}'"])
  assert experiment.train.lora == lora.LoraConfig(rank=64, alpha=16, targets=("q_proj", "v_proj"))
  with pytest.raises(UserInputError, match="TrainConfig.lora.rank=64 adapts a pretrained model,"
                     " but none is given: set Experiment.base_checkpoint"):
    study_runner.run_experiment(experiment, config)
  assert not model_dir.exists()


def _convert(*arguments):
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=1")
  return subprocess.run([sys.executable, "-m", "xlt_jax.convert", *arguments], check=False,
                        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # a whole study of two runs through the launcher: minutes on 2 shared cores
def test_p2_lora_study_trains_adapters_only_and_exports_to_peft(demo_dir, tmp_path):  # noqa: F811
  hf_dir = _save_base("llama", tmp_path / "hf", demo_dir)
  model_dir = tmp_path / "study"
  result = _launch(*_smoke_arguments(model_dir, hf_dir, None),
                   "--gin_file=gin/training/lora_p2.gin")
  assert result.returncode == 0, result.stderr[-3000:]
  run_dir = model_dir / "runs" / "budget00016"
  run = json.loads((run_dir / "run.json").read_text())
  lora_config = lora.from_record(run["lora"])
  assert lora_config == lora.LoraConfig(rank=8, alpha=16, dropout=0.05, base_dtype="int8")
  metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
  assert sorted(metrics["tasks"]["demo_arith"]["languages"]) == ["ar", "en", "es", "ja", "pt"]
  # The checkpoints hold the adapters alone (and their optimizer state), not the base.
  model_config = ModelConfig(**run["model"])
  mesh = sharding.make_mesh(sharding.MeshConfig(data=1), jax.devices()[:1])
  step, adapters = lora_export.restore_adapters(str(run_dir / "checkpoints"), "latest",
                                                model_config, lora_config, mesh)
  assert sorted(adapters["layers"]["attention"]) == ["key_lora", "query_lora", "value_lora"]
  assert float(np.abs(np.asarray(adapters["layers"]["attention"]["query_lora"]["b"])).max()) > 0
  with pytest.raises(UserInputError, match="has no parameter"):
    checkpointing.restore_params(str(run_dir / "checkpoints"), str(step),
                                 abstract_params(Decoder(model_config), mesh))

  merged = _convert("xlt-to-hf", f"--lora_run={run_dir}", f"--out={tmp_path / 'merged'}",
                    f"--checkpoint={step}")
  assert merged.returncode == 0, merged.stderr[-2000:]
  adapter = _convert("xlt-to-hf", f"--lora_run={run_dir}", f"--out={tmp_path / 'peft'}", "--peft",
                     f"--checkpoint={step}")
  assert adapter.returncode == 0, adapter.stderr[-2000:]
  config = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
  assert (config["r"], config["lora_alpha"], config["target_modules"]) == (
      8, 16.0, ["k_proj", "q_proj", "v_proj"])
  tokens = np.array([[1, 5, 9, 14, 30, 2]])
  base = transformers.AutoModelForCausalLM.from_pretrained(str(hf_dir))
  with torch.no_grad():
    plain = base(torch.from_numpy(tokens)).logits.numpy()
    adapted = peft.PeftModel.from_pretrained(base, str(tmp_path / "peft")).eval()(
        torch.from_numpy(tokens)).logits.numpy()
    exported = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged"))(
        torch.from_numpy(tokens)).logits.numpy()
  assert np.abs(adapted - plain).max() > 1e-4  # training moved the adapters
  # PEFT puts the adapters on the full-precision base: our adapted model on that base.
  _, full_base, _ = conversion.load_xlt(run["initial_checkpoint"])
  fp_lora = dataclasses.replace(lora_config, base_dtype=None)
  ours = Decoder(model_config, fp_lora).apply(
      {"params": lora.combine(full_base, jax.device_get(adapters))}, tokens)[0]
  np.testing.assert_allclose(adapted, ours, atol=1e-4, rtol=1e-4)
  # The merged export is the model as trained and evaluated: the int8 base plus adapters.
  _, evaluated = lora_export.restore_adapted_params(
      str(run_dir / "checkpoints"), str(step), model_config, lora_config,
      run["initial_checkpoint"], mesh)
  np.testing.assert_allclose(exported, Decoder(model_config).apply({"params": evaluated}, tokens)[0],
                             atol=1e-4, rtol=1e-4)
