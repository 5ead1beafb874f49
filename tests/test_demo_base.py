"""The demo's own pretrained base (xlt_jax.runner.demo_base): its text, tokenizer,
training and Hugging Face export. External references: `transformers` loads the
exported directory (AutoTokenizer, AutoModelForCausalLM) and must give our token ids
and our logits.
"""

import dataclasses
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tasks import datasets
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo
from xlt_jax.models import base_checkpoint, conversion
from xlt_jax.models.config import ModelConfig
from xlt_jax.runner import demo_base, starting_point, study_runner
from xlt_jax.training import sharding

REPO = pathlib.Path(__file__).resolve().parents[1]
# A Llama-style toy decoder (batch rows split over the 8 simulated devices).
TOY_MODEL = ModelConfig(vocab_size=512, embed_dim=32, num_layers=2, num_heads=4,
                        num_kv_heads=2, head_dim=8, mlp_dim=64)
TOY_BASE = demo_base.DemoBaseConfig(steps=3, batch_size=8, sequence_length=48,
                                    texts_per_language=8, parallel_per_language=4,
                                    warmup_steps=0)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
  directory = tmp_path_factory.mktemp("demo_data")
  demo.write_demo_dataset(str(directory), {"train": 16, "validation": 4, "test": 4}, seed=0)
  return str(directory)


@pytest.fixture(scope="module")
def mesh():
  return sharding.make_mesh(sharding.MeshConfig())


@pytest.fixture(scope="module")
def exported(data_dir, mesh, tmp_path_factory) -> str:
  out_dir = str(tmp_path_factory.mktemp("base") / "pretrained_base")
  return demo_base.build_demo_base(TOY_BASE, TOY_MODEL, mesh, data_dir, out_dir)


def test_pretraining_text_is_train_problems_with_answers_in_all_eight_languages(data_dir):
  texts = demo_base.pretraining_texts(data_dir, 8)
  assert tuple(texts) == demo.DEMO_LANGUAGES
  for language, language_texts in texts.items():
    train = datasets.read_examples("demo_arith", data_dir, language, "train")[:8]
    assert language_texts == [(e["inputs"], e["targets"]) for e in train]
    held_out = {e["inputs"] for split in ("validation", "test")
                for e in datasets.read_examples("demo_arith", data_dir, language, split)}
    assert not held_out & {question for question, _ in language_texts}
  with pytest.raises(UserInputError, match="texts_per_language=17 but the demo train split has 16"):
    demo_base.pretraining_texts(data_dir, 17)


def test_answer_languages_and_parallel_text_without_held_out_problems(
    data_dir):
  config = demo_base.DemoBaseConfig(texts_per_language=8, parallel_per_language=6,
                                    answer_languages=("en",))
  rows, tokenizer_texts = demo_base.pretraining_rows(config, data_dir)
  texts = demo_base.pretraining_texts(data_dir, 8)
  assert rows[:64] == [pair if language == "en" else pair[:1]
                       for language in demo.DEMO_LANGUAGES for pair in texts[language]]
  parallel = [row[0].split("\n") for row in rows[64:]]
  assert len(parallel) == 7 * 6 and all(len(row) == 1 for row in rows[64:])
  held_out = {e["inputs"] for language in demo.DEMO_LANGUAGES for split in ("validation", "test")
              for e in datasets.read_examples("demo_arith", data_dir, language, split)}
  english = {question for question, _ in demo._all_problems("en")}
  for index, pair in enumerate(parallel):
    assert len(pair) == 2 and not held_out & set(pair)
    assert (pair[0] in english) == (index % 2 == 0)  # English first, then second, in turn
  # The tokenizer reads every language's answers, the model English ones only.
  spanish_answer = texts["es"][0][1]
  assert spanish_answer in tokenizer_texts
  assert not any(spanish_answer in row for row in rows)
  # By default (answers everywhere, no parallel text) the rows are the train problems with
  # their answers, and the tokenizer reads exactly their texts.
  rows, tokenizer_texts = demo_base.pretraining_rows(
      demo_base.DemoBaseConfig(texts_per_language=8), data_dir)
  assert rows == [pair for language in demo.DEMO_LANGUAGES for pair in texts[language]]
  assert tokenizer_texts == [text for pair in rows for text in pair]
  with pytest.raises(UserInputError, match="answer_languages has xx"):
    demo_base.DemoBaseConfig(answer_languages=("en", "xx"))


def test_answered_per_language_keeps_that_many_answers_per_language(data_dir):
  texts = demo_base.pretraining_texts(data_dir, 8)
  config = demo_base.DemoBaseConfig(texts_per_language=8, answered_per_language=3)
  rows, tokenizer_texts = demo_base.pretraining_rows(config, data_dir)
  assert len(rows) == 8 * 8
  for number, language in enumerate(demo.DEMO_LANGUAGES):
    language_rows = rows[8 * number:8 * (number + 1)]
    # Exactly the first 3 problems carry their answer; the other 5 are questions alone.
    assert language_rows == [pair if index < 3 else pair[:1]
                             for index, pair in enumerate(texts[language])]
    # The tokenizer still reads every answer sentence, the model only the first 3.
    assert all(answer in tokenizer_texts for _, answer in texts[language])
  assert sum(len(row) == 2 for row in rows) == 8 * 3
  # A count per language: the languages named keep that many answers, the others all.
  config = demo_base.DemoBaseConfig(texts_per_language=8, answered_per_language={"ar": 2, "pt": 0})
  rows, _ = demo_base.pretraining_rows(config, data_dir)
  answered = {language: sum(len(row) == 2 for row in rows[8 * number:8 * (number + 1)])
              for number, language in enumerate(demo.DEMO_LANGUAGES)}
  assert answered == {**{language: 8 for language in demo.DEMO_LANGUAGES}, "ar": 2, "pt": 0}
  for bad in (-1, 9, {"ko": 9}):
    with pytest.raises(UserInputError, match="answered_per_language=.* must be between 0 and"):
      demo_base.DemoBaseConfig(texts_per_language=8, answered_per_language=bad)
  with pytest.raises(UserInputError, match="answered_per_language names xx"):
    demo_base.DemoBaseConfig(answered_per_language={"xx": 1})


def test_rows_are_laid_out_as_plain_study_rows_and_weigh_no_padding():
  pairs = [("Anna has 3 apples.", "The answer is 5."), ("アンナはりんごを3個持っています。", "答えは7です。")]
  tokenizer = demo_base.train_tokenizer([text for pair in pairs for text in pair] * 20, 300)
  bos, eos, pad = (tokenizer.token_to_id(token) for token in ("<s>", "</s>", "<pad>"))
  assert (bos, eos, pad) == (0, 1, 2)
  rows = demo_base.token_rows(tokenizer, [pairs[0], ("x" * 200, "y")], 32)
  question = tokenizer.encode(pairs[0][0]).ids
  answer = tokenizer.encode(pairs[0][1], add_special_tokens=False).ids
  assert question[0] == bos and tokenizer.decode(question) == pairs[0][0]
  ids = [*question, eos, *answer, eos]  # BOS question EOS answer EOS
  n = len(ids) - 1
  np.testing.assert_array_equal(rows["decoder_input_tokens"][0, :n], ids[:-1])
  np.testing.assert_array_equal(rows["decoder_target_tokens"][0, :n], ids[1:])
  assert rows["decoder_loss_weights"][0].sum() == n
  assert (rows["decoder_input_tokens"][0, n:] == pad).all()
  assert rows["decoder_loss_weights"][1].sum() == 31  # cut at 32 tokens: all 31 weighted


def test_pretraining_lowers_the_loss(data_dir, mesh):
  texts = [pair for pairs in demo_base.pretraining_texts(data_dir, 16).values() for pair in pairs]
  tokenizer = demo_base.train_tokenizer([text for pair in texts for text in pair],
                                        TOY_MODEL.vocab_size)
  rows = demo_base.token_rows(tokenizer, texts, 48)
  config = demo_base.DemoBaseConfig(steps=40, batch_size=16, learning_rate=3e-3)
  params, losses = demo_base.pretrain(TOY_MODEL, config, rows, mesh)
  assert len(losses) == 2  # steps 1 and 40
  assert abs(losses[0] - math.log(TOY_MODEL.vocab_size)) < 1.0  # a fresh model: near uniform
  assert losses[1] < losses[0] - 1.0, losses
  assert params["embedding"].shape == (TOY_MODEL.vocab_size, TOY_MODEL.embed_dim)


def test_a_model_that_is_not_llama_style_is_refused():
  tokenizer = demo_base.train_tokenizer(["a b c"] * 5, 300)
  with pytest.raises(UserInputError, match="differs from a Llama decoder in qk_norm"):
    demo_base.llama_config_json(ModelConfig(**{**vars(TOY_MODEL), "qk_norm": True}), tokenizer)


def test_exported_base_loads_in_transformers_with_our_ids_and_logits(exported, data_dir):
  torch = pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
    assert os.path.isfile(os.path.join(exported, name)), name
  base = base_checkpoint.open_base(exported)
  assert base.model_config == TOY_MODEL
  text = " ".join(demo_base.pretraining_texts(data_dir, 1)["ja"][0])
  theirs = transformers.AutoTokenizer.from_pretrained(exported)
  ids = theirs(text)["input_ids"]
  assert ids == [*base.vocabulary.prefix_ids, *base.vocabulary.encode(text)]
  assert ids[0] == theirs.bos_token_id == 0 and theirs.eos_token_id == 1
  hf_model = transformers.AutoModelForCausalLM.from_pretrained(exported, dtype=torch.float32)
  with torch.no_grad():
    expected = hf_model(torch.tensor([ids])).logits.numpy()
  model, params = conversion.from_hf(exported)
  ours, _ = model.apply({"params": params}, np.array([ids], np.int32))
  np.testing.assert_allclose(np.asarray(ours), expected, atol=1e-4, rtol=1e-4)


def test_a_second_build_reuses_the_base_and_other_settings_are_refused(exported, data_dir, mesh):
  before = os.path.getmtime(os.path.join(exported, "model.safetensors"))
  assert demo_base.build_demo_base(TOY_BASE, TOY_MODEL, mesh, data_dir, exported) == exported
  assert os.path.getmtime(os.path.join(exported, "model.safetensors")) == before
  record = json.loads(pathlib.Path(exported, demo_base.RECORD_FILE).read_text())
  assert record["texts"] == 64 + 7 * 4 and len(record["losses_at_steps_1_50_100_and_last"]) == 2
  # A base recorded before a setting existed was built with its default: still reused.
  older = json.loads(json.dumps(record))
  defaults = json.loads(json.dumps(vars(demo_base.DemoBaseConfig())))
  dropped = [name for name in ("answer_languages", "parallel_per_language")
             if older["settings"]["demo_base"][name] == defaults[name]]
  assert dropped
  for name in dropped:
    del older["settings"]["demo_base"][name]
  pathlib.Path(exported, demo_base.RECORD_FILE).write_text(json.dumps(older))
  assert demo_base.build_demo_base(TOY_BASE, TOY_MODEL, mesh, data_dir, exported) == exported
  assert os.path.getmtime(os.path.join(exported, "model.safetensors")) == before
  pathlib.Path(exported, demo_base.RECORD_FILE).write_text(json.dumps(record))
  other = demo_base.DemoBaseConfig(**{**vars(TOY_BASE), "steps": 4})
  with pytest.raises(UserInputError, match=r"other settings \(steps differ\)"):
    demo_base.build_demo_base(other, TOY_MODEL, mesh, data_dir, exported)


def test_demo_base_and_a_base_checkpoint_together_are_refused(tmp_path):
  experiment = study_runner.Experiment(
      model_dir=str(tmp_path), study=None, model=TOY_MODEL, mesh=sharding.MeshConfig(),
      optimizer=None, train=study_runner.trainer.TrainConfig(), evaluation=None,
      base_checkpoint="/some/hf_dir", demo_base=TOY_BASE)
  with pytest.raises(UserInputError, match="demo_base and Experiment.base_checkpoint"):
    starting_point.check_starting_point(experiment)


def test_evaluating_the_base_of_a_study_trained_from_scratch_is_refused(tmp_path):
  experiment = study_runner.Experiment(
      model_dir=str(tmp_path), study=None, model=TOY_MODEL, mesh=sharding.MeshConfig(),
      optimizer=None, train=study_runner.trainer.TrainConfig(), evaluation=None,
      evaluate_base=True)
  with pytest.raises(UserInputError, match="Experiment.evaluate_base=True evaluates the base"
                     " model a study fine-tunes, but none is given"):
    starting_point.check_starting_point(experiment)
  starting_point.check_starting_point(dataclasses.replace(experiment, demo_base=TOY_BASE))


@pytest.mark.slow
def test_the_smoke_study_fine_tunes_its_own_base_through_the_base_checkpoint_path(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
             XLA_FLAGS="--xla_force_host_platform_device_count=1")
  command = [sys.executable, "-m", "xlt_jax.launch", "--gin_file=gin/smoke_demo_base_cpu.gin",
             f"--gin.MODEL_DIR='{tmp_path}'"]
  result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "building the demo's pretrained base" in result.stdout
  base_dir = tmp_path / "pretrained_base"
  assert (tmp_path / "base" / "source.json").is_file()  # converted once, as any HF base
  assert json.loads((tmp_path / "base" / "source.json").read_text())["hf_dir"] == str(base_dir)
  for run in json.loads((tmp_path / "study.json").read_text())["runs"]:
    record = json.loads((tmp_path / run["run_dir"] / "run.json").read_text())
    assert record["base_checkpoint"]["source"] == str(base_dir)
    assert record["vocabulary"]["path"] == str(tmp_path / "base" / "tokenizer.json")
    assert record["sequence_start_ids"] == [0]  # the base tokenizer's BOS
    assert (tmp_path / run["run_dir"] / "eval" / "metrics.json").is_file()
  # Experiment.evaluate_base: the base model once, in the first run, and the report's section.
  first_run = json.loads((tmp_path / "study.json").read_text())["runs"][0]["run_dir"]
  base_metrics = json.loads((tmp_path / first_run / "eval" / "base" / "metrics.json").read_text())
  run_metrics = json.loads((tmp_path / first_run / "eval" / "metrics.json").read_text())
  assert set(base_metrics["tasks"]["demo_arith"]["languages"]) == set(
      run_metrics["tasks"]["demo_arith"]["languages"]) >= {"en", "es", "ar"}
  report_text = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
  assert "#### Against the base model" in report_text
  again = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600, check=False)
  assert again.returncode == 0, again.stderr[-3000:]
  assert "using the demo's pretrained base" in again.stdout
  assert "building" not in again.stdout and again.stdout.count("already trained") == 3
  assert "[base model] already evaluated" in again.stdout
