"""The training loop: metrics, checkpoints, best selection, fine-tuning a converted model."""

import dataclasses

import jax
import numpy as np
import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.models import conversion as convert
from xlt_jax.training import sharding, trainer
from xlt_jax.training.train_step import OptimizerConfig


@pytest.fixture
def converted_qwen3(tmp_path):
  torch = pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  torch.manual_seed(0)
  config = transformers.Qwen3Config(vocab_size=1100, hidden_size=32, intermediate_size=48,
                                    num_hidden_layers=2, num_attention_heads=4,
                                    num_key_value_heads=2, head_dim=8, tie_word_embeddings=True)
  transformers.AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "hf")
  return convert.hf_to_xlt(str(tmp_path / "hf"), str(tmp_path / "xlt"))


def test_fine_tuning_starts_from_the_converted_params(converted_qwen3, tmp_path, monkeypatch):
  saved_config, saved_params, _ = convert.load_xlt(converted_qwen3)
  mesh = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  params = trainer.load_initial_params(converted_qwen3, saved_config, mesh)
  for restored, original in zip(jax.tree.leaves(params), jax.tree.leaves(saved_params)):
    np.testing.assert_array_equal(restored, original)
  assert len(params["layers"]["mlp"]["gate"].sharding.device_set) == 8
  with pytest.raises(UserInputError, match=r"different model: rope_base=10000.0 \(gin: 10.0\)"):
    trainer.load_initial_params(converted_qwen3, dataclasses.replace(saved_config, rope_base=10.0),
                                mesh)
  with pytest.raises(UserInputError, match="has shape"):
    trainer.load_initial_params(converted_qwen3, dataclasses.replace(saved_config, mlp_dim=64),
                                mesh)


def test_first_step_from_converted_params_uses_a_fresh_optimizer(converted_qwen3):
  from xlt_jax.training.train_step import build, global_batch
  config, _, _ = convert.load_xlt(converted_qwen3)
  mesh = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  functions = build(config, OptimizerConfig(learning_rate=1e-3), mesh)
  state = functions.init_from_params(trainer.load_initial_params(converted_qwen3, config, mesh))
  assert int(state.step) == 0
  assert all(float(np.abs(leaf).max()) == 0.0 for leaf in jax.tree.leaves(state.opt_state)
             if leaf.ndim > 0)  # Adam moments start at zero
  rng = np.random.default_rng(0)
  tokens = rng.integers(3, 1100, (8, 17)).astype(np.int32)
  batch = {"decoder_input_tokens": tokens[:, :-1], "decoder_target_tokens": tokens[:, 1:],
           "decoder_loss_weights": np.ones((8, 16), np.int32)}
  new_state, metrics = functions.train_step(state, global_batch(batch, functions.batch_sharding))
  assert int(new_state.step) == 1 and np.isfinite(float(metrics["loss"]))
  # A random 1100-way model starts near log(1100) = 7.0.
  assert abs(float(metrics["loss"]) - np.log(1100)) < 0.5
