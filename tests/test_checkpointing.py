"""Orbax checkpoints: params round-trip, latest and best kept, shape mismatches named,
a damaged newest checkpoint skipped for the previous good one."""

import dataclasses
import io
import pathlib
import shutil

import jax
import numpy as np
import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.training import checkpointing, sharding
from xlt_jax.training.train_step import OptimizerConfig, abstract_params, build

CONFIG = ModelConfig(vocab_size=64, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                     head_dim=8, mlp_dim=64)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
  """Checkpoints saved once per module; each test gets its own copy to damage."""
  directory = tmp_path_factory.mktemp("pristine") / "checkpoints"
  mesh = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  functions = build(CONFIG, OptimizerConfig(), mesh)
  states = {}
  manager = checkpointing.open_checkpoints(str(directory), keep_latest=1, keep_best=2)
  for step, validation_loss in [(10, 3.0), (20, 2.0), (30, 2.5), (40, 4.0), (45, None)]:
    states[step] = functions.init(jax.random.key(step))
    checkpointing.save(manager, step, states[step], validation_loss)  # asynchronous
  manager.close()  # waits for the last save
  return directory, states, functions


@pytest.fixture
def saved(pristine, tmp_path):
  directory, states, functions = pristine
  shutil.copytree(directory, tmp_path / "checkpoints")
  return tmp_path / "checkpoints", states, functions


def test_keeps_the_latest_and_the_best_checkpoints_and_restores_params_exactly(saved):
  directory, states, functions = saved
  mesh = functions.batch_sharding.mesh
  # 45: the latest (saved without a validation loss); 20 and 30: the two best.
  assert checkpointing.saved_steps(str(directory)) == [20, 30, 45]
  step, params = checkpointing.restore_params(str(directory), "best",
                                              abstract_params(Decoder(CONFIG), mesh))
  assert step == 20
  for restored, original in zip(jax.tree.leaves(params), jax.tree.leaves(states[20].params)):
    np.testing.assert_array_equal(restored, original)
    assert restored.sharding == original.sharding
  assert checkpointing.restore_params(str(directory), "latest",
                                      abstract_params(Decoder(CONFIG), mesh))[0] == 45


def _sharded_abstract_state(functions):
  return jax.tree.map(lambda leaf, leaf_sharding: jax.ShapeDtypeStruct(
      leaf.shape, leaf.dtype, sharding=leaf_sharding), functions.abstract_state,
      functions.state_sharding)


def _reopen(directory):
  return checkpointing.open_checkpoints(str(directory), keep_latest=1, keep_best=2)


def test_newest_state_restores_params_and_optimizer_state(saved):
  directory, states, functions = saved
  manager = _reopen(directory)
  step, params, opt_state = checkpointing.restore_newest_state(
      manager, _sharded_abstract_state(functions), warn=pytest.fail)
  manager.close()
  assert step == 45
  for restored, original in zip(jax.tree.leaves((params, opt_state)),
                                jax.tree.leaves((states[45].params, states[45].opt_state))):
    np.testing.assert_array_equal(restored, original)
    assert restored.sharding == original.sharding


def _truncate_optimizer_data(step_dir: pathlib.Path) -> None:
  for path in (step_dir / "opt_state").rglob("*"):
    if path.is_file() and path.parent.name == "d":
      path.write_bytes(path.read_bytes()[:7])


def _delete_params_metadata(step_dir: pathlib.Path) -> None:
  (step_dir / "params" / "_METADATA").unlink()


@pytest.mark.parametrize("damage", [_truncate_optimizer_data, _delete_params_metadata])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(saved, damage):
  directory, states, functions = saved
  damage(directory / "45")
  warnings = []
  manager = _reopen(directory)
  step, params, _ = checkpointing.restore_newest_state(
      manager, _sharded_abstract_state(functions), warn=warnings.append)
  manager.close()
  assert step == 30
  for restored, original in zip(jax.tree.leaves(params), jax.tree.leaves(states[30].params)):
    np.testing.assert_array_equal(restored, original)
  assert len(warnings) == 1 and f"checkpoint {directory}/45 cannot be" in warnings[0]
  assert (directory / "45").is_dir()  # left for a person to inspect, not deleted


def test_no_restorable_checkpoint_is_an_error_not_a_fresh_start(saved):
  directory, _, functions = saved
  for step in (20, 30, 45):
    _delete_params_metadata(directory / str(step))
  manager = _reopen(directory)
  with pytest.raises(UserInputError, match="no checkpoint in .* can be restored .*step 45: .*"
                                           "move the directory aside"):
    checkpointing.restore_newest_state(manager, _sharded_abstract_state(functions),
                                       warn=lambda text: None)
  manager.close()


def test_wrong_model_shape_is_a_clear_error(saved):
  directory, _, functions = saved
  mesh = functions.batch_sharding.mesh
  wider = Decoder(dataclasses.replace(CONFIG, mlp_dim=96))
  with pytest.raises(UserInputError, match=r"parameter \['layers'\]\['mlp'\]\['down'\] has shape \(2, 64, 32\), the model expects \(2, 96, 32\)"):
    checkpointing.restore_params(str(directory), "best", abstract_params(wider, mesh))


def test_unknown_step_and_missing_directory(saved, tmp_path):
  directory, _, functions = saved
  mesh = functions.batch_sharding.mesh
  with pytest.raises(UserInputError, match="checkpoint '10' not in"):
    checkpointing.restore_params(str(directory), "10", abstract_params(Decoder(CONFIG), mesh))
  with pytest.raises(UserInputError, match="does not exist"):
    checkpointing.restore_params(str(tmp_path / "nowhere"), "best",
                                 abstract_params(Decoder(CONFIG), mesh))


def test_every_nth_step_is_kept_beside_the_latest_and_the_best(pristine, tmp_path):
  _, states, _ = pristine
  state = states[10]  # only the steps and losses matter here
  manager = checkpointing.open_checkpoints(str(tmp_path / "checkpoints"), keep_latest=1,
                                           keep_best=1, keep_every=20)
  for step, validation_loss in [(10, 3.0), (20, 2.0), (30, 1.0), (40, 4.0), (50, 5.0),
                                (55, None)]:
    checkpointing.save(manager, step, state, validation_loss)
  manager.close()
  # 20 and 40: multiples of 20; 30: the best; 55: the latest.
  assert checkpointing.saved_steps(str(tmp_path / "checkpoints")) == [20, 30, 40, 55]
  with pytest.raises(UserInputError, match="keep_every_n_steps must be >= 1 or None; got 0"):
    checkpointing.open_checkpoints(str(tmp_path / "other"), keep_latest=1, keep_best=1,
                                   keep_every=0)


def test_a_run_saves_and_keeps_every_nth_step(tmp_path):
  import resume_worker  # tests/ is on sys.path (pytest prepend mode)

  resume_worker.write_data(str(tmp_path / "data"))
  resume_worker.train(str(tmp_path / "run"), str(tmp_path / "data"),
                      {"max_steps": 7, "keep_every_n_steps": 2, "checkpoint_every_steps": 50,
                       "validation_every_steps": 50, "keep_latest_checkpoints": 1,
                       "keep_best_checkpoints": 1, "log_every_steps": 7},
                      stream=io.StringIO())
  # 2, 4 and 6 by keep_every_n_steps; 7: the last step (validated), latest and best.
  assert checkpointing.saved_steps(str(tmp_path / "run" / "checkpoints")) == [2, 4, 6, 7]
