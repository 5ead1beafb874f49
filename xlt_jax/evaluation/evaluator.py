"""The inference and evaluation binary: decode every eval prompt of a run, score per language.

    python -m xlt_jax.evaluate --run_dir=MODEL_DIR/runs/budget00050 [--checkpoint=best]

Reads `run.json` (written by the launcher) for the model, vocabulary, chat template,
data and evaluation languages, restores the chosen checkpoint, decodes greedily with a
KV cache in batches, extracts the numeric answer and writes
`eval/predictions.jsonl` (one line per item) and `eval/metrics.json` (per language).
Prompts are rendered as training rendered them (`prompt_ids`): with the chat template
and its generation prompt when the run trained on one, else plain after the
sequence start (a pretrained tokenizer's BOS); decoding stops at EOS and at the chat
family's end-of-turn token.
"""

import dataclasses
import json
import sys
import time

import jax
import numpy as np
from jax.experimental import multihost_utils

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import answers
from xlt_jax.evaluation.decoding import greedy_generate, left_pad
from xlt_jax.models import chat_templates, lora, vocabularies
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary
from xlt_jax.studies.designs import StudyDesign
from xlt_jax.training import batches, checkpointing, distributed, features, lora_export, sharding
from xlt_jax.training.train_step import abstract_params

RUN_FILE = "run.json"
# The `Dataset.metric` values this module scores (numeric-answer accuracy, MGSM style).
SUPPORTED_METRICS = ("accuracy",)


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
  batch_size: int = 32  # prompts decoded together
  max_new_tokens: int = 32
  checkpoint: str = "best"  # "best", "latest" or a step number


def read_run(run_dir: str) -> dict:
  path = paths.join(run_dir, RUN_FILE)
  if not paths.isfile(path):
    raise UserInputError(f"{path} does not exist: is {run_dir} a run directory?")
  with paths.open(path, encoding="utf-8") as file:
    return json.load(file)


def run_vocabulary(run: dict):
  """The vocabulary a run trained with (run.json's record; runs written before the
  record existed name a SentencePiece model as "tokenizer")."""
  return vocabularies.load(run.get("vocabulary")
                           or {"kind": vocabularies.SENTENCEPIECE, "path": run["tokenizer"]})


def stop_ids(vocabulary, chat_family: str | None) -> tuple[int, ...]:
  """The ids that end a completion: EOS, and the chat family's end-of-turn token where
  the vocabulary has it as one token."""
  ids = [vocabulary.eos_id]
  if chat_family is not None and isinstance(vocabulary, HuggingFaceVocabulary):
    end_of_turn = vocabulary.tokenizer.token_to_id(chat_templates.END_OF_TURN[chat_family])
    if end_of_turn is not None and end_of_turn not in ids:
      ids.append(end_of_turn)
  return tuple(ids)


def prompt_ids(example: dict, vocabulary, chat_family: str | None,
               start_ids: tuple[int, ...]) -> list[int]:
  """An evaluation prompt as training rendered its examples.

  Args:
    example: from `batches.evaluation_examples` ("prompt" text, "prompt_tokens" with EOS).
    vocabulary: the run's vocabulary.
    chat_family: the run's TrainConfig.chat_template; None for plain prompts.
    start_ids: what plain sequences begin with (`features.sequence_start_ids`).

  Returns:
    With a chat family, the user turn and the assistant header
    (`apply_chat_template(..., add_generation_prompt=True)`); else start_ids, the
    prompt and its EOS, as in the first tokens of a training row.
  """
  if chat_family is None:
    return list(start_ids) + list(example["prompt_tokens"])
  return chat_templates.prompt_ids(
      chat_family, [{"role": "user", "content": example["prompt"]}], vocabulary.encode)


def _round_up(value: int, multiple: int) -> int:
  return -(-value // multiple) * multiple


def decode_prompts(model, params, prompts: list[list[int]], config: EvaluationConfig,
                   eos_id: int | tuple[int, ...]):
  """Greedy completions (token lists, cut before the first EOS) of prompts, in order.

  `eos_id` is an id or a tuple of ids that end a completion.

  Batches have a fixed size and prompt length (one compilation per language). In a
  multi-host run every process passes the same prompts and gets every completion.
  """
  length = _round_up(max(len(prompt) for prompt in prompts), 16)
  completions = []
  for start in range(0, len(prompts), config.batch_size):
    chunk = prompts[start:start + config.batch_size]
    padded = chunk + [[0]] * (config.batch_size - len(chunk))
    tokens, mask = left_pad(padded, length)
    generated = greedy_generate(model, params, tokens, mask,
                                max_new_tokens=config.max_new_tokens, eos_id=eos_id)
    if not generated.is_fully_addressable:  # rows live on other hosts' devices too
      generated = multihost_utils.process_allgather(generated, tiled=True)
    generated = np.asarray(generated)
    ends = set(eos_id) if isinstance(eos_id, tuple) else {eos_id}
    for row in generated[:len(chunk)].tolist():
      end = next((index for index, token in enumerate(row) if token in ends), len(row))
      completions.append(row[:end])
  return completions


def restore_run_params(run: dict, run_dir: str, which: str, model_config: ModelConfig,
                       mesh) -> tuple[int, dict]:
  """(step, params of the plain Decoder) of checkpoint `which` of a run; a LoRA run's
  adapters (run.json "lora" with rank > 0) are merged into its base checkpoint."""
  checkpoints = paths.join(run_dir, "checkpoints")
  lora_config = lora.from_record(run.get("lora"))
  if not lora_config.enabled:
    return checkpointing.restore_params(checkpoints, which,
                                        abstract_params(Decoder(model_config), mesh))
  if not run.get("initial_checkpoint"):
    raise UserInputError(f"{run_dir}/{RUN_FILE} names LoRA adapters but no initial_checkpoint"
                         " (their base)")
  return lora_export.restore_adapted_params(checkpoints, which, model_config, lora_config,
                                            run["initial_checkpoint"], mesh)


def evaluate_run(run_dir: str, config: EvaluationConfig, stream=sys.stdout) -> dict:
  """Evaluates one run in every language of its study; returns (and writes) the metrics."""
  from tasks import mixtures  # the binary registers tasks; the library never does at import

  run = read_run(run_dir)
  vocabulary = run_vocabulary(run)
  chat_family = run.get("chat_template")
  start_ids = tuple(run.get("sequence_start_ids", features.sequence_start_ids(vocabulary)))
  ends = stop_ids(vocabulary, chat_family)
  design = StudyDesign(**{key: tuple(v) if isinstance(v, list) else v
                          for key, v in run["study"].items()})
  tasks = mixtures.register_evaluation_tasks(design, run["data_dir"], vocabulary)
  model_config = ModelConfig(**run["model"])
  model = Decoder(model_config)
  mesh = sharding.make_mesh(sharding.MeshConfig(**run["mesh"]))
  step, params = restore_run_params(run, run_dir, config.checkpoint, model_config, mesh)
  predictions, per_language = [], {}
  with jax.sharding.set_mesh(mesh), sharding.axis_rules():
    for language, task in tasks.items():
      start = time.perf_counter()
      examples = batches.evaluation_examples(task)
      prompts = [prompt_ids(example, vocabulary, chat_family, start_ids) for example in examples]
      completions = decode_prompts(model, params, prompts, config, ends)
      correct = 0
      for example, completion in zip(examples, completions):
        text = vocabulary.decode(completion)
        extracted = answers.extract_number(text)
        is_correct = answers.answers_match(extracted, example["answer"])
        correct += is_correct
        predictions.append({
            "id": example["id"], "language": language, "prompt": example["prompt"],
            "prediction": text, "extracted": extracted, "answer": example["answer"],
            "correct": is_correct,
        })
      per_language[language] = {
          "accuracy": correct / len(examples), "count": len(examples), "correct": correct
      }
      print(f"[eval {run['run']}] {language}: accuracy {correct / len(examples):.3f}"
            f" ({correct}/{len(examples)}, {time.perf_counter() - start:.1f}s)",
            file=stream, flush=True)
  metrics = {
      "run": run["run"], "budget": run["budget"], "checkpoint_step": step,
      "metric": SUPPORTED_METRICS[0], "languages": per_language,
  }
  eval_dir = paths.join(run_dir, "eval")
  if distributed.is_primary_process():  # every process decoded the same items; one writes
    atomic_io.write_jsonl(paths.join(eval_dir, "predictions.jsonl"), predictions)
    atomic_io.write_json(paths.join(eval_dir, "metrics.json"), metrics)  # last: marks completion
  distributed.wait_for_all_processes(f"{run['run']} evaluated")
  return metrics
