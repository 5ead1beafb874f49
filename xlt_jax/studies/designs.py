"""Study designs expand into runs; a run is a list of (dataset, language) -> count portions.

A design (this module: the augmentation sweeps of P0; `xlt_jax/studies/paper_designs.py`: the
substitution, condition and parallel designs of P1-P4) expands deterministically and
without reading data into `RunPlan`s. Each portion of a plan says how its examples
are drawn:

- independent (`pool=None`): the first `count` ids of a permutation of that dataset x
  language seeded by (seed, task). Subsets nest (the 100-example subset is a prefix of
  the 200-example one) and English is the same sample in every run of a sweep.
- from a parallel pool (`pool="p1"`): the items of the pool's source (one dataset x
  language, usually the English original; see `tasks/selection.py`) are permuted once
  per (seed, pool); the portion takes positions [offset, offset + count) and reads each
  item in its own dataset x language (its translation). Portions at disjoint positions
  use disjoint source items ("each example in exactly one language", P1 footnote 7);
  portions at the same positions are parallel copies (P4). The last `validation_size`
  positions are held out in every pool.
"""

import dataclasses
import hashlib

import numpy as np

from xlt_jax.core.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class Portion:
  """`count` training examples of one dataset x language (a variant is its own dataset)."""

  dataset: str
  language: str
  count: int
  pool: str | None = None  # None: drawn independently; else a pool of RunPlan.pools
  offset: int = 0  # first position in the pool's permutation (pools only)


@dataclasses.dataclass(frozen=True)
class RunPlan:
  """One training run: its portions, how they are drawn, and its mixture names."""

  name: str  # the run's directory name, e.g. "budget00050"
  mixture: str  # seqio mixture of the training data (stable, listed in tasks/catalogue.py)
  validation_mixture: str  # seqio mixture of the held-out validation data
  portions: tuple[Portion, ...]
  seed: int = 0
  validation_size: int = 32  # held-out examples per training (dataset, language)
  # Split the validation examples come from; a dataset without it holds out the last
  # `validation_size` items of its training permutation instead (never trained on).
  validation_split: str = "validation"
  # pool name -> its source (dataset, language): the items the pool's positions index.
  pools: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
  # True: a (dataset, language) whose training draw leaves fewer than `validation_size`
  # examples holds out only what is left (none if nothing is), instead of refusing the
  # budget: for designs whose counts take whole splits (P2's multilingual runs train on all
  # 241 German examples of Aya; its validation data is unspecified).
  validation_from_rest: bool = False
  budget: int | None = None  # examples per seen language, for budget sweeps
  # The training seed (data order, dropout, a from-scratch init; not which examples are
  # drawn, which `seed` decides); None: TrainConfig.seed.
  training_seed: int | None = None

  @property
  def train_counts(self) -> dict[str, int]:
    """language -> training examples, summed over datasets."""
    counts: dict[str, int] = {}
    for portion in self.portions:
      counts[portion.language] = counts.get(portion.language, 0) + portion.count
    return counts

  @property
  def counts(self) -> dict[str, dict[str, int]]:
    """dataset -> language -> training examples."""
    counts: dict[str, dict[str, int]] = {}
    for portion in self.portions:
      counts.setdefault(portion.dataset, {})[portion.language] = portion.count
    return counts

  @property
  def total(self) -> int:
    return sum(portion.count for portion in self.portions)


def _check_budgets(name: str, budgets: tuple[int, ...]) -> None:
  if not budgets:
    raise UserInputError(f"study {name!r} has an empty budget schedule")
  if any(budget < 0 for budget in budgets) or len(set(budgets)) != len(budgets):
    raise UserInputError(f"study {name!r}: budgets {budgets} must be distinct and >= 0")


def _check_seeds(name: str, seeds: tuple[int, ...] | None) -> None:
  if seeds is not None and (not seeds or len(set(seeds)) != len(seeds)
                            or any(seed < 0 for seed in seeds)):
    raise UserInputError(f"study {name!r}: seeds {seeds} must be distinct, >= 0 and not empty")


def _check_disjoint(name: str, english: str, seen: tuple[str, ...], unseen: tuple[str, ...]):
  if set(seen) & set(unseen) or english in set(seen) | set(unseen) or len(set(seen)) != len(seen):
    raise UserInputError(f"study {name!r}: a language is listed twice among english/seen/unseen")


@dataclasses.dataclass(frozen=True)
class EvaluationSet:
  """One task's test set: every run of a study is scored on it in each of `languages`."""

  task: str  # the task's name in results and reports: its training dataset
  dataset: str  # the dataset whose test split is decoded and scored
  languages: tuple[str, ...]
  size: int | None = None  # a seeded nested sample of this many items; None: all
  seed: int = 0
  # The split decoded and scored: "test", or "validation" for a set released without a
  # test split (TyDi QA GoldP).
  split: str = "test"
  # The metric that scores it (a task_metrics name); None: the dataset's own. P2 scores
  # held-out instruction data by perplexity.
  metric: str | None = None


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
  # Training seeds: every budget is trained once per seed on the same examples (run-to-run
  # noise); None trains once with TrainConfig.seed under today's run names.
  seeds: tuple[int, ...] | None = None

  def __post_init__(self):
    _check_budgets(self.name, self.budgets)
    _check_disjoint(self.name, self.english, self.seen_languages, self.unseen_languages)
    _check_seeds(self.name, self.seeds)

  @property
  def evaluation_languages(self) -> tuple[str, ...]:
    return (self.english, *self.seen_languages, *self.unseen_languages)

  def runs(self) -> list[RunPlan]:
    """One run per budget, in budget order: English fixed, `budget` per seen language."""
    return _budget_runs(self, (self.dataset,), self.english_size)

  def evaluation_sets(self) -> tuple[EvaluationSet, ...]:
    """The one test set every run is scored on, in every evaluation language."""
    return (EvaluationSet(self.dataset, self.evaluation_dataset or self.dataset,
                          self.evaluation_languages, self.evaluation_size, self.seed),)


@dataclasses.dataclass(frozen=True)
class MultiTaskDesign:
  """P0 §5: several datasets at once; English fixed per dataset, budget per language and task."""

  name: str
  datasets: tuple[str, ...]  # e.g. ("sharegpt", "xlsum", "mcot_math")
  seen_languages: tuple[str, ...]
  unseen_languages: tuple[str, ...]
  budgets: tuple[int, ...]  # examples per seen language *per dataset*
  english_size: int  # English examples per dataset (P0: 5,000 each)
  english: str = "en"
  validation_size: int = 32
  seed: int = 0
  # The test set each dataset's task is scored on, in `datasets` order (None: the
  # dataset's own test split); empty: every dataset's own. P0: Aya's Dolly-200 for
  # ShareGPT, MGSM for mCoT-MATH.
  evaluation_datasets: tuple[str | None, ...] = ()
  evaluation_size: int | None = None  # test items per task and language; None = all
  seeds: tuple[int, ...] | None = None  # training seeds, as StudyDesign.seeds

  def __post_init__(self):
    _check_budgets(self.name, self.budgets)
    _check_disjoint(self.name, self.english, self.seen_languages, self.unseen_languages)
    _check_seeds(self.name, self.seeds)
    if not self.datasets or len(set(self.datasets)) != len(self.datasets):
      raise UserInputError(f"study {self.name!r}: datasets {self.datasets} must be distinct")
    if self.evaluation_datasets and len(self.evaluation_datasets) != len(self.datasets):
      raise UserInputError(
          f"study {self.name!r}: evaluation_datasets {self.evaluation_datasets} must name one"
          f" test set (or None) per dataset of {self.datasets}")

  @property
  def evaluation_languages(self) -> tuple[str, ...]:
    return (self.english, *self.seen_languages, *self.unseen_languages)

  def runs(self) -> list[RunPlan]:
    return _budget_runs(self, self.datasets, self.english_size)

  def evaluation_sets(self) -> tuple[EvaluationSet, ...]:
    """One test set per task: every run is scored on each, in every evaluation language."""
    tests = self.evaluation_datasets or (None,) * len(self.datasets)
    return tuple(EvaluationSet(dataset, test or dataset, self.evaluation_languages,
                               self.evaluation_size, self.seed)
                 for dataset, test in zip(self.datasets, tests))


def run_name(budget: int, training_seed: int | None = None) -> str:
  """Directory and mixture suffix of the run with this budget (sorts by budget), and with
  its training seed when the design repeats runs over seeds."""
  name = f"budget{budget:05d}"
  return name if training_seed is None else f"{name}_seed{training_seed}"


def _budget_runs(design, datasets: tuple[str, ...], english_size: int) -> list[RunPlan]:
  """Per budget (ascending), per training seed: the same examples in every seed's run."""
  plans = []
  for budget in sorted(design.budgets):
    portions = [Portion(dataset, design.english, english_size) for dataset in datasets]
    if budget > 0:
      portions += [Portion(dataset, language, budget)
                   for dataset in datasets for language in design.seen_languages]
    for training_seed in design.seeds or (None,):
      name = run_name(budget, training_seed)
      plans.append(RunPlan(
          name=name, mixture=f"{design.name}_{name}",
          validation_mixture=f"{design.name}_{name}_validation", portions=tuple(portions),
          seed=design.seed, validation_size=design.validation_size, budget=budget,
          training_seed=training_seed,
      ))
  return plans


def plan_runs(design) -> list[RunPlan]:
  """Expands any design (an object with `runs()`) into its runs; names are unique."""
  plans = design.runs()
  names = [plan.mixture for plan in plans]
  if len(set(names)) != len(names):
    raise UserInputError(f"study {design.name!r} expands into duplicate mixture names")
  return plans


def split_evenly(total: int, languages: tuple[str, ...]) -> dict[str, int]:
  """`total` examples over `languages` as evenly as possible (largest remainder).

  Each language gets total // n; the remainder goes one each to the first languages
  in the given order, so the counts are deterministic and differ by at most one.
  """
  share, remainder = divmod(total, len(languages))
  return {language: share + (index < remainder) for index, language in enumerate(languages)}


def consecutive_portions(dataset_of, counts: dict[str, int], pool: str) -> tuple[Portion, ...]:
  """Portions in `counts` order at consecutive, disjoint positions of `pool`.

  `dataset_of(language)` names each language's dataset. Languages with count 0 are left
  out. No source item appears in two portions.
  """
  portions, offset = [], 0
  for language, count in counts.items():
    if count > 0:
      portions.append(Portion(dataset_of(language), language, count, pool, offset))
      offset += count
  return tuple(portions)


def seed_for(seed: int, *names: str) -> int:
  """A stable 64-bit seed per (seed, names): unlike hash(), equal across processes."""
  digest = hashlib.sha256(":".join([str(seed), *names]).encode()).digest()
  return int.from_bytes(digest[:8], "little")


def permutation(count: int, seed: int, key: str) -> np.ndarray:
  """A permutation of range(count) that depends only on (count, seed, key)."""
  return np.random.default_rng(seed_for(seed, key)).permutation(count)


def nested_subset(ids: list[str], count: int, seed: int, task: str, language: str,
                  what: str = "budget") -> list[str]:
  """The first `count` ids of a permutation of `ids` seeded by (seed, task).

  `what` names the count in the error (a training budget, an evaluation size).

  Guarantees: deterministic; nested (the subset for n is a prefix of the subset
  for m > n); independent of `count` otherwise.

  Raises:
    UserInputError: if count exceeds the number of ids.
  """
  if count > len(ids):
    raise UserInputError(
        f"{what} {count} for task {task} (language {language}) exceeds the {len(ids)}"
        " available examples"
    )
  order = permutation(len(ids), seed, task)
  return [ids[index] for index in order[:count]]
