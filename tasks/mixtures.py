"""A study design becomes seqio mixtures: one training and one validation mixture per run.

Budgets are applied per task (each language's subset is its own task holding
exactly its budget), never through mixture rates: with num_epochs=1 a seqio
mixture stops when its smallest task runs out. Rates are proportional to task
sizes, so sampling from the repeated mixture is examples-proportional.
"""

import dataclasses
import hashlib
import os

import seqio

from tasks import datasets, registration
from tasks.naming import task_name
from xlt_jax import languages as language_codes
from xlt_jax.errors import UserInputError
from xlt_jax.study import RunPlan, StudyDesign, nested_subset, plan_runs


@dataclasses.dataclass(frozen=True)
class RegisteredRun:
  plan: RunPlan
  manifest: dict  # exactly which examples the run trains and validates on


def _sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as file:
    for block in iter(lambda: file.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def check_languages(design: StudyDesign) -> None:
  """Every language of the design is a known code that both datasets have."""
  for language in design.evaluation_languages:
    language_codes.check_language(language)
  train_spec = datasets.get_dataset(design.dataset)
  eval_spec = datasets.get_dataset(design.evaluation_dataset or design.dataset)
  for language in (design.english, *design.seen_languages):
    language_codes.check_language(language, train_spec.languages, f"{design.dataset} language")
  for language in design.evaluation_languages:
    language_codes.check_language(language, eval_spec.languages, f"{eval_spec.name} language")


def _register_subset(design, data_dir, vocabulary, language, split, count, purpose,
                     chat_family=None) -> dict:
  """Draws `count` examples (a nested prefix) of one language and registers them as a task."""
  examples = datasets.read_examples(purpose["dataset"], data_dir, language, split)
  full_name = task_name(purpose["dataset"], language, split)
  ids = nested_subset([e["id"] for e in examples], count, design.seed, full_name, language)
  name = registration.register_subset_task(
      purpose["dataset"], data_dir, language, split, ids, vocabulary, chat_family
  )
  source = datasets.get_dataset(purpose["dataset"]).path(data_dir, language, split)
  return {
      "task": name,
      "language": language,
      "split": split,
      "count": count,
      "available": len(examples),
      "source": os.path.abspath(source),
      "source_sha256": _sha256(source),
      "ids": ids,
  }


def _add_mixture(name: str, entries: list[dict]) -> None:
  tasks = [(entry["task"], entry["count"]) for entry in entries if entry["count"] > 0]
  if name in seqio.MixtureRegistry.names():
    existing = seqio.MixtureRegistry.get(name)
    if sorted(task.name for task in existing.tasks) != sorted(task for task, _ in tasks):
      raise UserInputError(f"mixture {name} is already registered with different tasks")
    return
  seqio.MixtureRegistry.add(name, tasks)


def register_study(design: StudyDesign, data_dir: str, vocabulary,
                   chat_family: str | None = None) -> list[RegisteredRun]:
  """Registers every task and mixture of a study and returns the runs with their manifests.

  chat_family renders training and validation examples with that chat template
  (`tasks.registration`); None keeps plain prompt/target tasks.

  Raises:
    UserInputError: unknown dataset or language, a budget larger than the data,
      a missing data directory or a malformed data file.
  """
  check_languages(design)
  train = {"dataset": design.dataset}
  registered = []
  for plan in plan_runs(design):
    train_entries = [
        _register_subset(design, data_dir, vocabulary, language, "train", count, train,
                         chat_family)
        for language, count in plan.train_counts.items()
    ]
    validation_entries = [
        _register_subset(
            design, data_dir, vocabulary, language, "validation", design.validation_size, train,
            chat_family,
        )
        for language in plan.train_counts
    ]
    _add_mixture(plan.mixture, train_entries)
    _add_mixture(plan.validation_mixture, validation_entries)
    manifest = {
        "run": plan.name,
        "budget": plan.budget,
        "seed": design.seed,
        "mixture": plan.mixture,
        "validation_mixture": plan.validation_mixture,
        "train": train_entries,
        "validation": validation_entries,
    }
    registered.append(RegisteredRun(plan, manifest))
  return registered


def register_evaluation_tasks(design: StudyDesign, data_dir: str, vocabulary) -> dict[str, str]:
  """Registers the test set of every evaluation language; returns language -> task name."""
  check_languages(design)
  dataset = design.evaluation_dataset or design.dataset
  tasks = {}
  for language in design.evaluation_languages:
    if design.evaluation_size is None:
      tasks[language] = registration.register_task(dataset, data_dir, language, "test", vocabulary)
    else:
      entry = _register_subset(
          design, data_dir, vocabulary, language, "test", design.evaluation_size,
          {"dataset": dataset},
      )
      tasks[language] = entry["task"]
  return tasks
