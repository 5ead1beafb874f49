"""The papers' training protocols: learning-rate schedules and weight decay as the Hugging
Face Trainer computes them, dropout in training only, and step / epoch budgets over
exactly the examples the length policy keeps."""

import collections
import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import seqio

from tasks import registration
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo as demo_data
from xlt_jax.models.config import ModelConfig
from xlt_jax.training import batches, length_policy, sharding, trainer
from xlt_jax.training.train_step import (
  OptimizerConfig,
  build,
  global_batch,
  learning_rate_schedule,
  make_optimizer,
  weight_decay_mask,
)

transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize("total_steps", [100, 37, 2000])
def test_cosine_and_linear_schedules_equal_transformers(total_steps, tmp_path):
  from transformers import optimization

  arguments = transformers.TrainingArguments(output_dir=str(tmp_path), warmup_steps=0.03)
  warmup = arguments.get_warmup_steps(total_steps)  # ceil(0.03 x steps), as P4's 3%
  for schedule, reference in [("cosine", optimization._get_cosine_schedule_with_warmup_lr_lambda),
                              ("linear", optimization._get_linear_schedule_with_warmup_lr_lambda)]:
    config = OptimizerConfig(learning_rate=1e-5, schedule=schedule, warmup_fraction=0.03)
    assert config.warmup(total_steps) == warmup
    ours = learning_rate_schedule(config, total_steps)
    extra = {"num_cycles": 0.5} if schedule == "cosine" else {}
    expected = [1e-5 * reference(step, num_warmup_steps=warmup, num_training_steps=total_steps,
                                 **extra) for step in range(total_steps)]
    np.testing.assert_allclose([float(ours(step)) for step in range(total_steps)], expected,
                               rtol=1e-5, atol=1e-12)
  # By hand: the rate peaks right after the warmup and the last update's is nearly 0.
  cosine = learning_rate_schedule(OptimizerConfig(1e-5, schedule="cosine", warmup_fraction=0.03),
                                  total_steps)
  assert float(cosine(warmup)) == pytest.approx(1e-5)
  assert float(cosine(total_steps - 1)) < 1e-5 * (math.pi / (total_steps - warmup)) ** 2


def test_the_default_schedule_is_todays_constant_rate():
  assert float(learning_rate_schedule(OptimizerConfig(3e-4))(12345)) == np.float32(3e-4)
  warmed = learning_rate_schedule(OptimizerConfig(1e-3, warmup_steps=10))
  assert [float(warmed(step)) for step in (0, 5, 10, 500)] == pytest.approx([0, 5e-4, 1e-3, 1e-3])
  assert not OptimizerConfig().needs_run_length
  with pytest.raises(UserInputError, match="needs the run's number of steps"):
    learning_rate_schedule(OptimizerConfig(schedule="cosine"))
  with pytest.raises(UserInputError, match="schedule"):
    OptimizerConfig(schedule="exponential")
  with pytest.raises(UserInputError, match="leave nothing"):
    learning_rate_schedule(OptimizerConfig(schedule="linear", warmup_steps=50), 50)


@pytest.mark.slow
def test_weight_decay_skips_exactly_what_the_hugging_face_trainer_skips():
  torch = pytest.importorskip("torch")
  from xlt_jax.models import hf_params
  from xlt_jax.models.decoder import Decoder
  from xlt_jax.models.hf_config import model_config_from_hf

  torch.manual_seed(0)
  hf_config = transformers.Qwen3Config(  # query and key norms besides the layer norms
      vocab_size=64, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
      num_attention_heads=2, num_key_value_heads=1, head_dim=8, tie_word_embeddings=False)
  model = transformers.AutoModelForCausalLM.from_config(hf_config)
  decayed = set(transformers.Trainer.get_decay_parameter_names(None, model))
  config = model_config_from_hf(hf_config.to_dict())
  params = nn.unbox(Decoder(config).init(jax.random.key(0), jnp.zeros((1, 1), jnp.int32))["params"])
  mask = weight_decay_mask(params)
  mappings = hf_params.tensor_mappings(config)
  assert {mapping.hf_name for mapping in mappings} == {name for name, _ in model.named_parameters()}
  for mapping in mappings:
    leaf = mask
    for key in mapping.path:
      leaf = leaf[key]
    assert leaf == (mapping.hf_name in decayed), mapping.hf_name
  assert any(not leaf for leaf in jax.tree.leaves(mask)) and any(jax.tree.leaves(mask))

  # One update with zero gradients is the decay alone: p - lr * wd * p where decayed.
  optimizer = make_optimizer(OptimizerConfig(learning_rate=0.1, weight_decay=0.5,
                                             gradient_clip_norm=None))
  zeros = jax.tree.map(jnp.zeros_like, params)
  updates, _ = optimizer.update(zeros, optimizer.init(params), params)
  new = optax.apply_updates(params, updates)
  for old_leaf, new_leaf, decays in zip(jax.tree.leaves(params), jax.tree.leaves(new),
                                        jax.tree.leaves(mask)):
    np.testing.assert_allclose(new_leaf, old_leaf * (1 - 0.05) if decays else old_leaf,
                               rtol=1e-6)


CONFIG = ModelConfig(vocab_size=64, embed_dim=32, num_layers=1, num_heads=4, num_kv_heads=2,
                     head_dim=8, mlp_dim=64)


def _batch():
  rng = np.random.default_rng(0)
  tokens = rng.integers(2, 64, (8, 17)).astype(np.int32)
  return {"decoder_input_tokens": tokens[:, :-1], "decoder_target_tokens": tokens[:, 1:],
          "decoder_loss_weights": np.ones((8, 16), np.int32)}


@pytest.mark.slow  # four builds: about 110 s on 2 shared cores
def test_dropout_changes_the_training_loss_but_never_validation():
  mesh = sharding.make_mesh(sharding.MeshConfig(1, 1, 1), jax.devices()[:1])
  optimizer = OptimizerConfig(learning_rate=1e-3)
  plain = build(CONFIG, optimizer, mesh)
  dropped = build(CONFIG, optimizer, mesh, dropout_rate=0.3, dropout_seed=7)
  batch = global_batch(_batch(), plain.batch_sharding)

  def first_step(functions):
    state = functions.init(jax.random.key(0))
    validation = [float(value) for value in functions.validation_step(state.params, batch)]
    state, metrics = functions.train_step(state, batch)
    return float(metrics["loss"]), validation, state

  plain_loss, plain_validation, plain_state = first_step(plain)
  loss, validation, state = first_step(dropped)
  again, _, _ = first_step(dropped)  # the masks depend on (seed, step) only
  assert validation == plain_validation  # deterministic at evaluation
  assert loss != plain_loss and loss == again
  assert jax.tree.structure(state.params) == jax.tree.structure(plain_state.params)
  # Attention-probability dropout is threaded to the train step the same way.
  attention_loss, attention_validation, _ = first_step(
      build(CONFIG, optimizer, mesh, dropout_seed=7, attention_dropout_rate=0.3))
  assert attention_validation == plain_validation
  assert attention_loss not in (plain_loss, loss)
  with pytest.raises(UserInputError, match="dropout_rate"):
    trainer.TrainConfig(dropout_rate=1.0)
  with pytest.raises(UserInputError, match="attention_dropout_rate"):
    trainer.TrainConfig(attention_dropout_rate=-0.1)


VOCABULARY = seqio.ByteVocabulary()
# Byte targets: English answers take 17-18 tokens with EOS, Spanish ones 19-20; at 19 every
# English example is kept and 25 of the 64 Spanish ones are dropped.
LENGTHS = batches.FeatureLengths(inputs=48, targets=19)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
  path = str(tmp_path_factory.mktemp("data"))
  demo_data.write_demo_dataset(path, {"train": 64, "validation": 8, "test": 0},
                               languages=("en", "es"))
  return path


@pytest.fixture
def mixture(data_dir) -> str:
  """Registered per test: conftest restores seqio's registries after each one."""
  tasks = [registration.register_task("demo_arith", data_dir, language, split, VOCABULARY)
           for split in ("train", "validation") for language in ("en", "es")]
  for name, members in (("protocol_train", tasks[:2]), ("protocol_validation", tasks[2:])):
    if name not in seqio.MixtureRegistry.names():
      seqio.MixtureRegistry.add(name, [(task, 1) for task in members])
  return "protocol_train"


def _kept_sequences(mixture: str, lengths=LENGTHS) -> collections.Counter:
  """Each example the length policy keeps, as the input tokens of its row, computed from
  the tasks' examples: start, the last 48 prompt tokens, the target without its last."""
  kept = collections.Counter()
  for task in seqio.get_mixture_or_task(mixture).tasks:
    for example in task.get_dataset(None, split="train", shuffle=False, num_epochs=1).as_numpy_iterator():
      if len(example["targets"]) <= lengths.targets:
        sequence = [0, *example["inputs"][-lengths.inputs:], *example["targets"]]
        kept[tuple(sequence[:-1])] += 1
  return kept


def _row_sequences(batch: dict) -> list[tuple]:
  return [tuple(tokens[segments == 1]) for tokens, segments
          in zip(batch["decoder_input_tokens"], batch["decoder_segment_ids"])
          if segments.any()]


def test_each_epoch_is_every_kept_example_exactly_once(mixture):
  kept = _kept_sequences(mixture)
  assert sum(kept.values()) == 64 + 39 == batches.kept_examples(mixture, LENGTHS)
  steps = batches.steps_per_epoch(103, 8)
  assert steps == 13
  stream = batches.training_batches(mixture, LENGTHS, batch_size=8, seed=3)
  epochs = [[next(stream) for _ in range(steps)] for _ in range(2)]
  orders = []
  for epoch in epochs:
    sequences = [sequence for batch in epoch for sequence in _row_sequences(batch)]
    assert collections.Counter(sequences) == kept
    orders.append(sequences)
    # Only the last batch has an empty row, and empty rows carry no loss.
    empty = [int((batch["decoder_segment_ids"].sum(axis=1) == 0).sum()) for batch in epoch]
    assert empty == [0] * 12 + [1]
    assert epoch[-1]["decoder_loss_weights"][-1].sum() == 0
  assert orders[0] != orders[1]  # another order in every epoch
  # Replaying (a resume) gives the same batches; two hosts share each epoch between them.
  resumed = next(batches.training_batches(mixture, LENGTHS, batch_size=8, seed=3,
                                          skip_batches=steps + 1, kept=103))
  np.testing.assert_array_equal(resumed["decoder_input_tokens"],
                                epochs[1][1]["decoder_input_tokens"])
  hosts = [batches.training_batches(mixture, LENGTHS, batch_size=8, seed=3,
                                    shard=seqio.ShardInfo(index, 2)) for index in range(2)]
  shared = [[next(host) for _ in range(steps)] for host in hosts]
  assert all(batch["decoder_input_tokens"].shape == (4, 67) for host in shared for batch in host)
  assert collections.Counter(sequence for host in shared for batch in host
                             for sequence in _row_sequences(batch)) == kept


def test_budgets_in_steps(mixture):
  config = trainer.TrainConfig(batch_size=8, num_epochs=3)
  assert config.total_steps(103) == 3 * 13
  assert dataclasses.replace(config, max_steps=20).total_steps(103) == 20
  assert dataclasses.replace(config, num_steps=2000).total_steps(103) == 2000
  with pytest.raises(UserInputError, match="whole number"):
    trainer.TrainConfig(num_epochs=1.5)


def test_packed_rows_with_an_epoch_budget_hold_every_kept_example_once_per_epoch(mixture):
  lengths = batches.FeatureLengths(inputs=200, targets=19)  # rows of 219: about 2 examples
  kept = _kept_sequences(mixture, lengths)
  assert sum(kept.values()) == 103
  rows = batches.epoch_rows(mixture, lengths, seed=3, pack=True, kept=103)
  assert 103 / 3 < rows < 103  # several examples to a row
  config = trainer.TrainConfig(batch_size=8, num_epochs=2, pack=True)
  steps = batches.steps_per_epoch(rows, 8)
  assert config.total_steps(rows) == 2 * steps
  stream = batches.training_batches(mixture, lengths, batch_size=8, seed=3, pack=True)
  orders, epochs = [], []
  for _ in range(2):
    epoch = [next(stream) for _ in range(steps)]
    epochs.append(epoch)
    segments = [tuple(tokens[ids == segment]) for batch in epoch
                for tokens, ids in zip(batch["decoder_input_tokens"], batch["decoder_segment_ids"])
                for segment in sorted(set(ids.tolist()) - {0})]
    assert collections.Counter(segments) == kept  # exactly the kept examples, each once
    orders.append(segments)
  assert orders[0] != orders[1]  # the rows come in another order in every epoch
  resumed = next(batches.training_batches(mixture, lengths, batch_size=8, seed=3, pack=True,
                                          skip_batches=steps))
  np.testing.assert_array_equal(resumed["decoder_input_tokens"],  # a resume replays them
                                epochs[1][0]["decoder_input_tokens"])


@pytest.mark.slow  # a whole run: about 40 s on 2 shared cores
def test_a_run_trains_its_kept_examples_for_its_epochs_and_says_what_was_dropped(
    mixture, tmp_path):
  import io
  import json

  manifest = {"train": [{"task": task.name, "language": task.name.split("_")[-2], "ids": []}
                        for task in seqio.get_mixture_or_task(mixture).tasks]}
  config = trainer.TrainConfig(batch_size=8, inputs_length=LENGTHS.inputs,
                               targets_length=LENGTHS.targets, num_epochs=2,
                               validation_every_steps=100, checkpoint_every_steps=100,
                               log_every_steps=100, async_checkpointing=False)
  model = ModelConfig(vocab_size=384, embed_dim=16, num_layers=1, num_heads=2, num_kv_heads=1,
                      head_dim=8, mlp_dim=32)
  stream = io.StringIO()
  summary = trainer.train_run(
      run_dir=str(tmp_path), run_name="kept", model_config=model,
      optimizer_config=OptimizerConfig(learning_rate=1e-3, schedule="cosine",
                                       warmup_fraction=0.03),
      train_config=config, mesh=sharding.make_mesh(sharding.MeshConfig(data=-1)),
      mixture=mixture, validation_mixture="protocol_validation", num_train_examples=128,
      manifest=manifest, stream=stream)
  assert summary["kept_examples"] == 103 and summary["dropped_examples"] == 25
  assert summary["steps"] == 26 and summary["steps_per_epoch"] == 13 and summary["epochs"] == 2
  lengths = json.loads((tmp_path / trainer.LENGTHS_FILE).read_text())
  # A dropped example counts as dropped, not also as truncated.
  assert lengths["by_language"]["train"]["es"] == {"examples": 64, "truncated": 39,
                                                   "dropped": 25}
  assert lengths["by_language"]["train"]["en"]["dropped"] == 0
  assert "103 training examples kept, 26 steps (2 epochs of 13 steps)" in stream.getvalue()
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
  steps = [record for record in records if "learning_rate" in record]
  assert steps[-1]["step"] == 26 and steps[-1]["learning_rate"] < 1e-4  # cosine, decayed


def test_a_study_warns_about_runs_that_lose_more_than_the_threshold(mixture):
  manifest = {"train": [{"task": task.name, "language": task.name.split("_")[-2]}
                        for task in seqio.get_mixture_or_task(mixture).tasks]}
  report = length_policy.length_report(mixture, "protocol_validation", LENGTHS, manifest)
  assert report["kept_examples"] == 103
  (warning,) = length_policy.length_warnings({"budget00064": report}, threshold=0.01)
  assert warning.startswith("run budget00064: the length policy drops 25 and truncates 103 of"
                            " 128 training examples (100.0%, above 1.0%) at 48+19 tokens")
  assert "es 25 dropped / 39 truncated of 64" in warning and "it trains on the 103 kept" in warning
  # Long prompts are only truncated here; at 200 prompt tokens nothing is lost but 25 answers.
  longer = batches.FeatureLengths(inputs=200, targets=19)
  report = length_policy.length_report(mixture, "protocol_validation", longer, manifest)
  assert length_policy.length_warnings({"run": report}, threshold=0.25) == []
  assert len(length_policy.length_warnings({"run": report}, threshold=0.19)) == 1
