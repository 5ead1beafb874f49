"""P1's side-by-side judge over a study's runs, once every run is evaluated.

P1 scores a run D in an evaluation language L as IF_L(D) = S×S(D, D_L) (papers.md P1.2):
D's responses to L's instructions against those of the model tuned monolingually on L, in
both orders (`judges.pairwise`); its Appendix F also judges the monolingual models
against the un-fine-tuned base model. A study whose `EvaluationConfig.judge` is a pairwise
protocol (`JudgeConfig(protocol='p1_pairwise')`) gets both from the launcher:

1. Before training, `plan_judging` finds each evaluation language's reference: the study's
   run trained on that language alone (its plan's training languages are exactly [L], as
   study.json's `training_languages` records them and the report's heatmap reads its
   columns; PinchDesign's `mono_L`). A judged language with no such run, or two, is one
   UserInputError naming it.
2. After every run is evaluated, `judge_study` judges, for every run D and language L whose
   reference R is another run, D's items of L on the judged tasks (metric `llm_judge`)
   against R's predictions of the same items (`judges.run.join_reference`, per task and
   language: ids repeat across languages), and writes them with `judges.run.write_results`
   into RUN_DIR/eval/pairwise/<R>/judge-p1_pairwise-<JUDGE>.jsonl (+ .summary.json), the
   layout `reporting/run_files.py` reads. R is not judged on its own language (P1's
   diagonal: 50 by construction, the report fills it in). When a run of the study has the
   base model's predictions (RUN_DIR/eval/base/predictions.jsonl, from
   `python -m xlt_jax.evaluate --checkpoint=base`; every run starts from the same base, so
   the first run in study order that has them serves all), each reference run is also
   judged on every judged language against them, into eval/pairwise/base/ (Appendix F
   judges the monolingual models only; judging every run would double the requests).

Resumable: a comparison whose files were finished for exactly its inputs (both sides'
prompts and predictions, the protocol, its prompt version, request settings and re-asks,
the judge model and endpoint; their sha256 in `<stem>.inputs.sha256`, written last) is not
judged again. The others go through one cached client (MODEL_DIR/judge_cache/ unless
ChatServiceConfig.cache_dir names another), so a killed judging asks no request twice.
"""

import dataclasses
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence

from xlt_jax.core import atomic_io, json_lines, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import results_store, task_metrics
from xlt_jax.evaluation.judges import run as judging
from xlt_jax.evaluation.judges.protocols import PAIRWISE, JudgeConfig, resolve
from xlt_jax.services.chat_client import ChatClient
from xlt_jax.services.config import ChatServiceConfig
from xlt_jax.studies.designs import plan_runs

PAIRWISE_DIR = "pairwise"  # RUN_DIR/eval/pairwise/<REFERENCE>/
BASE_REFERENCE = "base"  # the reference name of the un-fine-tuned base model
DIGEST_SUFFIX = ".inputs.sha256"
CACHE_DIR = "judge_cache"  # MODEL_DIR/judge_cache/, unless the service names a cache


@dataclasses.dataclass(frozen=True)
class PairwisePlan:
  """What `judge_study` judges: known before anything is trained."""

  judge: JudgeConfig
  tasks: tuple[str, ...]  # the study's judged tasks
  runs: tuple[str, ...]  # every run of the study, in study order
  reference_of: dict[str, str]  # evaluation language -> the run trained on it alone


@dataclasses.dataclass(frozen=True)
class Comparison:
  """One file of verdicts: `run`'s items of `languages` against `reference`'s."""

  run: str
  reference: str  # a run of the study, or BASE_REFERENCE
  reference_predictions: str  # the reference's predictions.jsonl, relative to MODEL_DIR
  languages: tuple[str, ...]


def references(training_languages: Mapping[str, Sequence[str]], languages: Sequence[str],
               study: str) -> dict[str, str]:
  """Each evaluation language's reference run: the one run trained on it alone.

  Args:
    training_languages: run name -> the languages it trains on (a plan's `train_counts`).
    languages: the judged evaluation languages.
    study: the study's name, for messages.

  Raises:
    UserInputError: a language with no run trained on it alone, or with several.
  """
  alone: dict[str, list[str]] = {}
  for run, trained in training_languages.items():
    if len(trained) == 1:
      alone.setdefault(trained[0], []).append(run)
  found = {}
  for language in languages:
    runs = alone.get(language, [])
    if not runs:
      raise UserInputError(
          f"study {study!r}: P1's side-by-side judge compares each run's {language} responses"
          f" with the run trained on {language} alone, and the study has none (PinchDesign's"
          f" mono_{language}): add it to the study's runs (selected_runs) or leave"
          f" {language} out of its evaluations")
    if len(runs) > 1:
      raise UserInputError(
          f"study {study!r}: runs {', '.join(runs)} all train on {language} alone; P1's"
          f" side-by-side judge needs one reference for {language}")
    found[language] = runs[0]
  return found


def plan_judging(study, judge: JudgeConfig | None) -> PairwisePlan | None:
  """The side-by-side judging of `study`, or None when its judge is not pairwise or it has
  no judged task (`references` raises for a missing reference, before any training)."""
  from tasks import mixtures  # the test sets' metrics; nothing is registered

  if judge is None or resolve(judge)[0].kind != PAIRWISE:
    return None
  judged = [evaluation for evaluation in study.evaluation_sets()
            if mixtures.evaluation_metric(evaluation) in task_metrics.JUDGED]
  if not judged:
    return None
  languages = list(dict.fromkeys(language for evaluation in judged
                                 for language in evaluation.languages))
  plans = plan_runs(study)
  reference_of = references({plan.name: list(plan.train_counts) for plan in plans}, languages,
                            study.name)
  return PairwisePlan(judge, tuple(evaluation.task for evaluation in judged),
                      tuple(plan.name for plan in plans), reference_of)


def _predictions_path(run: str, checkpoint: str = "best") -> str:
  """A run's predictions.jsonl relative to MODEL_DIR (the launcher's runs/<name>/)."""
  return paths.join(results_store.evaluation_dir(paths.join("runs", run), checkpoint),
                    results_store.PREDICTIONS_FILE)


def base_predictions(model_dir: str, runs: Sequence[str]) -> str | None:
  """The base model's predictions (relative to MODEL_DIR) of the first run that has them."""
  for run in runs:
    path = _predictions_path(run, "base")
    if paths.isfile(paths.join(model_dir, path)):
      return path
  return None


def comparisons(plan: PairwisePlan, base: str | None) -> list[Comparison]:
  """Every run against each language's reference run (never against itself), then, with
  `base` predictions, each reference run against the base model on every language."""
  found = [Comparison(run, reference, _predictions_path(reference), (language,))
           for run in plan.runs for language, reference in plan.reference_of.items()
           if reference != run]
  if base is not None:
    languages = tuple(plan.reference_of)
    found += [Comparison(run, BASE_REFERENCE, base, languages) for run in plan.runs
              if run in plan.reference_of.values()]
  return found


def _judged_records(model_dir: str, path: str, tasks: Sequence[str],
                    whose: str) -> dict[tuple[str, str], list[dict]]:
  """(task, language) -> the prediction records of the judged tasks, in file order."""
  full = paths.join(model_dir, path)
  if not paths.isfile(full):
    raise UserInputError(f"P1's side-by-side judge: {whose} has no predictions ({full});"
                         " evaluate it first")
  found: dict[tuple[str, str], list[dict]] = {}
  for _, record in json_lines.read_json_lines(full):
    if record.get("task") in tasks:
      found.setdefault((record["task"], record.get("language")), []).append(record)
  return found


def _records(comparison: Comparison, tasks: Sequence[str], ours: dict,
             theirs: dict) -> list[dict]:
  """Our records of the comparison's languages, each with the reference's prediction."""
  joined = []
  for language in comparison.languages:
    mine = [(task, ours[(task, language)]) for task in tasks if (task, language) in ours]
    if not mine:
      raise UserInputError(f"P1's side-by-side judge: run {comparison.run} has no {language}"
                           f" predictions of {', '.join(tasks)} to compare")
    for task, records in mine:
      try:
        joined += judging.join_reference(records, theirs.get((task, language), []))
      except UserInputError as error:
        raise UserInputError(
            f"P1's side-by-side judge: {comparison.reference} ({comparison.reference_predictions})"
            f" lacks {task} {language} predictions of run {comparison.run}: {error}") from None
  return joined


def inputs_digest(records: Sequence[Mapping], judge: JudgeConfig,
                  service: ChatServiceConfig) -> str:
  """The sha256 of everything that decides a comparison's verdicts."""
  protocol, _, params = resolve(judge)
  identity = {
      "items": [[record[field] for field in ("task", "id", "language", "prompt", "prediction",
                                             "reference_prediction")] for record in records],
      "protocol": protocol.name, "prompt_version": protocol.prompt_version, "params": params,
      "reasks": judge.reasks, "model": service.model, "base_url": service.base_url.rstrip("/")}
  return hashlib.sha256(json.dumps(identity, sort_keys=True, ensure_ascii=False)
                        .encode("utf-8")).hexdigest()


def _finished(directory: str, stem: str, digest: str) -> bool:
  marker = paths.join(directory, stem + DIGEST_SUFFIX)
  return (paths.isfile(paths.join(directory, stem + ".jsonl")) and paths.isfile(marker)
          and paths.read_text(marker).strip() == digest)


def _describe(summary: Mapping[str, dict]) -> str:
  parts = []
  for language, entry in summary.items():
    score = entry["score_percent"]
    parts.append(f"{language} S×S {'n/a' if score is None else f'{score:.1f}'} (wins"
                 f" {entry['wins']}, ties {entry['ties']}, losses {entry['losses']},"
                 f" unscored {entry['items'] - entry['scored']})")
  return "; ".join(parts)


def judge_study(plan: PairwisePlan, model_dir: str, service: ChatServiceConfig,
                stream=sys.stdout) -> list[str]:
  """Judges every comparison of `plan` not finished yet (see the module docstring) and
  returns the items files of all of them, finished before or now.

  Raises:
    UserInputError: a run or reference without predictions, or without the items compared.
  """
  if service.cache_dir is None:
    service = dataclasses.replace(service, cache_dir=paths.join(model_dir, CACHE_DIR))
  protocol, _, _ = resolve(plan.judge)
  stem = judging.results_stem(protocol.name, service.model)
  found = comparisons(plan, base_predictions(model_dir, plan.runs))
  # Predictions in memory: every reference's, and the run being judged (a study's runs are
  # judged one after the other, so the others are read once each).
  kept = {comparison.reference_predictions for comparison in found}
  loaded: dict[str, dict] = {}
  client, written = None, []
  try:
    for index, comparison in enumerate(found, start=1):
      ours_path = _predictions_path(comparison.run)
      loaded = {path: records for path, records in loaded.items()
                if path in kept or path == ours_path}
      for path, whose in ((ours_path, f"run {comparison.run}"),
                          (comparison.reference_predictions,
                           f"the reference {comparison.reference}")):
        if path not in loaded:
          loaded[path] = _judged_records(model_dir, path, plan.tasks, whose)
      records = _records(comparison, plan.tasks, loaded[ours_path],
                         loaded[comparison.reference_predictions])
      directory = paths.join(model_dir, "runs", comparison.run, results_store.EVAL_DIR,
                             PAIRWISE_DIR, comparison.reference)
      digest = inputs_digest(records, plan.judge, service)
      label = f"[pairwise {index}/{len(found)}] {comparison.run} vs {comparison.reference}"
      written.append(paths.join(directory, stem + ".jsonl"))
      if _finished(directory, stem, digest):
        print(f"{label}: already judged", file=stream, flush=True)
        continue
      if client is None:
        client = ChatClient.from_environment(service, report_to=stream)
      results = judging.judge_predictions(records, plan.judge, client)
      judging.write_results(directory, results)
      atomic_io.write_text(paths.join(directory, stem + DIGEST_SUFFIX), digest + "\n")
      print(f"{label}: {_describe(results.summary)}", file=stream, flush=True)
  finally:
    if client is not None:
      client.close()  # prints the usage line
  return written
