"""Datasets the tasks read: where each file lives under DATA_DIR and how rows become examples.

An example is a dict of strings: id (stable across runs: "<task>:<line>"),
language, inputs (the prompt text), targets (the reference completion) and
answer (the normalised reference answer the metric compares against).
"""

import dataclasses
import functools
import os
from typing import Callable

from tasks.naming import task_name
from xlt_jax import answers, mgsm_format
from xlt_jax.errors import UserInputError

MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")
DEMO_LANGUAGES = ("en", "es", "fr", "ja", "zh", "ar", "ko", "pt")


@dataclasses.dataclass(frozen=True)
class Dataset:
  name: str
  languages: tuple[str, ...]
  splits: tuple[str, ...]
  metric: str
  path: Callable[[str, str, str], str]  # (data_dir, language, split) -> file
  read: Callable[[str, str, str], list[dict[str, str]]]  # (data_dir, language, split) -> examples


def _check_data_dir(data_dir: str) -> None:
  if not os.path.isdir(data_dir):
    raise UserInputError(f"data directory {data_dir} does not exist")


def _demo_path(data_dir: str, language: str, split: str) -> str:
  return os.path.join(data_dir, "demo_arith", split, f"{language}.tsv")


def _read_demo(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
  """Zero-shot word problems; the target is the localised answer sentence."""
  _check_data_dir(data_dir)
  name = task_name("demo_arith", language, split)
  return [
      {
          "id": f"{name}:{row.line_number}",
          "language": language,
          "inputs": row.question,
          "targets": answers.answer_sentence(language, row.answer),
          "answer": row.answer,
      }
      for row in mgsm_format.read_mgsm_tsv(_demo_path(data_dir, language, split))
  ]


def _mgsm_path(data_dir: str, language: str, split: str) -> str:
  del split  # MGSM has a test split only.
  return os.path.join(data_dir, "mgsm", f"mgsm_{language}.tsv")


@functools.lru_cache(maxsize=8)
def _mgsm_exemplars(path: str) -> dict[str, list[tuple[str, str]]]:
  return mgsm_format.read_exemplars(path)


def _read_mgsm(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
  """MGSM test questions with the official native-language 8-shot CoT prompt."""
  _check_data_dir(data_dir)
  exemplars = _mgsm_exemplars(os.path.join(data_dir, "mgsm", "exemplars.json"))[language]
  name = task_name("mgsm", language, split)
  return [
      {
          "id": f"{name}:{row.line_number}",
          "language": language,
          "inputs": mgsm_format.few_shot_prompt(exemplars, row.question),
          "targets": answers.answer_sentence(language, row.answer),
          "answer": row.answer,
      }
      for row in mgsm_format.read_mgsm_tsv(_mgsm_path(data_dir, language, split))
  ]


DATASETS: dict[str, Dataset] = {
    "demo_arith": Dataset(
        "demo_arith", DEMO_LANGUAGES, ("train", "validation", "test"), "accuracy",
        _demo_path, _read_demo,
    ),
    "mgsm": Dataset("mgsm", MGSM_LANGUAGES, ("test",), "accuracy", _mgsm_path, _read_mgsm),
}


def get_dataset(name: str) -> Dataset:
  """The dataset called `name`, or UserInputError listing the known ones."""
  if name not in DATASETS:
    raise UserInputError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}")
  return DATASETS[name]


def read_examples(dataset: str, data_dir: str, language: str, split: str) -> list[dict[str, str]]:
  """All examples of one dataset x language x split, validated against the dataset's lists."""
  spec = get_dataset(dataset)
  if language not in spec.languages:
    raise UserInputError(
        f"dataset {dataset} has no language {language!r}; it has {', '.join(spec.languages)}"
    )
  if split not in spec.splits:
    raise UserInputError(f"dataset {dataset} has no split {split!r}; it has {', '.join(spec.splits)}")
  return spec.read(data_dir, language, split)
