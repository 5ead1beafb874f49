"""Checkpoint conversion: tiny random Hugging Face models of each family give the same
logits in xlt-jax (the external reference is `transformers` itself)."""

import dataclasses
import io
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from xlt_jax.core.errors import UserInputError  # noqa: E402
from xlt_jax.models import conversion as convert  # noqa: E402

COMMON = dict(vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)

FAMILIES = {
    "llama_untied_gqa_rope3": lambda: transformers.LlamaConfig(
        **COMMON, tie_word_embeddings=False,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 16}),
    "llama_tied": lambda: transformers.LlamaConfig(**COMMON, tie_word_embeddings=True),
    "qwen3": lambda: transformers.Qwen3Config(**COMMON, head_dim=16, tie_word_embeddings=True),
    "cohere": lambda: transformers.CohereConfig(**COMMON, logit_scale=0.0625),
    "qwen2": lambda: transformers.Qwen2Config(**COMMON, tie_word_embeddings=False,
                                              initializer_range=0.2),
    "gemma": lambda: transformers.GemmaConfig(**COMMON, head_dim=16, hidden_act="gelu",
                                              initializer_range=0.2),
    "gemma_multi_query": lambda: transformers.GemmaConfig(
        **{**COMMON, "num_key_value_heads": 1}, head_dim=16, initializer_range=0.3),
    "falcon": lambda: transformers.FalconConfig(  # Falcon 7B's layout, tiny
        vocab_size=97, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
        multi_query=True, parallel_attn=True, new_decoder_architecture=False, bias=False,
        alibi=False, max_position_embeddings=64, initializer_range=0.2),
    "gemma3": lambda: transformers.Gemma3TextConfig(
        **{**COMMON, "num_hidden_layers": 7}, head_dim=16, sliding_window=5,
        query_pre_attn_scalar=16,
        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                         "full_attention": {"rope_type": "linear", "factor": 8.0,
                                            "rope_theta": 1000000.0}}),
}


def _save_random_model(name, directory):
  torch.manual_seed(0)
  config = FAMILIES[name]()
  model = transformers.AutoModelForCausalLM.from_config(config).eval()
  # Random norm weights too, so that a misplaced norm cannot go unnoticed.
  with torch.no_grad():
    for parameter_name, parameter in model.named_parameters():
      is_norm = "norm" in parameter_name or "ln_f" in parameter_name
      if is_norm and parameter_name.endswith("bias"):
        parameter.normal_(0.0, 0.1)  # LayerNorm biases (Falcon): small, or one token wins
      elif is_norm:
        parameter.normal_(0.0, 0.5 if config.model_type.startswith("gemma") else 1.0)
      elif parameter_name.endswith("bias"):  # zeros at initialisation: make them count
        parameter.normal_(0.0, 1.0)
  model.save_pretrained(directory)
  return model


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_logits_equal_transformers_in_float32(name, tmp_path):
  reference = _save_random_model(name, tmp_path)
  model, params = convert.from_hf(str(tmp_path))
  tokens = np.random.default_rng(0).integers(0, 97, (2, 12))  # longer than the sliding window
  with torch.no_grad():
    expected = reference(torch.from_numpy(tokens)).logits.numpy()
  logits, _ = model.apply({"params": params}, tokens)
  np.testing.assert_allclose(np.asarray(logits), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["gemma3", "falcon", "qwen2"])
def test_round_trip_is_bit_identical(name, tmp_path):
  reference = _save_random_model(name, tmp_path)
  model, params = convert.from_hf(str(tmp_path))
  exported = dict(convert.params_to_hf(model.config, params))
  original = {name: tensor.numpy() for name, tensor in reference.state_dict().items()
              if name != "lm_head.weight" or not model.config.tie_embeddings}
  assert set(exported) == set(original)
  for tensor_name, tensor in original.items():
    np.testing.assert_array_equal(exported[tensor_name], tensor, err_msg=tensor_name)


def test_wrong_shapes_and_unknown_tensors_are_named(tmp_path):
  _save_random_model("llama_tied", tmp_path)
  config = convert.model_config_from_hf(convert.read_hf_config(str(tmp_path)))
  from safetensors.numpy import load_file
  tensors = load_file(str(tmp_path / "model.safetensors"))
  wider = dataclasses.replace(config, mlp_dim=64)
  with pytest.raises(UserInputError, match=r"tensor model.layers.0.mlp.gate_proj.weight:"
                                           r" expected shape \(64, 32\), found \(48, 32\)"):
    convert.params_from_hf(wider, set(tensors), tensors.__getitem__)
  tensors["model.layers.0.self_attn.q_proj.bias"] = np.zeros(64, np.float32)
  with pytest.raises(UserInputError, match="q_proj.bias has no place in the model"):
    convert.params_from_hf(config, set(tensors), tensors.__getitem__)
  del tensors["model.layers.0.self_attn.q_proj.bias"], tensors["model.norm.weight"]
  with pytest.raises(UserInputError, match="checkpoint lacks tensor model.norm.weight"):
    convert.params_from_hf(config, set(tensors), tensors.__getitem__)


def test_unsupported_family_is_named():
  with pytest.raises(UserInputError, match="model_type 'gpt2' is not supported"):
    convert.model_config_from_hf({"model_type": "gpt2"})


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_greedy_kv_cache_generation_equals_transformers_generate(name, tmp_path):
  from xlt_jax.evaluation.decoding import greedy_generate, left_pad

  reference = _save_random_model(name, tmp_path)
  model, params = convert.from_hf(str(tmp_path))
  rng = np.random.default_rng(1)
  prompts = [rng.integers(3, 97, 7).tolist(), rng.integers(3, 97, 4).tolist()]
  tokens, mask = left_pad(prompts)
  ours = np.asarray(greedy_generate(model, params, tokens, mask, max_new_tokens=16, eos_id=-1))
  with torch.no_grad():
    theirs = reference.generate(
        torch.from_numpy(tokens.astype(np.int64)), attention_mask=torch.from_numpy(mask.astype(np.int64)),
        max_new_tokens=16, min_new_tokens=16, do_sample=False, eos_token_id=None, pad_token_id=0,
    )[:, tokens.shape[1]:].numpy()
  np.testing.assert_array_equal(ours, theirs)
  assert len(set(ours.ravel().tolist())) > 3  # not a degenerate repetition


REPO = pathlib.Path(__file__).resolve().parents[1]


def _cli(*arguments, **environment):
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=1",
             **environment)
  return subprocess.run([sys.executable, "-m", "xlt_jax.convert", *arguments], env=env, cwd=REPO,
                        capture_output=True, text=True, timeout=600)


def _one_error_line(result) -> str:
  assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
  (line,) = result.stderr.splitlines()
  return line


def test_verify_of_a_directory_that_is_no_checkpoint_is_one_line(tmp_path):
  assert _one_error_line(_cli("verify", f"--hf_dir={tmp_path}/none")) == (
      f"error: {tmp_path}/none/config.json does not exist: is {tmp_path}/none a Hugging Face"
      " checkpoint?")
  _save_random_model("llama_tied", tmp_path / "hf")
  (tmp_path / "hf" / "model.safetensors").unlink()
  assert _one_error_line(_cli("verify", f"--hf_dir={tmp_path}/hf")) == (
      f"error: {tmp_path}/hf has no model.safetensors or model.safetensors.index.json")


def test_verify_without_torch_names_the_extra_to_install(tmp_path):
  _save_random_model("llama_tied", tmp_path / "hf")
  (tmp_path / "stub" / "torch").mkdir(parents=True)
  (tmp_path / "stub" / "torch" / "__init__.py").write_text(
      "raise ImportError(\"No module named 'torch'\")\n")
  result = _cli("verify", f"--hf_dir={tmp_path}/hf",
                PYTHONPATH=os.pathsep.join([str(tmp_path / "stub"), str(REPO)]))
  line = _one_error_line(result)
  assert line.startswith("error: verify compares with transformers and needs torch and"
                         " transformers (No module named 'torch')"), line
  assert line.endswith('pip install -e ".[verify]"'), line


@pytest.mark.slow
def test_command_line_round_trip_loads_in_transformers_and_verifies(tmp_path):
  reference = _save_random_model("qwen3", tmp_path / "hf")
  result = _cli("hf-to-xlt", f"--hf_dir={tmp_path / 'hf'}", f"--out={tmp_path / 'xlt'}")
  assert result.returncode == 0, result.stderr[-2000:]
  result = _cli("xlt-to-hf", f"--xlt_dir={tmp_path / 'xlt'}", f"--out={tmp_path / 'back'}")
  assert result.returncode == 0, result.stderr[-2000:]
  exported = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "back")).eval()
  tokens = torch.tensor([[5, 6, 7, 8, 9]])
  with torch.no_grad():
    np.testing.assert_array_equal(exported(tokens).logits.numpy(), reference(tokens).logits.numpy())
    assert exported.generate(tokens, max_new_tokens=4, do_sample=False).shape == (1, 9)
  result = _cli("verify", f"--hf_dir={tmp_path / 'back'}")
  assert result.returncode == 0, result.stdout + result.stderr[-2000:]
  assert "max |logit difference|" in result.stdout and "identical" in result.stdout
  # An existing output is refused, a missing input named.
  result = _cli("hf-to-xlt", f"--hf_dir={tmp_path / 'hf'}", f"--out={tmp_path / 'xlt'}")
  assert result.returncode == 2 and "already exists" in result.stderr
  result = _cli("hf-to-xlt", f"--hf_dir={tmp_path / 'none'}", f"--out={tmp_path / 'x2'}")
  assert result.returncode == 2 and "config.json does not exist" in result.stderr


def test_bfloat16_conversion_keeps_bfloat16_values(tmp_path):
  import jax.numpy as jnp
  reference = _save_random_model("llama_tied", tmp_path)
  reference.to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
  model, params = convert.from_hf(str(tmp_path / "bf16"), dtype="bfloat16")
  assert params["embedding"].dtype == jnp.bfloat16
  exported = dict(convert.params_to_hf(model.config, params))
  original = reference.state_dict()["model.layers.1.mlp.down_proj.weight"].float().numpy()
  np.testing.assert_array_equal(
      exported["model.layers.1.mlp.down_proj.weight"].astype(np.float32), original)


def _save_random_gemma3_multimodal(directory):
  """A tiny Gemma3ForConditionalGeneration (google/gemma-3-4b-pt's architecture) with
  random norms, saved as transformers saves it: `language_model.model.*` and a vision
  tower beside it. Its image token ids lie outside the text tokens the tests feed."""
  torch.manual_seed(0)
  config = transformers.Gemma3Config(
      text_config=dict(**{**COMMON, "num_hidden_layers": 7}, head_dim=16, sliding_window=5,
                       query_pre_attn_scalar=16,
                       rope_scaling={"rope_type": "linear", "factor": 8.0}),
      vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "image_size": 28, "patch_size": 14},
      mm_tokens_per_image=4, boi_token_index=94, eoi_token_index=95, image_token_index=96)
  model = transformers.Gemma3ForConditionalGeneration(config).eval()
  with torch.no_grad():
    for parameter_name, parameter in model.named_parameters():
      if "norm" in parameter_name:
        parameter.normal_(0.0, 0.5)
  model.save_pretrained(directory)
  return model


def test_gemma3_multimodal_checkpoint_converts_its_language_model(tmp_path):
  reference = _save_random_gemma3_multimodal(tmp_path / "hf")
  from safetensors import safe_open
  with safe_open(str(tmp_path / "hf" / "model.safetensors"), "np") as file:
    stored = set(file.keys())
  # The layout of the real google/gemma-3-4b-pt (language_model.model.*, vision_tower.*).
  assert "language_model.model.layers.0.self_attn.q_norm.weight" in stored
  assert any(name.startswith("vision_tower.") for name in stored)
  config = convert.model_config_from_hf(convert.read_hf_config(str(tmp_path / "hf")))
  assert config.global_layer_every == 6 and config.rope_scaling == "linear"
  model, params = convert.from_hf(str(tmp_path / "hf"))
  tokens = np.random.default_rng(0).integers(0, 94, (2, 12))
  with torch.no_grad():
    expected = reference(torch.from_numpy(tokens)).logits.numpy()
  logits, _ = model.apply({"params": params}, tokens)
  np.testing.assert_allclose(np.asarray(logits), expected, atol=1e-4, rtol=1e-4)
  # Exported: the text model alone, which transformers loads as Gemma3ForCausalLM with
  # the same logits.
  log = io.StringIO()
  convert.hf_to_xlt(str(tmp_path / "hf"), str(tmp_path / "xlt"), stream=log)
  vision = sum(not name.startswith("language_model.") for name in stored)
  assert f"language model only; {vision} tensors of the vision tower" in log.getvalue()
  convert.xlt_to_hf(str(tmp_path / "xlt"), str(tmp_path / "text"))
  text_model = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "text")).eval()
  assert type(text_model).__name__ == "Gemma3ForCausalLM"
  with torch.no_grad():
    np.testing.assert_allclose(text_model(torch.from_numpy(tokens)).logits.numpy(), expected,
                               atol=1e-5, rtol=1e-5)


def test_gemma3_multimodal_verify_passes(tmp_path):
  from xlt_jax.evaluation import parity
  _save_random_gemma3_multimodal(tmp_path)
  out = io.StringIO()
  assert parity.verify(str(tmp_path), stream=out), out.getvalue()


def test_gemma3_text_defaults_are_transformers_defaults():
  from xlt_jax.models.hf_config import GEMMA3_TEXT_DEFAULTS
  defaults = transformers.Gemma3TextConfig()
  rope = defaults.rope_parameters
  theirs = {**defaults.to_dict(), "rope_theta": rope["full_attention"]["rope_theta"],
            "rope_local_base_freq": rope["sliding_attention"]["rope_theta"],
            "sliding_window_pattern": defaults._sliding_window_pattern}
  assert {key: theirs[key] for key in GEMMA3_TEXT_DEFAULTS} == GEMMA3_TEXT_DEFAULTS


def test_a_fused_query_key_value_of_the_wrong_size_is_named(tmp_path):
  _save_random_model("falcon", tmp_path)
  config = convert.model_config_from_hf(convert.read_hf_config(str(tmp_path)))
  from safetensors.numpy import load_file
  tensors = load_file(str(tmp_path / "model.safetensors"))
  name = "transformer.h.1.self_attention.query_key_value.weight"
  tensors[name] = np.concatenate([tensors[name], tensors[name][:8]])
  with pytest.raises(UserInputError, match=rf"tensor {name}: expected 48 rows \(fused query,"
                                           r" key and value\), found shape \(56, 32\)"):
    convert.params_from_hf(config, set(tensors), tensors.__getitem__)


@pytest.mark.parametrize("change, named", [
    ({"new_decoder_architecture": True}, "new_decoder_architecture=True"),
    ({"alibi": True}, "alibi=True"), ({"bias": True}, "bias=True"),
    ({"multi_query": False}, "multi_query=False")])
def test_falcon_layouts_other_than_7bs_are_refused(change, named):
  config = {**FAMILIES["falcon"]().to_dict(), **change}
  with pytest.raises(UserInputError, match=f"falcon with {named} is not supported"):
    convert.model_config_from_hf(config)
