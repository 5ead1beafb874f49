"""Orbax checkpoints: params round-trip, best-by-validation-loss, shape mismatches named."""

import dataclasses

import jax
import numpy as np
import pytest

from xlt_jax import checkpointing, sharding
from xlt_jax.errors import UserInputError
from xlt_jax.model import Decoder, ModelConfig
from xlt_jax.train_step import OptimizerConfig, abstract_params, build

CONFIG = ModelConfig(vocab_size=64, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                     head_dim=8, mlp_dim=64)


@pytest.fixture
def saved(tmp_path):
  mesh = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  functions = build(CONFIG, OptimizerConfig(), mesh)
  states = {}
  manager = checkpointing.open_checkpoints(str(tmp_path / "checkpoints"), max_to_keep=2)
  for step, validation_loss in [(10, 3.0), (20, 2.0), (30, 2.5), (40, 4.0)]:
    states[step] = functions.init(jax.random.key(step))
    checkpointing.save(manager, step, states[step], validation_loss)
  manager.close()
  return tmp_path / "checkpoints", states, mesh


def test_keeps_the_best_checkpoints_and_restores_params_exactly(saved):
  directory, states, mesh = saved
  assert sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) == [20, 30]
  step, params = checkpointing.restore_params(str(directory), "best",
                                              abstract_params(Decoder(CONFIG), mesh))
  assert step == 20
  for restored, original in zip(jax.tree.leaves(params), jax.tree.leaves(states[20].params)):
    np.testing.assert_array_equal(restored, original)
    assert restored.sharding == original.sharding
  assert checkpointing.restore_params(str(directory), "latest",
                                      abstract_params(Decoder(CONFIG), mesh))[0] == 30


def test_wrong_model_shape_is_a_clear_error(saved):
  directory, _, mesh = saved
  wider = Decoder(dataclasses.replace(CONFIG, mlp_dim=96))
  with pytest.raises(UserInputError, match=r"parameter \['layers'\]\['mlp'\]\['down'\] has shape \(2, 64, 32\), the model expects \(2, 96, 32\)"):
    checkpointing.restore_params(str(directory), "best", abstract_params(wider, mesh))


def test_unknown_step_and_missing_directory(saved, tmp_path):
  directory, _, mesh = saved
  with pytest.raises(UserInputError, match="checkpoint '10' not in"):
    checkpointing.restore_params(str(directory), "10", abstract_params(Decoder(CONFIG), mesh))
  with pytest.raises(UserInputError, match="does not exist"):
    checkpointing.restore_params(str(tmp_path / "nowhere"), "best",
                                 abstract_params(Decoder(CONFIG), mesh))
