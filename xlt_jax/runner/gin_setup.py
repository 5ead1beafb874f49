"""Gin for the binaries: which classes gin may build, and errors that name the bad
binding. Library modules never import gin. The `--gin_file` / `--gin.NAME=VALUE` flags
are split in `xlt_jax.runner.flags`."""

import os
import pathlib

import gin
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import evaluator
from xlt_jax.models.config import ModelConfig
from xlt_jax.runner import study_runner
from xlt_jax.studies import designs
from xlt_jax.training import distributed, sharding, trainer
from xlt_jax.training.train_step import OptimizerConfig

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

CONFIGURABLES = {
    "Experiment": study_runner.Experiment,
    "DemoDataConfig": study_runner.DemoDataConfig,
    "DistributedConfig": distributed.DistributedConfig,
    "StudyDesign": designs.StudyDesign,
    "MultiTaskDesign": designs.MultiTaskDesign,
    "ModelConfig": ModelConfig,
    "MeshConfig": sharding.MeshConfig,
    "OptimizerConfig": OptimizerConfig,
    "TrainConfig": trainer.TrainConfig,
    "EvaluationConfig": evaluator.EvaluationConfig,
}
_registered: dict[str, object] = {}


def _register() -> None:
  for name, cls in CONFIGURABLES.items():
    if name not in _registered:
      _registered[name] = gin.external_configurable(cls, name)


def build_experiment(files: list[str], bindings: list[str]) -> tuple[study_runner.Experiment, str]:
  """Parses gin files and bindings and builds the Experiment.

  Returns:
    (experiment, the operative config text to save with every run).

  Raises:
    UserInputError: a missing gin file, an unknown configurable or parameter, a
      missing required value; the message names it.
  """
  _register()
  gin.clear_config()
  for directory in (os.getcwd(), str(REPO_ROOT)):
    if directory not in gin.config._LOCATION_PREFIXES:  # gin has no public "has path"
      gin.add_config_file_search_path(directory)
  if not files:
    raise UserInputError("no --gin_file given (e.g. --gin_file=gin/demo_cpu.gin)")
  for path in files:
    if not (os.path.isfile(path) or os.path.isfile(REPO_ROOT / path)):
      raise UserInputError(f"gin file {path} does not exist")
  try:
    gin.parse_config_files_and_bindings(files, bindings, finalize_config=True)
    experiment = _registered["Experiment"]()
  except UserInputError:
    raise
  except (ValueError, KeyError, TypeError, IOError, SyntaxError) as error:
    message = " ".join(str(error).split())
    raise UserInputError(f"gin configuration: {message}") from None
  return experiment, gin.operative_config_str()
