"""Study designs: English fixed, a budget schedule over seen languages, one run per budget.

A design expands into run plans. Each run draws, per language, a deterministic
prefix of a seeded permutation of that language's training examples, so the
50-example subset of a language is a prefix of its 200-example subset and the
English sample is the same in every run of a study.
"""

import dataclasses
import hashlib

import numpy as np

from xlt_jax.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class StudyDesign:
  """One cross-lingual transfer sweep (P0 §4: English fixed, budgets per seen language)."""

  name: str  # prefix of every mixture name of the study
  dataset: str  # training dataset, e.g. "demo_arith"
  seen_languages: tuple[str, ...]  # non-English training languages
  unseen_languages: tuple[str, ...]  # evaluated, never trained on
  budgets: tuple[int, ...]  # examples per seen language, one run each
  english_size: int  # fixed number of English training examples in every run
  english: str = "en"
  validation_size: int = 32  # held-out validation examples per training language
  seed: int = 0
  evaluation_dataset: str | None = None  # defaults to `dataset`
  evaluation_size: int | None = None  # test items per language; None = all

  def __post_init__(self):
    if not self.budgets:
      raise UserInputError(f"study {self.name!r} has an empty budget schedule")
    if any(budget < 0 for budget in self.budgets) or len(set(self.budgets)) != len(self.budgets):
      raise UserInputError(f"study {self.name!r}: budgets {self.budgets} must be distinct and >= 0")
    overlap = set(self.seen_languages) & set(self.unseen_languages)
    if overlap or self.english in set(self.seen_languages) | set(self.unseen_languages):
      raise UserInputError(
          f"study {self.name!r}: a language is listed twice among english/seen/unseen"
      )

  @property
  def evaluation_languages(self) -> tuple[str, ...]:
    return (self.english, *self.seen_languages, *self.unseen_languages)


@dataclasses.dataclass(frozen=True)
class RunPlan:
  """One training run of a study: how many examples of each language it trains on."""

  name: str  # e.g. "budget00050"; also the run directory name
  budget: int
  train_counts: dict[str, int]  # language -> examples (languages with 0 are absent)
  mixture: str  # seqio mixture of the training data
  validation_mixture: str  # seqio mixture of the held-out validation data


def run_name(budget: int) -> str:
  """Directory and mixture suffix of the run with this budget (sorts by budget)."""
  return f"budget{budget:05d}"


def plan_runs(design: StudyDesign) -> list[RunPlan]:
  """Expands a design into its runs, in budget order."""
  plans = []
  for budget in sorted(design.budgets):
    counts = {design.english: design.english_size}
    counts.update({language: budget for language in design.seen_languages if budget > 0})
    name = run_name(budget)
    plans.append(
        RunPlan(
            name=name,
            budget=budget,
            train_counts=counts,
            mixture=f"{design.name}_{name}",
            validation_mixture=f"{design.name}_{name}_validation",
        )
    )
  return plans


def _seed_for(seed: int, *names: str) -> int:
  """A stable 64-bit seed per (seed, names): unlike hash(), equal across processes."""
  digest = hashlib.sha256(":".join([str(seed), *names]).encode()).digest()
  return int.from_bytes(digest[:8], "little")


def nested_subset(ids: list[str], count: int, seed: int, task: str, language: str) -> list[str]:
  """The first `count` ids of a permutation of `ids` seeded by (seed, task).

  Guarantees: deterministic; nested (the subset for n is a prefix of the subset
  for m > n); independent of `count` otherwise.

  Raises:
    UserInputError: if count exceeds the number of ids.
  """
  if count > len(ids):
    raise UserInputError(
        f"budget {count} for task {task} (language {language}) exceeds the {len(ids)}"
        " available examples"
    )
  order = np.random.default_rng(_seed_for(seed, task)).permutation(len(ids))
  return [ids[index] for index in order[:count]]
