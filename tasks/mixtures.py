"""A study design becomes seqio mixtures: one training and one validation mixture per run.

Budgets are applied per task (each portion's subset is its own task holding exactly
its count), never through mixture rates: with num_epochs=1 a seqio mixture stops when
its smallest task runs out. Rates are proportional to task sizes, so sampling from the
repeated mixture is examples-proportional. Which examples each task holds is decided by
`tasks/selection.py` and recorded in the run's manifest.
"""

import dataclasses

import seqio

from tasks import datasets, registration, selection
from tasks.naming import task_name
from xlt_jax.core import languages as language_codes
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import task_metrics
from xlt_jax.studies.designs import RunPlan, StudyDesign, nested_subset, plan_runs


@dataclasses.dataclass(frozen=True)
class RegisteredRun:
  plan: RunPlan
  manifest: dict  # exactly which examples the run trains and validates on


def check_languages(design: StudyDesign) -> None:
  """Every language of a budget sweep is a known code that both its datasets have."""
  for language in design.evaluation_languages:
    language_codes.check_language(language)
  train_spec = datasets.get_dataset(design.dataset)
  eval_spec = datasets.get_dataset(design.evaluation_dataset or design.dataset)
  for language in (design.english, *design.seen_languages):
    language_codes.check_language(language, train_spec.languages, f"{design.dataset} language")
  for language in design.evaluation_languages:
    language_codes.check_language(language, eval_spec.languages, f"{eval_spec.name} language")


def _add_mixture(name: str, entries: list[dict]) -> None:
  tasks = [(entry["task"], entry["count"]) for entry in entries if entry["count"] > 0]
  if name in seqio.MixtureRegistry.names():
    existing = seqio.MixtureRegistry.get(name)
    if sorted(task.name for task in existing.tasks) != sorted(task for task, _ in tasks):
      raise UserInputError(f"mixture {name} is already registered with different tasks")
    return
  seqio.MixtureRegistry.add(name, tasks)


def register_run(plan: RunPlan, manifest: dict, data_dir: str, vocabulary,
                 chat_family: str | None = None) -> RegisteredRun:
  """Registers the tasks of a manifest (from `selection.select_run`) and the run's mixtures."""
  for entry in manifest["train"] + manifest["validation"]:
    name = registration.register_subset_task(
        entry["dataset"], data_dir, entry["language"], entry["split"], entry["ids"], vocabulary,
        selection=entry.get("selection"), chat_family=chat_family)
    assert name == entry["task"], (name, entry["task"])
  _add_mixture(plan.mixture, manifest["train"])
  _add_mixture(plan.validation_mixture, manifest["validation"])
  return RegisteredRun(plan, manifest)


def register_study(design, data_dir: str, vocabulary,
                   chat_family: str | None = None) -> list[RegisteredRun]:
  """Registers every task and mixture of a design and returns the runs with their manifests.

  chat_family renders training and validation examples with that chat template
  (`tasks.registration`); None keeps plain prompt/target tasks.

  Raises:
    UserInputError: unknown dataset or language, a budget larger than the data,
      a missing data directory or a malformed data file.
  """
  if isinstance(design, StudyDesign):
    check_languages(design)
  cache = selection.SourceCache(data_dir)
  return [register_run(plan, selection.select_run(plan, data_dir, cache), data_dir, vocabulary,
                       chat_family)
          for plan in plan_runs(design)]


def evaluation_metric(evaluation) -> str:
  """The metric that scores a test set: its own (`EvaluationSet.metric`) or its dataset's."""
  return evaluation.metric or datasets.get_dataset(evaluation.dataset).metric


def check_evaluation_sets(design) -> None:
  """Every test set's split exists and every evaluation language is a known code its
  dataset has."""
  for evaluation in design.evaluation_sets():
    spec = datasets.get_dataset(evaluation.dataset)
    if evaluation.split not in spec.splits:
      raise UserInputError(f"dataset {spec.name} has no {evaluation.split} split to evaluate"
                           f" {evaluation.task} on (its splits: {', '.join(spec.splits)})")
    for language in evaluation.languages:
      language_codes.check_language(language, spec.languages, f"{spec.name} language")


def _check_answered(evaluation, language: str, examples: list[dict[str, str]]) -> None:
  """A test set scored against references has at least one item with a reference answer:
  a released split whose answers are hidden (X-CSQA's test split) reads as all blank and
  would score every run 0. Judged sets need no reference.

  Raises:
    UserInputError: naming the dataset, split and language, before any run trains.
  """
  if evaluation_metric(evaluation) in task_metrics.JUDGED:
    return
  if not any(example["answer"] or example["targets"] for example in examples):
    raise UserInputError(
        f"dataset {evaluation.dataset} has no reference answer for any of its"
        f" {len(examples)} {evaluation.split} items in {language} (a release that hides its"
        f" test answers): evaluate {evaluation.task} on its validation split"
        f" (EvaluationSet.split, the third element of the design's evaluations entry)")


def register_evaluation_tasks(design, data_dir: str, vocabulary) -> dict[str, dict[str, str]]:
  """Registers the test set of every task and evaluation language of a design (any design
  with `evaluation_sets()`); returns task -> language -> seqio task name.

  A language is evaluated on the design's `evaluation_size` items, or where that is None
  on the dataset's catalogued sample (`datasets.EVALUATION_SAMPLES`: at most that many, all
  of a smaller test set), else on all: a prefix of a permutation seeded by (seed, task).
  """
  if isinstance(design, StudyDesign):
    check_languages(design)
  check_evaluation_sets(design)
  registered = {}
  for evaluation in design.evaluation_sets():
    catalogued = datasets.get_dataset(evaluation.dataset).evaluation_sample
    tasks = registered[evaluation.task] = {}
    for language in evaluation.languages:
      split = evaluation.split
      examples = datasets.read_examples(evaluation.dataset, data_dir, language, split)
      _check_answered(evaluation, language, examples)
      if evaluation.size is None and catalogued is None:
        tasks[language] = registration.register_task(
            evaluation.dataset, data_dir, language, split, vocabulary, already_read=True)
        continue
      size = evaluation.size if evaluation.size is not None else min(catalogued, len(examples))
      ids = nested_subset([example["id"] for example in examples], size,
                          evaluation.seed, task_name(evaluation.dataset, language, split),
                          language, what=f"{type(design).__name__}.evaluation_size")
      tasks[language] = registration.register_subset_task(
          evaluation.dataset, data_dir, language, split, ids, vocabulary)
  return registered
