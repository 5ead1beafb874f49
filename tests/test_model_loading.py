"""Inference models from a run directory, an xlt checkpoint or a Hugging Face one
(xlt_jax/evaluation/model_loading.py), on a tiny random Llama with a real tokenizer
(tests/test_base_checkpoint.py builds it with `transformers`)."""

import dataclasses
import json

import jax
import numpy as np
import pytest

pytest.importorskip("transformers")

from test_base_checkpoint import _save_base

from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo
from xlt_jax.evaluation import model_loading
from xlt_jax.models import conversion, vocabularies
from xlt_jax.training import checkpointing, sharding
from xlt_jax.training.train_step import OptimizerConfig, build


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
  """(Hugging Face directory, its xlt conversion)."""
  demo_dir = tmp_path_factory.mktemp("demo")
  demo.write_demo_dataset(str(demo_dir), {"train": 16, "validation": 4, "test": 4}, seed=0)
  hf_dir = _save_base("llama", tmp_path_factory.mktemp("hf") / "tiny-llama", demo_dir)
  xlt_dir = conversion.hf_to_xlt(str(hf_dir), str(tmp_path_factory.mktemp("xlt") / "tiny-xlt"))
  return hf_dir, xlt_dir


def test_a_hugging_face_and_its_xlt_conversion_load_alike(checkpoints):
  hf_dir, xlt_dir = checkpoints
  from_hf = model_loading.load(str(hf_dir))
  from_xlt = model_loading.load(xlt_dir)
  assert (from_hf.name, from_xlt.name) == ("tiny-llama", "tiny-xlt")
  assert from_hf.model.config == from_xlt.model.config
  for a, b in zip(jax.tree.leaves(from_hf.params), jax.tree.leaves(from_xlt.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  tokenizer = from_hf.vocabulary.tokenizer
  for loaded in (from_hf, from_xlt):
    # model_type "llama" with <|eot_id|> in its tokenizer: Llama 3's chat template.
    assert loaded.chat_family == "llama3"
    assert set(loaded.stop_ids) == {tokenizer.token_to_id("<|end_of_text|>"),
                                    tokenizer.token_to_id("<|eot_id|>")}
    assert loaded.start_ids == (tokenizer.token_to_id("<|begin_of_text|>"),)
    assert loaded.mesh is None and loaded.step is None
    assert loaded.template_note is None  # its template renders as our llama3 renderer does


def test_a_checkpoint_given_another_family_or_a_step_is_refused(checkpoints):
  hf_dir, _ = checkpoints
  with pytest.raises(UserInputError, match="ends turns with <|im_end|>"):
    model_loading.load(str(hf_dir), chat_family="qwen")
  with pytest.raises(UserInputError, match="unknown chat template 'chatml'"):
    model_loading.load(str(hf_dir), chat_family="chatml")
  with pytest.raises(UserInputError, match=r"a checkpoint step \(20\) applies only to a run"):
    model_loading.load(str(hf_dir), checkpoint="20")


def write_run(directory, base: model_loading.LoadedModel) -> dict:
  """A run directory as the launcher writes one (run.json, checkpoints at steps 10 and 20
  of random parameters on the 8-device mesh, step 10 the best); returns the states."""
  config, mesh_config = base.model.config, sharding.MeshConfig()
  functions = build(config, OptimizerConfig(), sharding.make_mesh(mesh_config))
  manager = checkpointing.open_checkpoints(str(directory / "checkpoints"), keep_latest=1,
                                           keep_best=1)
  states = {step: functions.init(jax.random.key(step)) for step in (10, 20)}
  for step, loss in ((10, 1.0), (20, 2.0)):
    checkpointing.save(manager, step, states[step], loss)
  manager.close()
  (directory / "run.json").write_text(json.dumps({
      "run": "budget00050", "model": dataclasses.asdict(config),
      "mesh": dataclasses.asdict(mesh_config),
      "vocabulary": vocabularies.record(base.vocabulary), "sequence_start_ids": [7],
      "chat_template": "llama3"}))
  return states


@pytest.mark.slow  # builds the train step on the 8-device mesh: ~25 s on 2 cores
def test_a_run_directory_restores_best_latest_or_a_step_and_names_the_steps_there_are(
    checkpoints, tmp_path):
  hf_dir, _ = checkpoints
  base = model_loading.load(str(hf_dir))
  states = write_run(tmp_path, base)
  best = model_loading.load(str(tmp_path))
  assert (best.name, best.step, best.chat_family, best.start_ids) == (
      "budget00050@10", 10, "llama3", (7,))
  assert best.stop_ids == base.stop_ids and best.mesh.devices.size == 8
  for restored, saved in zip(jax.tree.leaves(best.params), jax.tree.leaves(states[10].params)):
    np.testing.assert_array_equal(np.asarray(restored), np.asarray(saved))
  assert model_loading.load(str(tmp_path), "20").step == 20
  with pytest.raises(UserInputError, match=r"checkpoint '15' not in .*one of \[10, 20\]"):
    model_loading.load(str(tmp_path), "15")
  with pytest.raises(UserInputError, match="served with the chat template it trained with"):
    model_loading.load(str(tmp_path), chat_family="llama3")
