"""seqio tasks and mixtures of a study, read from real files through real pipelines."""

import json

import numpy as np
import pytest
import seqio

from tasks import datasets, mixtures, registration
from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.data import demo as demo_data
from xlt_jax.models.tokenizer import load_vocabulary, train_sentencepiece
from xlt_jax.studies.designs import StudyDesign
from xlt_jax.training import batches


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
  """A small demo dataset and a tokenizer trained on it, shared by this module's tests."""
  root = tmp_path_factory.mktemp("demo")
  demo_data.write_demo_dataset(str(root), {"train": 120, "validation": 8, "test": 6})
  texts = []
  for language in datasets.DEMO_LANGUAGES:
    for example in datasets.read_examples("demo_arith", str(root), language, "train"):
      texts += [example["inputs"], example["targets"]]
  train_sentencepiece(texts, str(root / "spm.model"), 1024)
  return root


@pytest.fixture
def vocabulary(demo_dir):
  return load_vocabulary(str(demo_dir / "spm.model"))


def _design(**overrides):
  values = dict(name="t", dataset="demo_arith", seen_languages=("es", "ja"),
                unseen_languages=("ar",), budgets=(0, 10, 30), english_size=40,
                validation_size=8, evaluation_size=6)
  values.update(overrides)
  return StudyDesign(**values)


def test_study_registers_one_mixture_per_run_with_exact_budgets(demo_dir, vocabulary):
  runs = mixtures.register_study(_design(), str(demo_dir), vocabulary)
  assert [run.plan.mixture for run in runs] == ["t_budget00000", "t_budget00010", "t_budget00030"]
  members = {task.name: rate for task, rate in
             zip(seqio.get_mixture_or_task("t_budget00030").tasks,
                 [seqio.get_mixture_or_task("t_budget00030").get_rate(t) for t in
                  seqio.get_mixture_or_task("t_budget00030").tasks])}
  assert members == {"demo_arith_en_train_n40": 40, "demo_arith_es_train_n30": 30,
                     "demo_arith_ja_train_n30": 30}
  assert [t.name for t in seqio.get_mixture_or_task("t_budget00000").tasks] == [
      "demo_arith_en_train_n40"]
  # Budgets are exact per task: one epoch of a subset task holds exactly its budget.
  subset = seqio.get_mixture_or_task("demo_arith_es_train_n30").get_dataset(
      sequence_length=None, split="train", shuffle=False, num_epochs=1)
  ids = [example["id"].decode() for example in subset.as_numpy_iterator()]
  assert ids == runs[2].manifest["train"][1]["ids"]
  # Nested: the 10-example run's Spanish ids are a prefix of the 30-example run's.
  assert runs[1].manifest["train"][1]["ids"] == ids[:10]
  # English is the same sample in every run.
  assert len({json.dumps(run.manifest["train"][0]["ids"]) for run in runs}) == 1


def test_manifest_records_sources_and_validation_never_overlaps_training(demo_dir, vocabulary):
  run = mixtures.register_study(_design(), str(demo_dir), vocabulary)[2]
  for entry in run.manifest["train"] + run.manifest["validation"]:
    assert len(entry["source_sha256"]) == 64 and entry["source"].endswith(".tsv")
  train_text = set()
  for entry in run.manifest["train"]:
    for example in datasets.read_examples("demo_arith", str(demo_dir), entry["language"], "train"):
      if example["id"] in entry["ids"]:
        train_text.add(example["inputs"])
  for entry in run.manifest["validation"]:
    for example in datasets.read_examples("demo_arith", str(demo_dir), entry["language"],
                                          "validation"):
      assert example["inputs"] not in train_text


def test_training_batches_have_loss_on_targets_only(demo_dir, vocabulary):
  runs = mixtures.register_study(_design(), str(demo_dir), vocabulary)
  lengths = batches.FeatureLengths(inputs=64, targets=16)
  batch = next(batches.training_batches(runs[1].plan.mixture, lengths, batch_size=8, seed=0))
  assert batch["decoder_input_tokens"].shape == (8, 80)
  for row in range(8):
    targets = batch["decoder_target_tokens"][row]
    weights = batch["decoder_loss_weights"][row]
    weighted = targets[weights > 0].tolist()
    # The weighted tokens are the completion: the answer sentence closed by EOS.
    assert weighted[-1] == vocabulary.eos_id
    assert "answer" in vocabulary.decode(weighted[:-1]).lower() or any(
        char.isdigit() for char in vocabulary.decode(weighted[:-1]))
    # Inputs are the targets shifted right by one, starting from the pad/start token 0,
    # over the example's tokens (segment 1); padding is 0 everywhere.
    assert batch["decoder_input_tokens"][row][0] == 0
    real = batch["decoder_segment_ids"][row] > 0
    np.testing.assert_array_equal(batch["decoder_input_tokens"][row][1:][real[1:]],
                                  targets[:-1][real[1:]])
    assert not batch["decoder_input_tokens"][row][~real].any() and not targets[~real].any()
  validation = batches.validation_batches(runs[1].plan.validation_mixture, lengths, batch_size=5)
  # 3 languages x 8 examples = 24 rows -> 5 batches, the last padded with zero weights.
  assert len(validation) == 5
  assert validation[-1]["decoder_loss_weights"][4:].sum() == 0


def test_registration_is_idempotent_and_rejects_a_different_definition(demo_dir, vocabulary):
  design = _design()
  mixtures.register_study(design, str(demo_dir), vocabulary)
  mixtures.register_study(design, str(demo_dir), vocabulary)  # same again: fine
  with pytest.raises(UserInputError, match="already registered with a different definition"):
    mixtures.register_study(_design(seed=1), str(demo_dir), vocabulary)


@pytest.mark.parametrize("overrides, message", [
    ({"seen_languages": ("xx",)}, "unknown language code 'xx'"),
    ({"seen_languages": ("de",)}, "unknown demo_arith language code 'de'"),
    ({"budgets": (0, 500)}, r"budget 500 for task demo_arith_es_train \(language es\) exceeds the"
                            r" 120 available examples"),
    ({"dataset": "xlsum_v9"}, "unknown dataset 'xlsum_v9'"),
])
def test_bad_designs_fail_before_anything_runs(demo_dir, vocabulary, overrides, message):
  with pytest.raises(UserInputError, match=message):
    mixtures.register_study(_design(**overrides), str(demo_dir), vocabulary)


def test_missing_data_directory(tmp_path, vocabulary):
  with pytest.raises(UserInputError, match="data directory .*nowhere does not exist"):
    mixtures.register_study(_design(), str(tmp_path / "nowhere"), vocabulary)


def test_malformed_row_names_file_and_line(demo_dir, tmp_path, vocabulary):
  import shutil
  copy = tmp_path / "data"
  shutil.copytree(demo_dir, copy)
  path = copy / "demo_arith" / "train" / "es.tsv"
  lines = path.read_text(encoding="utf-8").splitlines()
  lines[6] = "a question without an answer column"
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")
  with pytest.raises(DataFormatError, match=r"es\.tsv:7:"):
    mixtures.register_study(_design(), str(copy), vocabulary)


def test_unknown_mixture_is_named():
  with pytest.raises(UserInputError, match="unknown task or mixture 'no_such_mixture'"):
    batches.get_mixture_or_task("no_such_mixture")


def test_evaluation_tasks_cover_every_language_and_read_prompts(demo_dir, vocabulary):
  registered = mixtures.register_evaluation_tasks(_design(), str(demo_dir), vocabulary)
  assert list(registered) == ["demo_arith"]  # one task: the study's dataset
  tasks = registered["demo_arith"]
  assert list(tasks) == ["en", "es", "ja", "ar"]
  examples = batches.evaluation_examples(tasks["ja"])
  assert len(examples) == 6
  assert vocabulary.decode(examples[0]["prompt_tokens"][:-1]) == examples[0]["prompt"]
  assert examples[0]["prompt_tokens"][-1] == vocabulary.eos_id


def test_mgsm_tasks_load_all_languages_with_8_shot_prompts(test_data, vocabulary):
  for language in datasets.MGSM_LANGUAGES:
    name = registration.register_task("mgsm", str(test_data), language, "test", vocabulary)
    assert name == f"mgsm_{language}_test"
  examples = datasets.read_examples("mgsm", str(test_data), "en", "test")
  assert len(examples) == 250
  assert examples[0]["inputs"].count("\n\n") == 8  # 8 exemplars, then the question
  first = next(batches.get_mixture_or_task("mgsm_en_test").get_dataset(
      sequence_length=None, split="test", shuffle=False).as_numpy_iterator())
  assert first["answer"].decode() == "18"


def test_an_evaluation_size_larger_than_the_test_set_is_named_as_such(demo_dir, vocabulary):
  # The demo test split has 6 items per language; asking for 7 is not a training budget.
  with pytest.raises(UserInputError, match=r"StudyDesign.evaluation_size 7 for task"
                                           r" demo_arith_\w+_test \(language \w+\) exceeds the 6"):
    mixtures.register_evaluation_tasks(_design(evaluation_size=7), str(demo_dir), vocabulary)
