"""Which examples a run trains and validates on: its manifest, drawn from the source files.

`select_run` turns a `RunPlan` (data-independent) into a manifest (exact example ids
per task, counts, seed, and the sha256 of every file read). Guarantees:

- deterministic: the same plan, seed and files give the same ids;
- nested: an independent portion takes a prefix of a permutation seeded by (seed,
  task), a pooled portion a window of its pool's permutation, so smaller budgets are
  prefixes of larger ones and English is the same sample in every run of a sweep;
- held out: validation comes from the plan's validation split; a dataset without that
  split holds out the *last* `validation_size` items of the same permutation, which
  no training portion can reach (a budget that would is an error). Pools always keep
  their last `validation_size` items out of training;
- pooled portions at disjoint positions share no source item (P1, P3 translated, P2).

Pools: a pool's items are the examples of its source (dataset, language), usually the
English originals; a portion reads, for each item in its window, the example of its own
dataset x language with the same parallel key. The key of an example is its
`parallel_id` when the reader sets one, otherwise its row key (the part of its id after
the last ':'), i.e. files line-aligned with the source.
"""

import json

from tasks import datasets
from tasks.formats import rows
from tasks.naming import task_name
from xlt_jax.core import languages as language_codes
from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.studies.designs import Portion, RunPlan, permutation


def parallel_key(example: dict[str, str]) -> str:
  """The key shared by the translations of one source item (see the module docstring)."""
  return example.get("parallel_id") or example["id"].rsplit(":", 1)[-1]


class SourceCache:
  """Reads each dataset x language x split once and records the sha256 of every file read."""

  def __init__(self, data_dir: str):
    self.data_dir = data_dir
    self._examples: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    self._files: dict[tuple[str, str, str], list[str]] = {}
    self.sources: dict[str, str] = {}  # absolute path -> sha256

  def read(self, dataset: str, language: str, split: str) -> list[dict[str, str]]:
    key = (dataset, language, split)
    if key not in self._examples:
      result = datasets.load(dataset, self.data_dir, language, split)
      self._examples[key] = result.examples
      # Every file the reader read (e.g. LIMA's and OASST's for P1's English), main one first.
      files = [paths.absolute(self.path(*key))]
      files += [path for path in map(paths.absolute, result.sources) if path not in files]
      self._files[key] = files
      for path in files:
        self.sources[path] = rows.sha256_file(path)
    return self._examples[key]

  def files(self, dataset: str, language: str, split: str) -> list[str]:
    """The absolute paths of every file `read` read for this task (after reading it)."""
    return self._files[(dataset, language, split)]

  def path(self, dataset: str, language: str, split: str) -> str:
    return datasets.get_dataset(dataset).path(self.data_dir, language, split)


def check_plan(plan: RunPlan) -> None:
  """Every portion names a known language code that its dataset has (before any reading)."""
  for dataset, language in [(p.dataset, p.language) for p in plan.portions] + list(
      plan.pools.values()):
    language_codes.check_language(language)
    spec = datasets.get_dataset(dataset)
    language_codes.check_language(language, spec.languages, f"{dataset} language")
  for portion in plan.portions:
    if portion.pool is not None and portion.pool not in plan.pools:
      raise UserInputError(f"run {plan.mixture}: portion {portion} names an undeclared pool")


def _has_validation_split(plan: RunPlan, dataset: str) -> bool:
  return plan.validation_split in datasets.get_dataset(dataset).splits


def _exceeds(count: int, task: str, language: str, available: int, holdout: int) -> str:
  after = f" ({available - holdout} after holding out {holdout} for validation)" if holdout else ""
  return (f"budget {count} for task {task} (language {language}) exceeds the {available}"
          f" available examples{after}")


def _entry(cache: SourceCache, dataset, language, split, ids, available, pool=None, offset=0,
           selection=None) -> dict:
  path = paths.absolute(cache.path(dataset, language, split))
  return {
      "task": task_name(dataset, language, split, count=len(ids), selection=selection),
      "dataset": dataset, "language": language, "split": split, "count": len(ids),
      "available": available, "pool": pool, "offset": offset, "selection": selection,
      "source": path, "source_sha256": cache.sources[path], "ids": ids,
  }


class _Pool:
  """A pool's permuted source keys; maps positions to the ids of any member's examples."""

  def __init__(self, plan: RunPlan, name: str, cache: SourceCache):
    dataset, language = plan.pools[name]
    source = cache.read(dataset, language, "train")
    keys = [parallel_key(example) for example in source]
    if len(set(keys)) != len(keys):
      raise UserInputError(f"pool {name}: two examples of {dataset} {language} share a"
                           " parallel key (parallel_id)")
    order = permutation(len(keys), plan.seed, f"pool:{name}")
    self.name, self.source, self.cache = name, f"{dataset} {language}", cache
    self.keys = [keys[index] for index in order]
    self.holdout = plan.validation_size
    if self.holdout >= len(self.keys):
      raise UserInputError(f"pool {name} has {len(self.keys)} items, too few to hold out"
                           f" {self.holdout} for validation")
    self._by_key: dict[tuple[str, str], dict[str, str]] = {}

  def ids(self, dataset: str, language: str, start: int, stop: int) -> list[str]:
    """The ids of (dataset, language)'s examples of the source items at [start, stop)."""
    if (dataset, language) not in self._by_key:
      self._by_key[(dataset, language)] = {
          parallel_key(example): example["id"]
          for example in self.cache.read(dataset, language, "train")}
    by_key = self._by_key[(dataset, language)]
    missing = [key for key in self.keys[start:stop] if key not in by_key]
    if missing:
      raise UserInputError(
          f"pool {self.name}: {len(missing)} of the {stop - start} items of {self.source} at"
          f" positions {start}..{stop - 1} have no example in {dataset} {language} (first key"
          f" {missing[0]!r}): its parallel_id values must be the source rows' keys")
    return [by_key[key] for key in self.keys[start:stop]]


def _independent(plan, cache, portion: Portion) -> tuple[dict, list[str] | None]:
  """The portion's training entry and, where it carves validation, the held-out ids."""
  examples = cache.read(portion.dataset, portion.language, "train")
  task = task_name(portion.dataset, portion.language, "train")
  carve = not _has_validation_split(plan, portion.dataset)
  holdout = plan.validation_size if carve else 0
  if plan.validation_from_rest:
    holdout = max(0, min(holdout, len(examples) - portion.count))
  if portion.count + holdout > len(examples):
    raise UserInputError(_exceeds(portion.count, task, portion.language, len(examples), holdout))
  order = permutation(len(examples), plan.seed, task)
  ids = [examples[index]["id"] for index in order[:portion.count]]
  held_out = [examples[index]["id"] for index in order[len(examples) - holdout:]]
  entry = _entry(cache, portion.dataset, portion.language, "train", ids, len(examples))
  # [] (carved, nothing left: validation_from_rest) means no validation for this language.
  return entry, (held_out if carve else None)


def _pooled(plan, cache, pool: _Pool, portion: Portion) -> tuple[dict, list[str] | None]:
  stop = portion.offset + portion.count
  if stop > len(pool.keys) - pool.holdout:
    task = task_name(portion.dataset, portion.language, "train")
    raise UserInputError(
        _exceeds(portion.count, task, portion.language, len(pool.keys), pool.holdout)
        + f" in pool {pool.name} from position {portion.offset}")
  ids = pool.ids(portion.dataset, portion.language, portion.offset, stop)
  entry = _entry(cache, portion.dataset, portion.language, "train", ids, len(pool.keys),
                 pool.name, portion.offset, selection=f"{pool.name}_o{portion.offset}")
  held_out = None
  if not _has_validation_split(plan, portion.dataset):
    held_out = pool.ids(portion.dataset, portion.language, len(pool.keys) - pool.holdout,
                        len(pool.keys))
  return entry, held_out


def select_run(plan: RunPlan, data_dir: str, cache: SourceCache | None = None) -> dict:
  """The run's manifest: every training and validation example id, counts and sources.

  Raises:
    UserInputError: an unknown dataset or language, a budget larger than the data
      (naming task, language, budget and what is available), a translation missing
      from a pool's window, a missing data directory or a malformed file.
  """
  check_plan(plan)
  cache = cache or SourceCache(data_dir)
  pools = {name: _Pool(plan, name, cache) for name in sorted(
      {portion.pool for portion in plan.portions if portion.pool is not None})}
  train, validation = [], []
  for portion in plan.portions:
    if portion.pool is None:
      entry, held_out = _independent(plan, cache, portion)
      selection = "heldout"
    else:
      entry, held_out = _pooled(plan, cache, pools[portion.pool], portion)
      selection = f"{portion.pool}_heldout"
    train.append(entry)
    if any(v["dataset"] == portion.dataset and v["language"] == portion.language
           for v in validation):
      continue
    if held_out == []:
      continue
    if held_out is not None:
      validation.append(_entry(cache, portion.dataset, portion.language, "train", held_out,
                               entry["available"], portion.pool, selection=selection))
    else:
      split = plan.validation_split
      examples = cache.read(portion.dataset, portion.language, split)
      task = task_name(portion.dataset, portion.language, split)
      if plan.validation_size > len(examples):
        raise UserInputError(f"validation size {plan.validation_size} for task {task} (language"
                             f" {portion.language}) exceeds the {len(examples)} available examples")
      order = permutation(len(examples), plan.seed, task)
      ids = [examples[index]["id"] for index in order[:plan.validation_size]]
      validation.append(_entry(cache, portion.dataset, portion.language, split, ids,
                               len(examples)))
  return {
      "run": plan.name, "budget": plan.budget, "seed": plan.seed, "mixture": plan.mixture,
      "validation_mixture": plan.validation_mixture, "counts": plan.counts,
      "total": plan.total, "train": train, "validation": validation,
      "pools": {name: {"source": list(plan.pools[name]), "items": len(pool.keys),
                       "held_out": pool.holdout}
                for name, pool in pools.items()},
      "sources": _run_sources(plan, cache, train + validation),
  }


def _run_sources(plan: RunPlan, cache: SourceCache, entries: list[dict]) -> dict[str, str]:
  """path -> sha256 of every file this run's selection depends on (a shared cache has more)."""
  files = {path for entry in entries
           for path in cache.files(entry["dataset"], entry["language"], entry["split"])}
  pooled = {portion.pool for portion in plan.portions if portion.pool is not None}
  files |= {path for pool in pooled for path in cache.files(*plan.pools[pool], "train")}
  return {path: cache.sources[path] for path in sorted(files)}


def check_manifest(manifest: dict) -> None:
  """Raises UserInputError naming the first source file that changed since `manifest`."""
  for path, recorded in manifest.get("sources", {}).items():
    if not paths.isfile(path):
      raise UserInputError(f"source {path} of run {manifest.get('mixture')} no longer exists")
    current = rows.sha256_file(path)
    if current != recorded:
      raise UserInputError(
          f"manifest of run {manifest.get('mixture')} no longer matches its source {path}"
          f" (sha256 {recorded[:12]}... recorded, {current[:12]}... now): the data changed"
          " since the run was planned")


def check_manifest_file(path: str) -> dict:
  """Reads a saved manifest.json, checks it against the current sources and returns it."""
  try:
    with paths.open(path, encoding="utf-8") as file:
      manifest = json.load(file)
  except (OSError, json.JSONDecodeError) as error:
    raise UserInputError(f"cannot read manifest {path}: {error}") from None
  check_manifest(manifest)
  return manifest
