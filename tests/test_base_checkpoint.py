"""Studies from a pretrained Hugging Face checkpoint (`Experiment.base_checkpoint`).

For each family the converter supports, a tiny random `transformers` model is saved
with a real tokenizer: a byte-level BPE trained here on the demo data's text with the
family's control tokens, a post-processor that adds BOS where the family's tokenizer
does, and the family's official chat template (tests/test_chat_templates.py), all
written by `save_pretrained`. The external reference is `transformers` itself: its
tokenizer for the token ids of training rows and evaluation prompts, its model for
the first step's loss.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import tokenizers  # noqa: E402
from test_chat_templates import FAMILIES as CHAT_FAMILIES  # noqa: E402
from tokenizers import decoders, models, pre_tokenizers, processors, trainers  # noqa: E402

from tasks import datasets, mixtures  # noqa: E402
from xlt_jax.core.errors import UserInputError  # noqa: E402
from xlt_jax.data import demo  # noqa: E402
from xlt_jax.evaluation import evaluator  # noqa: E402
from xlt_jax.models import base_checkpoint, conversion  # noqa: E402
from xlt_jax.studies.designs import StudyDesign  # noqa: E402
from xlt_jax.training import batches, features, sharding, step_functions  # noqa: E402
from xlt_jax.training.train_step import OptimizerConfig, build, global_batch  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
MODEL_VOCAB = 512  # embedding rows; the tokenizers have TOKENIZER_VOCAB <= this
TOKENIZER_VOCAB = 480
# A large initializer_range: logits far from uniform, so that the loss tells models apart.
COMMON = dict(vocab_size=MODEL_VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
              initializer_range=0.3)

# model_type: (config, chat template family, EOS token, pad token). EOS closes plain
# prompts and answers; the chat family's end-of-turn token closes assistant turns.
FAMILIES = {
    "llama": (lambda: transformers.LlamaConfig(**COMMON, tie_word_embeddings=False),
              "llama3", "<|end_of_text|>", None),
    "qwen3": (lambda: transformers.Qwen3Config(**COMMON, head_dim=16, tie_word_embeddings=True),
              "qwen", "<|endoftext|>", "<|endoftext|>"),
    "cohere": (lambda: transformers.CohereConfig(**COMMON, logit_scale=0.5),
               "cohere", "<|END_OF_TURN_TOKEN|>", "<PAD>"),
    "gemma": (lambda: transformers.GemmaConfig(**COMMON, head_dim=16), "gemma", "<eos>", "<pad>"),
    # Falcon 7B has no chat template of its own: ChatML's control tokens stand in.
    "falcon": (lambda: transformers.FalconConfig(
        vocab_size=MODEL_VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=512, initializer_range=0.3), "qwen", "<|endoftext|>", None),
    "gemma3_text": (lambda: transformers.Gemma3TextConfig(
        **{**COMMON, "num_hidden_layers": 3}, head_dim=16, sliding_window=8,
        query_pre_attn_scalar=16), "gemma", "<eos>", "<pad>"),
}
# The family each study test runs by default; the others run with -m slow.
DEFAULT_FAMILY = "llama"


def _slow_unless_default(families):
  return [family if family == DEFAULT_FAMILY else pytest.param(family, marks=pytest.mark.slow)
          for family in families]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> pathlib.Path:
  """The demo dataset at the smoke study's size (what gin/smoke_cpu.gin generates)."""
  directory = tmp_path_factory.mktemp("demo")
  demo.write_demo_dataset(str(directory), {"train": 64, "validation": 8, "test": 8}, seed=0)
  return directory


# The chat templates' own words: a real tokenizer has merges for them, so that the
# rendered conversations stay short.
TEMPLATE_TEXTS = ["Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n",
                  "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
                  "system\n", "user\n", "assistant\n", "model\n"] * 20


def _demo_texts(demo_dir: pathlib.Path) -> list[str]:
  texts = list(TEMPLATE_TEXTS)
  for language in demo.DEMO_LANGUAGES:
    for example in datasets.read_examples("demo_arith", str(demo_dir), language, "train"):
      texts += [example["inputs"], example["targets"]]
  return texts


def _tokenizer(family: str, texts: list[str]) -> transformers.PreTrainedTokenizerFast:
  """A byte-level BPE on the texts with the family's control tokens, BOS added where
  the family adds it, its EOS and pad tokens and its official chat template."""
  _, chat_family, eos_token, pad_token = FAMILIES[family]
  template, bos_token, _, control_tokens = CHAT_FAMILIES[chat_family]
  tokenizer = tokenizers.Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  tokenizer.train_from_iterator(texts, trainer=trainers.BpeTrainer(
      vocab_size=TOKENIZER_VOCAB, special_tokens=control_tokens,
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
  if bos_token is None:  # Qwen: no BOS, as its tokenizer.json's ByteLevel post-processor
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
  else:
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos_token} $A", pair=f"{bos_token} $A {bos_token} $B",
        special_tokens=[(bos_token, tokenizer.token_to_id(bos_token))])
  return transformers.PreTrainedTokenizerFast(
      tokenizer_object=tokenizer, bos_token=bos_token, eos_token=eos_token, pad_token=pad_token,
      chat_template=template)


def _save_base(family: str, directory: pathlib.Path, demo_dir: pathlib.Path) -> pathlib.Path:
  """Saves a tiny random model of the family with its tokenizer; returns the directory."""
  torch.manual_seed(0)
  model = transformers.AutoModelForCausalLM.from_config(FAMILIES[family][0]()).eval()
  with torch.no_grad():  # random norm weights: a misplaced norm changes the loss
    for name, parameter in model.named_parameters():
      if ("norm" in name or "ln_f" in name) and name.endswith("bias"):
        parameter.normal_(0.0, 0.1)  # Falcon's LayerNorm biases
      elif "norm" in name or "ln_f" in name:
        parameter.normal_(0.0, 0.5 if family.startswith("gemma") else 1.0)

  model.save_pretrained(directory)
  # Llama's template goes into tokenizer_config.json (older checkpoints), the others
  # into chat_template.jinja (transformers 5's default).
  _tokenizer(family, _demo_texts(demo_dir)).save_pretrained(
      directory, save_jinja_files=family != "llama")
  return directory


def _design(**overrides) -> StudyDesign:
  values = dict(name="base", dataset="demo_arith", seen_languages=("es", "ja"),
                unseen_languages=("ar",), budgets=(0, 16), english_size=24, validation_size=8,
                evaluation_size=8)
  return StudyDesign(**{**values, **overrides})


def _official_ids(tokenizer, messages, add_generation_prompt) -> list[int]:
  ids = tokenizer.apply_chat_template(messages, tokenize=True,
                                      add_generation_prompt=add_generation_prompt)
  return list(ids if isinstance(ids, list) else ids["input_ids"])


def _expected_sequence(tokenizer, example: dict, chat_family: str | None) -> tuple[int, ...]:
  """What `transformers` makes of a training example: the chat template's ids, or
  tokenizer(prompt) (with its BOS) + EOS + the answer + EOS."""
  if chat_family is not None:
    return tuple(_official_ids(tokenizer, [{"role": "user", "content": example["inputs"]},
                                           {"role": "assistant", "content": example["targets"]}],
                               add_generation_prompt=False))
  return tuple(tokenizer(example["inputs"])["input_ids"] + [tokenizer.eos_token_id]
               + tokenizer(example["targets"], add_special_tokens=False)["input_ids"]
               + [tokenizer.eos_token_id])


def _torch_loss(model, batch: dict) -> float:
  """The masked mean token cross-entropy of the batch under the Hugging Face model."""
  inputs = torch.from_numpy(batch["decoder_input_tokens"].astype(np.int64))
  targets = torch.from_numpy(batch["decoder_target_tokens"].astype(np.int64))
  weights = torch.from_numpy(batch["decoder_loss_weights"].astype(np.float32))
  with torch.no_grad():  # trailing padding cannot reach earlier positions: causal attention
    logits = model(inputs).logits.float()
  losses = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             targets.reshape(-1), reduction="none")
  return float((losses * weights.reshape(-1)).sum() / weights.sum())


@pytest.mark.parametrize("chat", [False, True], ids=["plain", "chat"])
@pytest.mark.parametrize("family", _slow_unless_default(sorted(FAMILIES)))
def test_first_step_loss_and_rows_equal_transformers(family, chat, demo_dir, tmp_path):
  hf_dir = _save_base(family, tmp_path / "hf", demo_dir)
  chat_family = FAMILIES[family][1] if chat else None
  base = base_checkpoint.open_base(str(hf_dir), chat_family=chat_family)
  xlt_dir = base_checkpoint.converted_directory(base, str(tmp_path / "base"))
  runs = mixtures.register_study(_design(), str(demo_dir), base.vocabulary,
                                 chat_family=chat_family)
  lengths = batches.FeatureLengths(inputs=160, targets=32)
  counts = batches.length_counts(runs[-1].plan.mixture, "train", lengths)
  assert not any(count["truncated"] or count["dropped"] for count in counts.values()), counts
  batch = next(batches.training_batches(runs[-1].plan.mixture, lengths, batch_size=8, seed=0))

  # Every row is an example exactly as transformers tokenizes it: BOS where the
  # tokenizer adds one, EOS after prompt and answer, or the official chat template.
  tokenizer = transformers.AutoTokenizer.from_pretrained(str(hf_dir))
  expected = {_expected_sequence(tokenizer, example, chat_family)
              for language in ("en", "es", "ja")
              for example in datasets.read_examples("demo_arith", str(demo_dir), language, "train")}
  for inputs, targets, segments in zip(batch["decoder_input_tokens"],
                                       batch["decoder_target_tokens"],
                                       batch["decoder_segment_ids"]):
    assert (int(inputs[0]), *targets[segments > 0].tolist()) in expected
  if not chat and base.vocabulary.prefix_ids:  # (Falcon names a BOS it never adds)
    assert set(batch["decoder_input_tokens"][:, 0]) == {base.vocabulary.bos_id}

  # The first training step's loss, from the converted parameters, equals transformers'.
  mesh = sharding.make_mesh(sharding.MeshConfig(data=-1, fsdp=1, tensor=1))
  functions = build(base.model_config, OptimizerConfig(), mesh)
  state = functions.init_from_params(step_functions.load_initial_params(xlt_dir, base.model_config, mesh))
  _, metrics = functions.train_step(state, global_batch(batch, functions.batch_sharding))
  ours = float(metrics["loss"])
  theirs = _torch_loss(transformers.AutoModelForCausalLM.from_pretrained(str(hf_dir)).eval(), batch)
  print(f"{family} {'chat' if chat else 'plain'}: loss {ours:.7f}, transformers {theirs:.7f},"
        f" difference {abs(ours - theirs):.2e}")
  assert abs(ours - theirs) <= 1e-5 * max(1.0, abs(theirs))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_evaluation_prompts_and_stops_are_those_of_training(family, demo_dir, tmp_path):
  hf_dir = _save_base(family, tmp_path / "hf", demo_dir)
  _, chat_family, eos_token, _ = FAMILIES[family]
  vocabulary = base_checkpoint.open_base(str(hf_dir)).vocabulary
  tokenizer = transformers.AutoTokenizer.from_pretrained(str(hf_dir))
  [[task]] = [tasks.values() for tasks in mixtures.register_evaluation_tasks(
      _design(seen_languages=(), unseen_languages=(), budgets=(0,)), str(demo_dir),
      vocabulary).values()]
  start = features.sequence_start_ids(vocabulary)
  assert start == tuple(tokenizer("x")["input_ids"][:len(start)])
  for example in batches.evaluation_examples(task):
    plain = evaluator.prompt_ids(example, vocabulary, None, start)
    assert plain == tokenizer(example["prompt"])["input_ids"] + [tokenizer.eos_token_id]
    chat = evaluator.prompt_ids(example, vocabulary, chat_family, start)
    assert chat == _official_ids(tokenizer, [{"role": "user", "content": example["prompt"]}],
                                 add_generation_prompt=True)
  end_of_turn = tokenizer.convert_tokens_to_ids(CHAT_FAMILIES[chat_family][2])
  assert set(evaluator.stop_ids(vocabulary, chat_family)) == {tokenizer.eos_token_id, end_of_turn}
  assert evaluator.stop_ids(vocabulary, None) == (tokenizer.convert_tokens_to_ids(eos_token),)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_checkpoints_own_chat_template_is_compared_with_ours(family, demo_dir, tmp_path):
  hf_dir = _save_base(family, tmp_path / "hf", demo_dir)
  chat_family = FAMILIES[family][1]
  assert base_checkpoint.chat_template_note(base_checkpoint.open_base(str(hf_dir)),
                                            chat_family) is None
  template = base_checkpoint.checkpoint_chat_template(str(hf_dir))
  changed = template.replace("assistant", "bot").replace("model", "bot").replace(
      "CHATBOT", "BOT")
  if family == "llama":  # its template lives in tokenizer_config.json
    config = json.loads((hf_dir / "tokenizer_config.json").read_text())
    (hf_dir / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": changed}))
  else:
    (hf_dir / "chat_template.jinja").write_text(changed)
  note = base_checkpoint.chat_template_note(base_checkpoint.open_base(str(hf_dir)), chat_family)
  assert f"TrainConfig.chat_template={chat_family!r} renders a conversation differently" in note


def _launch(*arguments, timeout=900):
  env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
             XLA_FLAGS="--xla_force_host_platform_device_count=1")
  return subprocess.run([sys.executable, *arguments], cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=timeout)


def _smoke_arguments(model_dir, hf_dir, chat_family):
  return ["-m", "xlt_jax.launch", "--gin_file=gin/smoke_cpu.gin", f"--gin.MODEL_DIR='{model_dir}'",
          f"--gin.Experiment.base_checkpoint='{hf_dir}'", "--gin.StudyDesign.budgets=(0, 16)",
          "--gin.TrainConfig.inputs_length=160", "--gin.TrainConfig.targets_length=32",
          "--gin.TrainConfig.log_every_steps=1",
          f"--gin.TrainConfig.chat_template={chat_family and repr(chat_family)}"]


# The default family trains on its chat template; of the others, Qwen (no BOS), Gemma 3
# and Falcon (no chat template of its own) train plain, Command and Gemma 1 on theirs.
CHAT_IN_STUDY = {"llama": True, "qwen3": False, "cohere": True, "gemma3_text": False,
                 "gemma": True, "falcon": False}


# A whole study (train, evaluate, report) per family: ~80 s each on 2 cores, so all slow;
# the default run keeps the first step's equality with transformers above.
@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_smoke_study_from_a_hugging_face_checkpoint(family, demo_dir, tmp_path):
  hf_dir = _save_base(family, tmp_path / "hf", demo_dir)
  chat_family = FAMILIES[family][1] if CHAT_IN_STUDY[family] else None
  model_dir = tmp_path / "study"
  result = _launch(*_smoke_arguments(model_dir, hf_dir, chat_family))
  assert result.returncode == 0, result.stderr[-3000:]
  assert "note:" not in result.stdout  # our chat template renders as the checkpoint's
  assert "converting the base checkpoint" in result.stdout
  assert (model_dir / "base" / "model.json").is_file()
  assert not (model_dir / "tokenizer").exists()  # no tokenizer was trained
  vocabulary = base_checkpoint.open_base(str(hf_dir)).vocabulary
  for budget in (0, 16):
    run_dir = model_dir / "runs" / f"budget{budget:05d}"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["vocabulary"]["kind"] == "huggingface"
    assert run["vocabulary"]["path"] == str(model_dir / "base" / "tokenizer.json")
    assert run["sequence_start_ids"] == list(vocabulary.prefix_ids)
    assert run["chat_template"] == chat_family
    assert run["base_checkpoint"] == {"source": str(hf_dir), "parameters": str(model_dir / "base")}
    assert run["model"]["vocab_size"] == MODEL_VOCAB
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert sorted(metrics["tasks"]["demo_arith"]["languages"]) == ["ar", "en", "es", "ja", "pt"]
  if family != DEFAULT_FAMILY:
    return
  # A re-launch reuses the conversion and the finished runs.
  again = _launch(*_smoke_arguments(model_dir, hf_dir, chat_family))
  assert again.returncode == 0, again.stderr[-3000:]
  assert "converting" not in again.stdout and again.stdout.count("already evaluated") == 2
  # The evaluation binary evaluates a run on its own, from run.json alone.
  run_dir = tmp_path / "copied_run"
  shutil.copytree(model_dir / "runs" / "budget00016", run_dir)
  launched = json.loads((run_dir / "eval" / "metrics.json").read_text())
  (run_dir / "eval" / "metrics.json").unlink()
  evaluated = _launch("-m", "xlt_jax.evaluate", f"--run_dir={run_dir}", "--batch_size=8",
                      "--max_new_tokens=8")
  assert evaluated.returncode == 0, evaluated.stderr[-3000:]
  assert json.loads((run_dir / "eval" / "metrics.json").read_text()) == launched
  # Every kept checkpoint, each into eval/checkpoints/<step>/.
  every = _launch("-m", "xlt_jax.evaluate", f"--run_dir={run_dir}", "--checkpoint=all",
                  "--batch_size=8", "--max_new_tokens=8")
  assert every.returncode == 0, every.stderr[-3000:]
  kept = sorted(int(path.name) for path in (run_dir / "checkpoints").iterdir()
                if path.name.isdigit())
  for step in kept:
    metrics = json.loads((run_dir / "eval" / "checkpoints" / str(step) / "metrics.json")
                         .read_text())
    assert metrics["checkpoint_step"] == step and metrics["checkpoint"] == "all"
  # The un-fine-tuned base model decodes what transformers' greedy generate decodes.
  base = _launch("-m", "xlt_jax.evaluate", f"--run_dir={run_dir}", "--checkpoint=base",
                 "--batch_size=8", "--max_new_tokens=8")
  assert base.returncode == 0, base.stderr[-3000:]
  rows = [json.loads(line) for line in (run_dir / "eval" / "base" / "predictions.jsonl").open()]
  run = json.loads((run_dir / "run.json").read_text())
  stops = evaluator.stop_ids(vocabulary, chat_family)
  hf_model = transformers.AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
  for row in rows[:3]:
    prompt = evaluator.prompt_ids({"prompt": row["prompt"],
                                   "prompt_tokens": vocabulary.encode(row["prompt"])
                                   + [vocabulary.eos_id]},
                                  vocabulary, chat_family, tuple(run["sequence_start_ids"]))
    # An explicit mask: generate() would otherwise mask every prompt token equal to pad_token_id.
    generated = hf_model.generate(
        torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
        max_new_tokens=8, do_sample=False, eos_token_id=list(stops),
        pad_token_id=0)[0, len(prompt):]
    tokens = []
    for token in generated.tolist():
      if token in stops:
        break
      tokens.append(token)
    expected = vocabulary.decode(tokens).split("\n\n")[0]  # the task's stop sequence
    assert row["prediction"] == expected


def _break_family(directory: pathlib.Path) -> None:
  config = json.loads((directory / "config.json").read_text())
  (directory / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))


def _shrink_embedding(directory: pathlib.Path) -> None:
  config = json.loads((directory / "config.json").read_text())
  (directory / "config.json").write_text(json.dumps({**config, "vocab_size": 300}))


@pytest.mark.parametrize("damage, bindings, fragments", [
    (lambda d: shutil.rmtree(d), [], ["does not exist"]),
    (lambda d: (d / "config.json").unlink(), [], ["has neither config.json", "model.json"]),
    (lambda d: (d / "model.safetensors").unlink(), [], ["has no model.safetensors"]),
    (_break_family, [], ["model_type 'gpt2' is not supported"]),
    (lambda d: (d / "tokenizer.json").unlink(), [], ["has no tokenizer.json"]),
    (_shrink_embedding, [], ["tokens but the model's embedding has 300 rows"]),
    (None, ["Experiment.tokenizer = '/some/spm.model'"], ["uses its own tokenizer.json"]),
    (None, ["TrainConfig.initial_checkpoint = '/x'"], ["initial_checkpoint='/x'", "unset"]),
    (None, ["TrainConfig.chat_template = 'qwen'"], ["ends turns with <|im_end|>"]),
], ids=["missing", "no_config", "no_weights", "family", "no_tokenizer", "vocab", "tokenizer",
        "initial_checkpoint", "chat_family"])
def test_bad_base_checkpoints_are_refused_before_anything_is_written(
    damage, bindings, fragments, demo_dir, tmp_path):
  from xlt_jax.runner import gin_setup, study_runner

  hf_dir = _save_base("llama", tmp_path / "hf", demo_dir)
  if damage is not None:
    damage(hf_dir)
  model_dir = tmp_path / "study"
  experiment, config = gin_setup.build_experiment(
      ["gin/smoke_cpu.gin"],
      [f"MODEL_DIR = '{model_dir}'", f"Experiment.base_checkpoint = '{hf_dir}'", *bindings])
  with pytest.raises(UserInputError) as error:
    study_runner.run_experiment(experiment, config)
  for fragment in fragments:
    assert fragment in str(error.value)
  assert not model_dir.exists()


def test_a_bad_base_checkpoint_is_one_error_line_and_exit_2(tmp_path):
  (tmp_path / "hf").mkdir()
  (tmp_path / "hf" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
  result = _launch("-m", "xlt_jax.launch", "--gin_file=gin/smoke_cpu.gin",
                   f"--gin.MODEL_DIR='{tmp_path / 'study'}'",
                   f"--gin.Experiment.base_checkpoint='{tmp_path / 'hf'}'", timeout=300)
  assert result.returncode == 2, result.stderr[-2000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
  assert errors == [result.stderr.strip().splitlines()[-1]] and "gpt2" in errors[0]
  assert not (tmp_path / "study").exists()


def test_a_conversion_is_made_once_and_checked_against_its_source(demo_dir, tmp_path):
  hf_dir = _save_base("qwen3", tmp_path / "hf", demo_dir)
  base = base_checkpoint.open_base(str(hf_dir))
  cache = str(tmp_path / "base")
  assert base_checkpoint.converted_directory(base, cache) == cache
  marker = os.path.getmtime(os.path.join(cache, conversion.MODEL_FILE))
  assert base_checkpoint.converted_directory(base, cache) == cache  # reused, not redone
  assert os.path.getmtime(os.path.join(cache, conversion.MODEL_FILE)) == marker
  converted = base_checkpoint.open_base(cache)  # an xlt directory is a base as it is
  assert converted.converted and converted.model_config == base.model_config
  assert base_checkpoint.converted_directory(converted, str(tmp_path / "unused")) == cache
  other = _save_base("qwen3", tmp_path / "other", demo_dir)
  with pytest.raises(UserInputError, match="holds a conversion of"):
    base_checkpoint.converted_directory(base_checkpoint.open_base(str(other)), cache)
  with pytest.raises(UserInputError, match="needs a single process"):
    base_checkpoint.converted_directory(base_checkpoint.open_base(str(other)),
                                        str(tmp_path / "fresh"), process_count=2)
