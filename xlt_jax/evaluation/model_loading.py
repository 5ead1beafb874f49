"""A model ready for inference, from any of the three places one lives.

  - a run directory written by the launcher (`run.json` + `checkpoints/`): the
    checkpoint "best" (the run's selection rule), "latest" or a step number, restored
    onto the run's mesh with the vocabulary, chat template and sequence start the run
    trained with;
  - an xlt checkpoint directory (`model.json` + `params/`, written by
    `python -m xlt_jax.convert hf-to-xlt`): its parameters on the first device;
  - a Hugging Face checkpoint directory (`config.json`, safetensors, `tokenizer.json`):
    converted in memory (`conversion.from_hf`), nothing written.

The last two read their tokenizer and special tokens through `base_checkpoint.open_base`
(the same checks a study from a base checkpoint gets). Their chat family is the one
given, else the one their `config.json` `model_type` implies when the tokenizer has
that family's end-of-turn token, else none (plain prompts only).
"""

import dataclasses
import json
from typing import Any

import seqio

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.models import base_checkpoint, chat_templates, conversion, vocabularies
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary

RUN_FILE = "run.json"
# config.json's model_type -> the chat family whose official template that model ships.
FAMILY_OF_MODEL_TYPE = {"llama": "llama3", "qwen2": "qwen", "qwen3": "qwen", "cohere": "cohere",
                        "gemma3": "gemma", "gemma3_text": "gemma"}


@dataclasses.dataclass(frozen=True)
class LoadedModel:
  """What inference needs, from one checkpoint.

  Attributes:
    name: what the checkpoint is called ("<run>@<step>" for a run, else the directory's
      base name); the model id a server lists.
    model: the Decoder.
    params: its parameters (sharded over `mesh` for a run).
    vocabulary: the tokenizer training used.
    chat_family: one of chat_templates.FAMILIES, or None (no chat template).
    stop_ids: the ids that end a completion (EOS, the family's end-of-turn token).
    start_ids: what a plain prompt begins with (BOS where the tokenizer adds one).
    mesh: the run's device mesh, or None (parameters on one device).
    step: the restored training step (None for a base checkpoint).
    template_note: for a checkpoint whose own chat template renders a conversation
      differently from `chat_family`'s renderer, a line saying where (None otherwise).
  """

  name: str
  model: Decoder
  params: Any
  vocabulary: seqio.Vocabulary
  chat_family: str | None
  stop_ids: tuple[int, ...]
  start_ids: tuple[int, ...]
  mesh: Any = None
  step: int | None = None
  template_note: str | None = None


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
  end_of_turn_text = chat_templates.END_OF_TURN.get(chat_family) if chat_family else None
  if end_of_turn_text is not None and isinstance(vocabulary, HuggingFaceVocabulary):
    end_of_turn = vocabulary.tokenizer.token_to_id(end_of_turn_text)
    if end_of_turn is not None and end_of_turn not in ids:
      ids.append(end_of_turn)
  return tuple(ids)


def restore_run_params(run_dir: str, run: dict, checkpoint: str):
  """(model, mesh, step, params) of a run's checkpoint ("best", "latest" or a step).

  Raises:
    UserInputError: no such checkpoint (naming the steps there are), or one of
      another model shape.
  """
  from xlt_jax.training import sharding

  model = Decoder(ModelConfig(**run["model"]))
  mesh = sharding.make_mesh(sharding.MeshConfig(**run["mesh"]))
  step, params = restore_checkpoint_params(run_dir, run, str(checkpoint), model, mesh)
  return model, mesh, step, params


def restore_checkpoint_params(run_dir: str, run: dict, which: str, model: Decoder,
                              mesh) -> tuple[int, Any]:
  """(step, params of the plain `model`) of checkpoint `which` of a run; a LoRA run's
  checkpoints hold adapters only (run.json "lora", rank > 0), merged here into the base
  they were trained on (run.json "initial_checkpoint").

  Raises:
    UserInputError: no such checkpoint, one of another model shape, or a LoRA run
      without its base.
  """
  from xlt_jax.models import lora
  from xlt_jax.training import checkpointing, lora_export
  from xlt_jax.training.train_step import abstract_params

  checkpoints = paths.join(run_dir, "checkpoints")
  lora_config = lora.from_record(run.get("lora"))
  if not lora_config.enabled:
    return checkpointing.restore_params(checkpoints, which, abstract_params(model, mesh))
  if not run.get("initial_checkpoint"):
    raise UserInputError(f"{run_dir}/{RUN_FILE} names LoRA adapters but no initial_checkpoint"
                         " (their base)")
  return lora_export.restore_adapted_params(checkpoints, which, model.config, lora_config,
                                            run["initial_checkpoint"], mesh)


def load_run(run_dir: str, checkpoint: str = "best") -> LoadedModel:
  """A run's checkpoint with the vocabulary, chat family and sequence start it trained with."""
  from xlt_jax.training import features

  run = read_run(run_dir)
  vocabulary = run_vocabulary(run)
  chat_family = run.get("chat_template")
  start_ids = tuple(run.get("sequence_start_ids", features.sequence_start_ids(vocabulary)))
  model, mesh, step, params = restore_run_params(run_dir, run, checkpoint)
  return LoadedModel(name=f"{run['run']}@{step}", model=model, params=params,
                     vocabulary=vocabulary, chat_family=chat_family,
                     stop_ids=stop_ids(vocabulary, chat_family), start_ids=start_ids,
                     mesh=mesh, step=step)


def _chat_family(base: base_checkpoint.BaseCheckpoint, chat_family: str | None) -> str | None:
  if chat_family is not None:
    return chat_family  # open_base checked that the tokenizer has its end-of-turn token
  family = FAMILY_OF_MODEL_TYPE.get(base.hf_config.get("model_type"))
  if family is None or base.vocabulary.tokenizer.token_to_id(
      chat_templates.END_OF_TURN[family]) is None:
    return None  # e.g. Llama 2, or a base model without chat tokens
  return family


def load_checkpoint(directory: str, chat_family: str | None = None,
                    dtype: str = "float32") -> LoadedModel:
  """An xlt or Hugging Face checkpoint directory, un-fine-tuned, on the first device.

  Args:
    directory: holds model.json (xlt) or config.json (Hugging Face).
    chat_family: one of chat_templates.FAMILIES; None: the one its model_type implies.
    dtype: parameter dtype for a Hugging Face directory (an xlt one keeps its own).

  Raises:
    UserInputError: see `base_checkpoint.open_base`; an unknown chat family.
  """
  if chat_family is not None and chat_family not in chat_templates.FAMILIES:
    raise UserInputError(f"unknown chat template {chat_family!r}; choose one of"
                         f" {', '.join(chat_templates.FAMILIES)}")
  base = base_checkpoint.open_base(directory, chat_family=chat_family)
  if base.converted:
    config, params, _ = conversion.load_xlt(base.directory)
    model = Decoder(config)
  else:
    model, params = conversion.from_hf(base.directory, dtype)
  family = _chat_family(base, chat_family)
  return LoadedModel(name=paths.basename(base.directory.rstrip("/")), model=model, params=params,
                     vocabulary=base.vocabulary, chat_family=family,
                     stop_ids=stop_ids(base.vocabulary, family),
                     start_ids=tuple(base.vocabulary.prefix_ids),
                     template_note=family and base_checkpoint.chat_template_note(base, family))


def load(directory: str, checkpoint: str = "best", chat_family: str | None = None,
         dtype: str = "float32") -> LoadedModel:
  """A run directory's checkpoint, or an xlt or Hugging Face checkpoint directory.

  Raises:
    UserInputError: the directory is none of the three, or (for a run) `checkpoint`
      does not exist (the error names the steps there are).
  """
  if paths.isfile(paths.join(directory, RUN_FILE)):
    if chat_family is not None:
      raise UserInputError(f"{directory} is a run directory: it is served with the chat"
                           " template it trained with, not a --chat_template")
    return load_run(directory, checkpoint)
  if checkpoint not in ("best", "latest"):
    raise UserInputError(f"{directory} is not a run directory (no {RUN_FILE}): a checkpoint"
                         f" step ({checkpoint}) applies only to a run")
  return load_checkpoint(directory, chat_family, dtype)
