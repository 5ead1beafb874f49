"""Runs a whole study: data, tokenizer, mixtures, one training run per budget, evaluation
of every run in every language, and the report. The launcher calls `run_experiment`.

A study starts either from scratch (a SentencePiece tokenizer trained or given, the
model of gin's ModelConfig, a seeded init) or from a pretrained base checkpoint
(`Experiment.base_checkpoint`, see `xlt_jax.models.base_checkpoint`): its architecture,
its own tokenizer.json and special tokens, and its parameters, converted once into
MODEL_DIR/base/.
"""

import dataclasses
import functools
import json
import os
import sys
import threading
import time

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.core.progress import StudyEstimate, format_duration
from xlt_jax.data import demo as demo_data
from xlt_jax.data import p0_smoke, p2_smoke, paper_smoke
from xlt_jax.evaluation import (
  checkpoint_selection,
  evaluator,
  pairwise_runs,
  results_store,
  task_metrics,
)
from xlt_jax.evaluation.evaluator import EvaluationConfig
from xlt_jax.models import base_checkpoint, vocabularies
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.tokenizer import load_vocabulary, train_sentencepiece
from xlt_jax.reporting import report
from xlt_jax.runner import starting_point
from xlt_jax.runner.demo_base import DemoBaseConfig
from xlt_jax.studies.designs import StudyDesign, plan_runs
from xlt_jax.training import (
  checkpointing,
  compile_cache,
  distributed,
  features,
  length_policy,
  resume_guard,
  sharding,
  trainer,
)
from xlt_jax.training.distributed import DistributedConfig
from xlt_jax.training.preemption import Preempted
from xlt_jax.training.train_step import OptimizerConfig

# The datasets a study without DATA_DIR may use: their stand-ins are generated.
GENERATED = p0_smoke.DATASETS + paper_smoke.DATASETS + p2_smoke.DATASETS


@dataclasses.dataclass(frozen=True)
class DemoDataConfig:
  """Examples per language and split of the generated demo dataset."""

  train: int = demo_data.DEFAULT_SPLIT_SIZES["train"]
  validation: int = demo_data.DEFAULT_SPLIT_SIZES["validation"]
  test: int = demo_data.DEFAULT_SPLIT_SIZES["test"]
  seed: int = 0


@dataclasses.dataclass(frozen=True)
class Experiment:
  """Everything one `python -m xlt_jax.launch` invocation does; gin builds it."""

  model_dir: str
  study: StudyDesign  # or any design of xlt_jax.studies.designs / study_designs (plan, inspect)
  model: ModelConfig  # with base_checkpoint only its dtype, param_dtype, remat_policy, scan_unroll
  mesh: sharding.MeshConfig
  optimizer: OptimizerConfig
  train: trainer.TrainConfig
  evaluation: EvaluationConfig
  data_dir: str | None = None  # None: generate the demo dataset into MODEL_DIR/data
  demo_data: DemoDataConfig = DemoDataConfig()
  tokenizer: str | None = None  # SentencePiece model; None: train one on the training split
  tokenizer_vocab_size: int = 1024
  # A pretrained model to fine-tune: a Hugging Face directory (converted once into
  # MODEL_DIR/base/) or an xlt directory; its config.json, tokenizer.json and weights
  # replace gin's architecture, the tokenizer and the initial parameters.
  base_checkpoint: str | None = None
  # The demo's own pretrained base (xlt_jax.runner.demo_base): built into
  # MODEL_DIR/pretrained_base/ from the generated data, then fine-tuned as base_checkpoint.
  demo_base: DemoBaseConfig | None = None
  # Also evaluate the un-fine-tuned base model, once, into the first run's eval/base/: the
  # report then sets every run against it (xlt_jax.reporting.base_model).
  evaluate_base: bool = False
  distributed: DistributedConfig = DistributedConfig()  # read by the launcher, before jax starts
  # A run whose length policy drops or truncates more than this share of its training
  # examples gets a study-level warning (printed, and recorded in study.json).
  length_warning_fraction: float = 0.01


def _trained_datasets(study) -> list[str]:
  """The datasets a study's runs train on, in first-use order."""
  return list(dict.fromkeys(portion.dataset for plan in plan_runs(study)
                            for portion in plan.portions))


def _study_datasets(study) -> set[str]:
  """Every dataset a study trains or evaluates on."""
  trained = set(_trained_datasets(study))
  return trained | {evaluation.dataset for evaluation in study.evaluation_sets()}


def language_roles(study) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
  """(english, seen, unseen) of any design: a budget sweep's own; for a mixture design
  (P1-P4), its evaluated languages that some run trains on (seen) or none does (unseen)."""
  if hasattr(study, "seen_languages"):
    return study.english, tuple(study.seen_languages), tuple(study.unseen_languages)
  trained = {language for plan in plan_runs(study) for language in plan.train_counts}
  evaluated = dict.fromkeys(language for evaluation in study.evaluation_sets()
                            for language in evaluation.languages if language != study.english)
  return (study.english, tuple(language for language in evaluated if language in trained),
          tuple(language for language in evaluated if language not in trained))


def _prepare_data(experiment: Experiment, stream) -> str:
  """DATA_DIR, or generated data under MODEL_DIR/data: the demo's word problems, or
  stand-ins for the papers' datasets in their official formats (`xlt_jax.data.p0_smoke`,
  `paper_smoke`, `p2_smoke`)."""
  if experiment.data_dir is not None:
    return experiment.data_dir
  data_dir = paths.join(experiment.model_dir, "data")
  needed = _study_datasets(experiment.study)
  sizes = experiment.demo_data
  split_sizes = {"train": sizes.train, "validation": sizes.validation, "test": sizes.test}
  if needed == {"demo_arith"}:
    marker, what = paths.join(data_dir, "demo_arith"), "the demo dataset"
    write = functools.partial(demo_data.write_demo_dataset, data_dir, split_sizes, seed=sizes.seed)
  elif needed <= set(GENERATED):
    marker, what = paths.join(data_dir, "README.generated"), "generated stand-in datasets"

    def write() -> None:
      if needed & set(p0_smoke.DATASETS):
        p0_smoke.write_p0_smoke_datasets(data_dir, split_sizes, seed=sizes.seed)
      if needed & set(paper_smoke.DATASETS):
        paper_smoke.write_paper_smoke_datasets(data_dir, split_sizes, seed=sizes.seed)
      if needed & set(p2_smoke.DATASETS):
        p2_smoke.write_p2_smoke_datasets(data_dir, split_sizes, seed=sizes.seed)
      atomic_io.write_text(marker, "generated stand-ins (xlt_jax/data/p0_smoke.py, paper_smoke.py,"
                           " p2_smoke.py); written last, so present = complete\n")
  else:
    raise UserInputError(
        f"datasets {', '.join(sorted(needed))} need DATA_DIR; only demo_arith and the"
        f" stand-ins ({', '.join(GENERATED)}) are generated")
  if not paths.exists(marker) and distributed.is_primary_process():
    print(f"writing {what} to {data_dir}", file=stream, flush=True)
    write()
  distributed.wait_for_all_processes("generated data written")
  return data_dir


def _prepare_tokenizer(experiment: Experiment, data_dir: str, stream) -> str:
  if experiment.tokenizer is not None:
    return experiment.tokenizer
  from tasks import datasets

  path = paths.join(experiment.model_dir, "tokenizer", "spm.model")
  if not paths.isfile(path) and distributed.is_primary_process():
    study = experiment.study
    english, seen, unseen = language_roles(study)
    trained = {language for plan in plan_runs(study) for language in plan.train_counts}
    languages = list(dict.fromkeys((english, *seen, *unseen, *sorted(trained))))
    texts = []
    for dataset in _trained_datasets(study):
      for language in languages:
        if language in datasets.get_dataset(dataset).languages:
          for example in datasets.read_examples(dataset, data_dir, language, "train"):
            texts += [example["inputs"], example["targets"]]
    print(f"training a SentencePiece tokenizer on {len(texts)} texts -> {path}", file=stream)
    train_sentencepiece(texts, path, experiment.tokenizer_vocab_size)
  distributed.wait_for_all_processes("tokenizer trained")
  return path


def _evaluation_tasks(study) -> list[dict]:
  """Each test set of the study with the metric that scores it.

  Raises:
    UserInputError: a design the launcher cannot run yet, or a test set scored by a metric
      the evaluator does not compute (before anything is trained).
  """
  from tasks import mixtures

  if not isinstance(study, tuple(evaluator.DESIGNS.values())):
    # P1-P4's designs are planned (`xlt_jax.plan`), registered and inspected
    # (`xlt_jax.inspect`); their runs need their own evaluation protocols first.
    raise UserInputError(
        f"study {study.name!r} is a {type(study).__name__}; the launcher runs"
        f" {' and '.join(evaluator.DESIGNS)} studies so far. Plan it with"
        " `python -m xlt_jax.plan` and inspect its mixtures with `python -m xlt_jax.inspect`.")
  found = []
  for evaluation in study.evaluation_sets():
    metric = mixtures.evaluation_metric(evaluation)
    if metric not in evaluator.SUPPORTED_METRICS:
      raise UserInputError(
          f"dataset {evaluation.dataset!r} is scored by {metric!r}; the evaluation binary scores"
          f" {', '.join(evaluator.SUPPORTED_METRICS)} so far. Evaluate its predictions with"
          " `python -m xlt_jax.score` after decoding them elsewhere.")
    found.append({"task": evaluation.task, "dataset": evaluation.dataset, "metric": metric,
                  "primary": task_metrics.get(metric).primary})
  return found


def _study_estimate(experiment: Experiment, runs, kept: dict[str, int]) -> StudyEstimate:
  """What is left of the study on disk: per run, the steps past its newest checkpoint
  (none once trained) and whether it still has to be evaluated."""
  steps, to_evaluate = [], []
  for registered in runs:
    run_dir = paths.join(experiment.model_dir, "runs", registered.plan.name)
    if paths.isfile(paths.join(run_dir, trainer.SUMMARY_FILE)):
      steps.append(0)
    else:
      # Examples, not packed rows: with TrainConfig.pack an upper bound (packing is not
      # repeated here just for an estimate).
      total = run_train_config(experiment, registered.plan).total_steps(
          kept[registered.plan.name])
      saved = checkpointing.saved_steps(paths.join(run_dir, trainer.CHECKPOINTS_DIR))
      steps.append(max(total - max(saved, default=0), 0))
    to_evaluate.append(not paths.isfile(paths.join(run_dir, "eval", "metrics.json")))
  return StudyEstimate(steps, to_evaluate)


def run_train_config(experiment: Experiment, plan) -> trainer.TrainConfig:
  """The run's TrainConfig: the study's, with the run's training seed where the design
  repeats runs over seeds (`StudyDesign.seeds`).

  Raises:
    UserInputError: seeds in the design and another TrainConfig.seed (one of them is ignored).
  """
  if plan.training_seed is None:
    return experiment.train
  if experiment.train.seed != 0:
    raise UserInputError(
        f"TrainConfig.seed={experiment.train.seed} with the study's seeds"
        f" {experiment.study.seeds}: the seeds of the design are the runs' training seeds;"
        " unset one of them")
  return dataclasses.replace(experiment.train, seed=plan.training_seed)


def _stop_if_preempted(preemption: threading.Event | None, where: str) -> None:
  """Between stages there is nothing to save: finished stages are on disk already."""
  if preemption is not None and preemption.is_set():
    raise Preempted(f"{where}; finished stages are kept")


def _evaluate_base(run_dir: str, config: EvaluationConfig,
                   preemption: threading.Event | None, stream) -> None:
  """Evaluates the base model the run started from into RUN_DIR/eval/base/, unless done."""
  if paths.isfile(paths.join(results_store.evaluation_dir(run_dir, "base"),
                             results_store.METRICS_FILE)):
    print("[base model] already evaluated; skipping", file=stream)
    return
  _stop_if_preempted(preemption, "preempted before evaluating the base model")
  start = time.perf_counter()
  evaluator.evaluate_run(run_dir, dataclasses.replace(config, checkpoint="base"), stream=stream)
  print(f"== base model evaluated in {format_duration(time.perf_counter() - start)}",
        file=stream, flush=True)


def run_experiment(experiment: Experiment, operative_config: str, stream=sys.stdout,
                   preemption: threading.Event | None = None) -> str:
  """Runs every stage; finished runs (train summary / metrics present) are not redone, an
  unfinished run with a checkpoint resumes from it, one without is moved aside and
  restarted. The lines that start and end each run state the study's ETA: per run still
  to train, the measured overhead of a run (set-up, compilation) plus its steps at the
  measured time per step, and the evaluations still to run at the measured time each.

  Raises:
    xlt_jax.training.preemption.Preempted: `preemption` was set: training saved a checkpoint
      first; a run's evaluation is not interrupted, the next stage does not start.

  In a multi-host run every process calls this; only the primary one writes files
  (orbax checkpoints are written by all, coordinated by orbax) and prints progress.

  Returns:
    The path of the report's report.md.
  """
  from tasks import mixtures, selection

  study_tasks = _evaluation_tasks(experiment.study)  # before any training: refused designs
  checkpoint_selection.check_rule(experiment.evaluation.selection,
                                  experiment.evaluation.selection_metric)
  if any(task["metric"] in task_metrics.JUDGED for task in study_tasks):
    evaluator.check_judge(experiment.evaluation)  # endpoint and key, before any training
  # P1's side-by-side judge: each language's reference run, found before any training.
  pairwise = pairwise_runs.plan_judging(experiment.study, experiment.evaluation.judge)
  starting_point.check_starting_point(experiment)
  base = None
  if experiment.base_checkpoint is not None:  # checked before anything is written
    base = base_checkpoint.open_base(experiment.base_checkpoint, experiment.model,
                                     experiment.train.chat_template)
  primary = distributed.is_primary_process()
  if not primary:
    stream = open(os.devnull, "w")  # progress is printed once, by the primary process
  model_dir = experiment.model_dir
  paths.makedirs(model_dir)
  distributed.check_shared_directory(model_dir)
  if primary:
    atomic_io.write_text(paths.join(model_dir, "operative_config.gin"), operative_config)
  cache_dir = experiment.train.compilation_cache_dir  # relative: under MODEL_DIR
  compile_cache.enable(None if cache_dir is None else paths.join(model_dir, cache_dir))
  data_dir = paths.absolute(_prepare_data(experiment, stream))
  if experiment.demo_base is not None:
    experiment, base = starting_point.build_demo_base_for(experiment, data_dir, stream)
  if base is not None:
    experiment, vocabulary = starting_point.start_from_base(experiment, base, stream)
    tokenizer_path = vocabulary.tokenizer_path
  else:
    tokenizer_path = paths.absolute(_prepare_tokenizer(experiment, data_dir, stream))
    vocabulary = load_vocabulary(tokenizer_path)
    if vocabulary.vocab_size > experiment.model.vocab_size:
      raise UserInputError(
          f"tokenizer {tokenizer_path} has {vocabulary.vocab_size} pieces but"
          f" ModelConfig.vocab_size is {experiment.model.vocab_size}"
      )
  runs = mixtures.register_study(experiment.study, data_dir, vocabulary,
                                 chat_family=experiment.train.chat_template)
  for registered in runs:  # a started run must keep training on the data it was planned on
    run_dir = paths.join(model_dir, "runs", registered.plan.name)
    saved = paths.join(run_dir, "manifest.json")
    if paths.isfile(saved):
      selection.check_manifest_file(saved)
    if not paths.isfile(paths.join(run_dir, trainer.SUMMARY_FILE)):
      # and with the settings it was started with: refused before any run trains and
      # before this launch's files replace the run's
      resume_guard.check_resume(run_dir, registered.plan.name, resume_guard.run_identity(
          experiment.model, experiment.optimizer, run_train_config(experiment, registered.plan),
          registered.manifest),
          experiment.train.allow_changed_resume, paths.join(run_dir, trainer.CHECKPOINTS_DIR))
  mixtures.register_evaluation_tasks(experiment.study, data_dir, vocabulary)
  mesh = sharding.make_mesh(experiment.mesh)
  english, seen, unseen = language_roles(experiment.study)
  # Counted before any run trains, so that a study losing examples says so up front.
  length_reports = {}
  for registered in runs:
    plan = registered.plan
    saved = paths.join(model_dir, "runs", plan.name, trainer.LENGTHS_FILE)
    lengths = run_train_config(experiment, plan).feature_lengths
    counted = json.loads(paths.read_text(saved)) if paths.isfile(saved) else {}
    if ("kept_examples" not in counted  # not counted yet (or by an older version)
        or (counted["inputs_length"], counted["targets_length"]) != (lengths.inputs,
                                                                    lengths.targets)):
      counted = length_policy.length_report(plan.mixture, plan.validation_mixture, lengths,
                                            registered.manifest)
    length_policy.check_something_fits(plan.name, counted, lengths)  # before any run trains
    length_reports[plan.name] = counted
  warnings = length_policy.length_warnings(length_reports, experiment.length_warning_fraction)
  for warning in warnings:
    print(f"warning: {warning}", file=stream, flush=True)
  study_record = {
      "study": experiment.study.name,
      "design": type(experiment.study).__name__,
      # The first task's, for readers of one-task studies; "tasks" lists every task.
      "dataset": study_tasks[0]["dataset"],
      "metric": study_tasks[0]["primary"],
      "tasks": study_tasks,
      "english": english,
      "seen_languages": list(seen),
      "unseen_languages": list(unseen),
      "budgets": sorted(getattr(experiment.study, "budgets", ())),
      # A mixture design's (P1-P4) runs are columns by name, with what each trains on.
      "runs": [{"name": r.plan.name, "run_dir": f"runs/{r.plan.name}",
                "seed": run_train_config(experiment, r.plan).seed,
                "train_examples": sum(r.plan.train_counts.values()),
                "kept_examples": length_reports[r.plan.name]["kept_examples"]}
               | ({"budget": r.plan.budget} if r.plan.budget is not None else
                  {"mixture": r.plan.name, "training_languages": list(r.plan.train_counts)})
               for r in runs],
      "length_warning_fraction": experiment.length_warning_fraction,
      "length_warnings": warnings,
  }
  if primary:
    atomic_io.write_json(paths.join(model_dir, "study.json"), study_record)
  estimate = _study_estimate(experiment, runs, {name: counted["kept_examples"]
                                                for name, counted in length_reports.items()})
  for index, registered in enumerate(runs, start=1):
    plan = registered.plan
    _stop_if_preempted(preemption, f"preempted before run {plan.name}")
    run_dir = paths.join(model_dir, "runs", plan.name)
    print(f"== run {index}/{len(runs)}: {plan.name} ({plan.train_counts}) | {estimate.describe()}",
          file=stream, flush=True)
    if primary:
      atomic_io.write_text(paths.join(run_dir, "operative_config.gin"), operative_config)
      atomic_io.write_json(paths.join(run_dir, "manifest.json"), registered.manifest)
      atomic_io.write_json(paths.join(run_dir, evaluator.RUN_FILE), {
          "run": plan.name,
          "budget": plan.budget,
          "design": type(experiment.study).__name__,
          "study": dataclasses.asdict(experiment.study),
          "model": dataclasses.asdict(experiment.model),
          "mesh": dataclasses.asdict(experiment.mesh),
          "data_dir": paths.absolute(data_dir),
          "tokenizer": paths.absolute(tokenizer_path),
          # What evaluation needs to render prompts as training did.
          "vocabulary": vocabularies.record(vocabulary),
          "sequence_start_ids": list(features.sequence_start_ids(vocabulary)),
          "chat_template": experiment.train.chat_template,
          # Adapters (rank > 0): checkpoints hold them alone, over the initial checkpoint.
          "lora": dataclasses.asdict(experiment.train.lora),
          "initial_checkpoint": experiment.train.initial_checkpoint,
          "base_checkpoint": experiment.base_checkpoint and {
              "source": paths.absolute(experiment.base_checkpoint),
              "parameters": experiment.train.initial_checkpoint},
          "mixture": plan.mixture,
          "validation_mixture": plan.validation_mixture,
      })
    took = {}  # stage -> seconds, of the stages this invocation ran
    if paths.isfile(paths.join(run_dir, trainer.SUMMARY_FILE)):
      print(f"[{plan.name}] already trained; skipping training", file=stream)
      estimate.trained(index - 1, steps=0, seconds=0.0)
    else:
      start = time.perf_counter()
      summary = trainer.train_run(  # resumes an unfinished attempt from its checkpoints
          run_dir=run_dir, run_name=plan.name, model_config=experiment.model,
          optimizer_config=experiment.optimizer, train_config=run_train_config(experiment, plan),
          mesh=mesh, mixture=plan.mixture, validation_mixture=plan.validation_mixture,
          num_train_examples=sum(plan.train_counts.values()), manifest=registered.manifest,
          preemption=preemption, stream=stream, lengths_counted=length_reports[plan.name],
      )
      took["training"] = time.perf_counter() - start
      estimate.trained(index - 1, steps=summary["steps"] - summary["resumed_from_step"],
                       seconds=took["training"],
                       seconds_after_first_step=summary["seconds_after_first_step"])
    if paths.isfile(paths.join(run_dir, "eval", "metrics.json")):
      print(f"[{plan.name}] already evaluated; skipping evaluation", file=stream)
      estimate.evaluated(index - 1, seconds=None)
    else:
      _stop_if_preempted(preemption, f"run {plan.name}: preempted before evaluation")
      start = time.perf_counter()
      evaluator.evaluate_run(run_dir, experiment.evaluation, stream=stream)
      took["evaluation"] = time.perf_counter() - start
      estimate.evaluated(index - 1, seconds=took["evaluation"])
    stages = ", ".join(f"{stage} {format_duration(seconds)}" for stage, seconds in took.items())
    print(f"== run {index}/{len(runs)}: {plan.name} done"
          + (f" in {format_duration(sum(took.values()))} ({stages})" if took else "")
          + f" | {estimate.describe()}", file=stream, flush=True)
  if experiment.evaluate_base and runs:
    _evaluate_base(paths.join(model_dir, "runs", runs[0].plan.name), experiment.evaluation,
                   preemption, stream)
  if not primary:
    return paths.join(model_dir, "report", "report.md")  # written by the primary process
  if pairwise is not None:  # every run is evaluated: compare them side by side
    _stop_if_preempted(preemption, "preempted before the side-by-side judge")
    pairwise_runs.judge_study(pairwise, model_dir, experiment.evaluation.judge_service, stream)
  return report.build_report(model_dir)["report"]
