"""Where a study's model starts: from scratch, from a pretrained base checkpoint (a Hugging
Face directory converted once into MODEL_DIR/base/, or an xlt directory), or from the demo's
own pretrained base, built into MODEL_DIR/pretrained_base/ and then fine-tuned exactly as
any Hugging Face checkpoint. `xlt_jax.runner.study_runner` calls these before training.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import jax
import seqio

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.models import base_checkpoint
from xlt_jax.models.config import RUNTIME_FIELDS, ModelConfig
from xlt_jax.runner.demo_base import build_demo_base
from xlt_jax.training import sharding

if TYPE_CHECKING:
  from xlt_jax.runner.study_runner import Experiment

BASE_DIR = "base"  # MODEL_DIR/base/: the base checkpoint converted to xlt-jax
DEMO_BASE_DIR = "pretrained_base"  # MODEL_DIR/pretrained_base/: the demo's own base (HF)


def check_starting_point(experiment: Experiment) -> None:
  """A pretrained model keeps its own tokenizer: a trained or other one is refused; LoRA
  needs a pretrained model to adapt."""
  base, train = experiment.base_checkpoint, experiment.train
  if experiment.demo_base is not None and base is not None:
    raise UserInputError(
        f"Experiment.demo_base and Experiment.base_checkpoint={base!r} are both set: the"
        " demo builds its own base; unset one of them")
  if experiment.demo_base is not None:
    base = paths.join(experiment.model_dir, DEMO_BASE_DIR)
  if train.lora.enabled and base is None and train.initial_checkpoint is None:
    raise UserInputError(
        f"TrainConfig.lora.rank={train.lora.rank} adapts a pretrained model, but none is given:"
        " set Experiment.base_checkpoint, or LoraConfig.rank=0 to train the whole model")
  if experiment.evaluate_base and base is None:
    raise UserInputError("Experiment.evaluate_base=True evaluates the base model a study"
                         " fine-tunes, but none is given: set Experiment.base_checkpoint (or"
                         " Experiment.demo_base), or Experiment.evaluate_base=False")
  if base is None:
    if train.initial_checkpoint and experiment.tokenizer is None:
      # A trained tokenizer's ids would index the pretrained embedding at random.
      raise UserInputError(
          f"TrainConfig.initial_checkpoint={train.initial_checkpoint!r} with"
          " Experiment.tokenizer=None would train a new tokenizer for a pretrained model: set"
          " Experiment.base_checkpoint to the checkpoint to use its own tokenizer.json, or"
          " Experiment.tokenizer to the SentencePiece .model it was trained with")
    return
  if experiment.tokenizer is not None:
    raise UserInputError(
        f"Experiment.tokenizer={experiment.tokenizer!r} with Experiment.base_checkpoint="
        f"{base!r}: a pretrained model uses its own tokenizer.json; unset Experiment.tokenizer")
  if train.initial_checkpoint is not None:
    raise UserInputError(
        f"TrainConfig.initial_checkpoint={train.initial_checkpoint!r} with"
        f" Experiment.base_checkpoint={base!r}: the base checkpoint's parameters are the initial"
        " ones; unset TrainConfig.initial_checkpoint")


def start_from_base(experiment: Experiment, base: base_checkpoint.BaseCheckpoint,
                     stream) -> tuple[Experiment, seqio.Vocabulary]:
  """The experiment with the base's architecture and parameters, and its vocabulary.

  A Hugging Face base is converted into MODEL_DIR/base/ on the first launch and read
  from there afterwards (the vocabulary too, so the study's files stay together).
  """
  xlt_dir = base_checkpoint.converted_directory(
      base, paths.join(experiment.model_dir, BASE_DIR), jax.process_count(), stream)
  source = base.directory
  base = base_checkpoint.open_base(xlt_dir, experiment.model, experiment.train.chat_template)
  differing = [field.name for field in dataclasses.fields(ModelConfig)
               if field.name not in RUNTIME_FIELDS
               and getattr(experiment.model, field.name) != getattr(base.model_config, field.name)]
  if differing:
    print(f"the model's architecture is {source}'s; gin's ModelConfig differs in"
          f" {', '.join(differing)} and gives only {', '.join(RUNTIME_FIELDS)}", file=stream,
          flush=True)
  if experiment.train.chat_template is not None:
    note = base_checkpoint.chat_template_note(base, experiment.train.chat_template)
    if note:
      print(f"note: {note}", file=stream, flush=True)
  train = dataclasses.replace(experiment.train, initial_checkpoint=xlt_dir)
  return dataclasses.replace(experiment, model=base.model_config, train=train), base.vocabulary


def build_demo_base_for(experiment: Experiment, data_dir: str,
                     stream) -> tuple[Experiment, base_checkpoint.BaseCheckpoint]:
  """Builds (or finds) the demo's pretrained base; the experiment then fine-tunes it as
  its base_checkpoint, exactly as any Hugging Face checkpoint."""
  if experiment.study.dataset != "demo_arith" or experiment.data_dir is not None:
    raise UserInputError("Experiment.demo_base pretrains on the generated demo dataset:"
                         " it needs StudyDesign.dataset = 'demo_arith' and DATA_DIR = None")
  if jax.process_count() > 1:
    raise UserInputError("Experiment.demo_base is built in a single process (the CPU demo)")
  out_dir = paths.join(experiment.model_dir, DEMO_BASE_DIR)
  if not paths.isdir(out_dir) and paths.exists(paths.join(experiment.model_dir, BASE_DIR)):
    # MODEL_DIR/base/ would be a conversion of an earlier, removed base
    raise UserInputError(f"{paths.join(experiment.model_dir, BASE_DIR)} holds the conversion of"
                         " an earlier demo base: remove it (and the runs) to build a new one")
  built = build_demo_base(experiment.demo_base, experiment.model,
                          sharding.make_mesh(experiment.mesh), data_dir, out_dir, stream)
  experiment = dataclasses.replace(experiment, base_checkpoint=built)
  return experiment, base_checkpoint.open_base(built, experiment.model,
                                               experiment.train.chat_template)
