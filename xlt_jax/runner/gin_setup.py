"""Gin for the binaries: which classes gin may build, where gin files are found, and
errors that name the bad file or `--gin.NAME=VALUE` flag. Library modules never import gin.
The flags themselves are split in `xlt_jax.runner.flags`."""

import contextlib
import logging
import os
import pathlib
import tokenize
from collections.abc import Iterator

import gin
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import evaluator
from xlt_jax.evaluation.judges.protocols import JudgeConfig
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.lora import LoraConfig
from xlt_jax.runner import study_runner
from xlt_jax.runner.flags import binding_flag
from xlt_jax.services.config import ChatServiceConfig
from xlt_jax.studies import designs, paper_designs
from xlt_jax.training import distributed, sharding, trainer
from xlt_jax.training.train_step import OptimizerConfig

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

CONFIGURABLES = {
    "Experiment": study_runner.Experiment,
    "DemoDataConfig": study_runner.DemoDataConfig,
    "DemoBaseConfig": study_runner.DemoBaseConfig,
    "DistributedConfig": distributed.DistributedConfig,
    "StudyDesign": designs.StudyDesign,
    "MultiTaskDesign": designs.MultiTaskDesign,
    "PinchDesign": paper_designs.PinchDesign,
    "ConditionDesign": paper_designs.ConditionDesign,
    "PolyglotDesign": paper_designs.PolyglotDesign,
    "ParallelDesign": paper_designs.ParallelDesign,
    "ModelConfig": ModelConfig,
    "MeshConfig": sharding.MeshConfig,
    "OptimizerConfig": OptimizerConfig,
    "TrainConfig": trainer.TrainConfig,
    "LoraConfig": LoraConfig,
    "EvaluationConfig": evaluator.EvaluationConfig,
    "JudgeConfig": JudgeConfig,
    "ChatServiceConfig": ChatServiceConfig,
}
_registered: dict[str, object] = {}


def _register() -> None:
  for name, cls in CONFIGURABLES.items():
    if name not in _registered:
      _registered[name] = gin.external_configurable(cls, name)


class _MissingPathFilter(logging.Filter):
  """Drops gin's "Path not found" records: gin tries a relative path against each search
  path in turn and logs every miss as an error, though a later one has the file. A file
  found nowhere is still an error (IOError naming the paths searched)."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.msg != "Path not found: %s"


@contextlib.contextmanager
def _quiet_path_search() -> Iterator[None]:
  # gin logs with the root logger (logging.error), whose own filters see the record.
  root, quiet = logging.getLogger(), _MissingPathFilter()
  root.addFilter(quiet)
  try:
    yield
  finally:
    root.removeFilter(quiet)


def resolve_gin_file(path: str) -> str:
  """The absolute path of a gin file: as given, else relative to the repository root.

  Raises:
    UserInputError: found in neither place.
  """
  for candidate in (path, REPO_ROOT / path):
    if os.path.isfile(candidate):
      return os.path.abspath(candidate)
  raise UserInputError(f"gin file {path} does not exist")


def _first_line(error: Exception) -> str:
  """An error's message without the lines gin appends ("In bindings string line 1", ...)."""
  if isinstance(error, tokenize.TokenError):
    return str(error.args[0])  # args are (message, (line, column))
  lines = str(error).strip().splitlines()
  return lines[0] if lines else type(error).__name__


def _parse_binding(binding: str) -> None:
  """Parses one `NAME = VALUE` binding; a mistake names its `--gin.NAME=VALUE` flag."""
  flag = binding_flag(binding)
  try:
    gin.parse_config(binding)
  except (SyntaxError, tokenize.TokenError) as error:
    name, _, value = binding.partition(" = ")
    if value.startswith(("'", '"', "(", "[", "{")):  # meant as a literal, but malformed
      raise UserInputError(f"{flag}: not a Python literal ({_first_line(error)})") from None
    raise UserInputError(f"{flag}: gin values are Python literals; quote strings:"
                         f" --gin.{name}=\"'{value}'\"") from None
  except (ValueError, KeyError, TypeError) as error:
    raise UserInputError(f"{flag}: {_first_line(error)}") from None


def build_experiment(files: list[str], bindings: list[str]) -> tuple[study_runner.Experiment, str]:
  """Parses gin files, then bindings (`NAME = VALUE`), and builds the Experiment.

  A relative file name, in the files or in their `include` lines, is looked up in the
  current directory, then in the repository root.

  Returns:
    (experiment, the operative config text to save with every run).

  Raises:
    UserInputError: a missing gin file, an unknown configurable or parameter, a
      value that is not a Python literal, a missing required value; the message
      names it.
  """
  _register()
  gin.clear_config()
  if str(REPO_ROOT) not in gin.config._LOCATION_PREFIXES:  # gin has no public "has path"
    gin.add_config_file_search_path(str(REPO_ROOT))
  if not files:
    raise UserInputError("no --gin_file given (e.g. --gin_file=gin/demo_cpu.gin)")
  paths = [resolve_gin_file(path) for path in files]
  try:
    with _quiet_path_search():
      for path in paths:
        gin.parse_config_file(path)
    for binding in bindings:
      _parse_binding(binding)
    gin.finalize()
    experiment = _registered["Experiment"]()
  except UserInputError as error:
    # One line: without the "In call to configurable ..." gin appends to what it passes on.
    raise UserInputError(_first_line(error)) from None
  except (OSError, ValueError, KeyError, TypeError, SyntaxError, tokenize.TokenError) as error:
    message = " ".join(str(error).split())
    raise UserInputError(f"gin configuration: {message}") from None
  return experiment, gin.operative_config_str()
