"""The inference and evaluation binary: decode every test prompt of a run, score each task
with its own metric, per language.

    python -m xlt_jax.evaluate --run_dir=MODEL_DIR/runs/budget00050 [--checkpoint=best]

Reads `run.json` (written by the launcher) for the model, vocabulary, chat template,
data and the study's test sets (one per task: `design.evaluation_sets()`), restores the
chosen checkpoint, decodes with the inference engine (`engine`: KV cache, length-bucketed
batches, greedy or sampled), and scores every item with its dataset's metric
(`task_metrics`): MGSM accuracy, XL-Sum ROUGE, SQuAD EM/F1, API-call exact match,
multiple choice and perplexity by log-likelihood (`choice_scoring`, `perplexity`), and for
judged tasks the configured judge's score or, without one, language fidelity. The
results store (`results_store`) keeps every item, resumes a killed evaluation, and
writes `eval/predictions.jsonl` and `eval/metrics.json`.
Prompts are rendered as training rendered them (`prompt_ids`): with the chat template
and its generation prompt when the run trained on one, else plain after the
sequence start (a pretrained tokenizer's BOS); decoding stops at EOS and at the chat
family's end-of-turn token, and the text is cut at the task's stop sequences.
"""

import collections
import dataclasses
import os
import sys
import time

import jax

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import (
  checkpoint_selection,
  choice_scoring,
  language_confusion,
  mgsm_prompts,
  perplexity,
  results_store,
  task_metrics,
)
from xlt_jax.evaluation.engine import InferenceEngine, SamplingParams
from xlt_jax.evaluation.judges import run as judging
from xlt_jax.evaluation.judges.protocols import PAIRWISE, JudgeConfig, resolve
from xlt_jax.evaluation.model_loading import (  # noqa: F401 (RUN_FILE: re-exported)
  RUN_FILE,
  read_run,
  restore_checkpoint_params,
  run_vocabulary,
  stop_ids,
)
from xlt_jax.models import chat_templates
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.services.chat_client import ChatClient, api_key_from
from xlt_jax.services.config import ChatServiceConfig
from xlt_jax.studies import designs, paper_designs
from xlt_jax.training import batches, checkpointing, distributed, features, sharding

# The `Dataset.metric` values this module scores.
SUPPORTED_METRICS = tuple(task_metrics.METRICS)
# Per metric, how long an answer may be and where it ends, unless EvaluationConfig says
# otherwise: chain-of-thought maths needs hundreds of tokens (MGSM's 8-shot prompts end
# each exemplar with a blank line, so one ends the answer); a summary is a sentence.
# The chain-of-thought styles (cot_accuracy) get 512 tokens: lm-eval's default cap is 256
# (P2; `max_new_tokens_by_task={'mgsm_5shot_cot': 256}` matches it), mCoT's 2048 (P4), and
# they end at the next question's label, as lm-eval's `until` does.
DEFAULT_MAX_NEW_TOKENS = {"accuracy": 512, "cot_accuracy": 512, "rouge_l": 128,
                          "squad_exact_match": 64, "api_call_exact_match": 128,
                          "llm_judge": 512,
                          "multiple_choice_accuracy": 0, "perplexity": 0}  # scored, not decoded
DEFAULT_STOP_SEQUENCES = {"accuracy": ("\n\n",), "cot_accuracy": mgsm_prompts.STOP_SEQUENCES}
# The designs a run.json can name (run.json's "design"; older runs are StudyDesigns).
DESIGNS = {design.__name__: design for design in (
    designs.StudyDesign, designs.MultiTaskDesign, paper_designs.PinchDesign,
    paper_designs.ConditionDesign, paper_designs.PolyglotDesign, paper_designs.ParallelDesign)}


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
  batch_size: int = 32  # prompts decoded together
  # Tokens generated per prompt, for every task; None: per task from
  # max_new_tokens_by_task, else the metric's DEFAULT_MAX_NEW_TOKENS.
  max_new_tokens: int | None = None
  max_new_tokens_by_task: dict = dataclasses.field(default_factory=dict)  # task -> tokens
  # task -> stop sequences (the text ends before the first); default per metric above.
  stop_sequences_by_task: dict = dataclasses.field(default_factory=dict)
  checkpoint: str = "best"  # "best" (by `selection`), "latest", a step, "all" or "base"
  # Which checkpoint is "best" (xlt_jax/evaluation/checkpoint_selection.py):
  # min_validation_loss (P0), min_validation_perplexity (P2), final (P3),
  # max_validation_score (P1, P4: decodes the run's validation examples at every kept
  # checkpoint, scored by the dataset's metric; judged datasets by selection_metric, e.g.
  # 'rouge_l' as P1 does).
  selection: str = "min_validation_loss"
  selection_metric: str | None = None
  # Decoding (vLLM's semantics, xlt_jax.evaluation.engine): temperature 0 is greedy. P1
  # samples with temperature 0.7 and top-p 0.9; P3 decodes near-greedily (0.001) with 3 seeds.
  temperature: float = 0.0
  top_p: float = 1.0
  top_k: int = 0  # 0: off
  seed: int = 0  # sampling seed (repeat an evaluation with other seeds for P3's spread)
  max_length: int = 4096  # prompt + new tokens must fit (the longest sequence decoded)
  # The judge of llm_judge tasks (instruction following, open-ended QA): its protocol and
  # the OpenAI-compatible endpoint that runs it (GPT-4o, a vLLM server, xlt_jax.serve).
  # None: those tasks get language fidelity only and say "judge": "not configured".
  judge: JudgeConfig | None = None
  judge_service: ChatServiceConfig | None = None

  def max_new_tokens_for(self, task: str, metric: str) -> int:
    if self.max_new_tokens is not None:
      return self.max_new_tokens
    return int(self.max_new_tokens_by_task.get(task, DEFAULT_MAX_NEW_TOKENS[metric]))

  def stop_sequences_for(self, task: str, metric: str) -> tuple[str, ...]:
    return tuple(self.stop_sequences_by_task.get(task, DEFAULT_STOP_SEQUENCES.get(metric, ())))


def prompt_ids(example: dict, vocabulary, chat_family: str | None,
               start_ids: tuple[int, ...]) -> list[int]:
  """An evaluation prompt as training rendered its examples.

  Args:
    example: from `batches.evaluation_examples` ("prompt" text, "prompt_tokens" with EOS).
    vocabulary: the run's vocabulary.
    chat_family: the run's TrainConfig.chat_template; None for plain prompts.
    start_ids: what plain sequences begin with (`features.sequence_start_ids`).

  Returns:
    With a chat family, the user turn and the assistant header
    (`apply_chat_template(..., add_generation_prompt=True)`); else start_ids, the
    prompt and its EOS, as in the first tokens of a training row.
  """
  if chat_family is None:
    return list(start_ids) + list(example["prompt_tokens"])
  return chat_templates.prompt_ids(
      chat_family, [{"role": "user", "content": example["prompt"]}], vocabulary.encode)


def sampling_params(config: EvaluationConfig, max_new_tokens: int,
                    stops: tuple[str, ...]) -> SamplingParams:
  """The engine's settings for one task: the config's decoding, the task's length and stops."""
  return SamplingParams(max_new_tokens=max_new_tokens, temperature=config.temperature,
                        top_p=config.top_p, top_k=config.top_k, stop=stops, seed=config.seed)

def check_judge(config: EvaluationConfig) -> bool:
  """Whether a judge is configured, checked before anything is trained.

  Raises:
    UserInputError: a judge without an endpoint, a bad JudgeConfig, or an API key missing
      from the environment (naming the variable and the binding).
  """
  if config.judge is None:
    return False
  if config.judge_service is None:
    raise UserInputError(
        "EvaluationConfig.judge is set but EvaluationConfig.judge_service is not: bind it to"
        " @ChatServiceConfig() with the endpoint's base_url and model")
  resolve(config.judge)
  api_key_from(config.judge_service, os.environ)
  return True


def is_pairwise(config: EvaluationConfig) -> bool:
  """Whether the judge compares runs side by side (P1): the launcher judges those after
  every run of the study is evaluated (`pairwise_runs`), the evaluator never does."""
  return config.judge is not None and resolve(config.judge)[0].kind == PAIRWISE


def judge_client(config: EvaluationConfig, eval_dir: str,
                 stream=sys.stderr) -> ChatClient | None:
  """The client of the configured pointwise judge (`check_judge`), or None when there is
  none or it is pairwise (it needs the other runs' predictions: `pairwise_runs`).
  Without a cache directory of its own it caches in EVAL_DIR/judge_cache/, so a rerun or a
  resumed evaluation repeats no paid request."""
  if not check_judge(config) or is_pairwise(config):
    return None
  service = config.judge_service
  if service.cache_dir is None:
    service = dataclasses.replace(service, cache_dir=paths.join(eval_dir, "judge_cache"))
  return ChatClient.from_environment(service, report_to=stream)


def design_of(run: dict):
  """The study design a run was planned by, rebuilt from run.json."""
  kind = run.get("design", "StudyDesign")
  if kind not in DESIGNS:
    raise UserInputError(f"run {run['run']}: unknown study design {kind!r} in run.json")
  return DESIGNS[kind](**{key: _tuples(v) for key, v in run["study"].items()})


def _tuples(value):
  """JSON's lists back into the designs' (possibly nested) tuples."""
  return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def _score_items(examples: list[dict], texts: list[str], task: str, language: str,
                 metric: task_metrics.Metric) -> list[dict]:
  items = []
  for example, text in zip(examples, texts):
    extracted, scores = metric.score(task_metrics.Item(language, example["prompt"], text,
                                                       example["answer"]))
    items.append({
        "id": example["id"], "task": task, "language": language, "prompt": example["prompt"],
        "prediction": text, "extracted": extracted, "answer": example["answer"],
        "scores": scores, "detected_language": language_confusion.detected_language(text),
    })
  return items


def _choice_items(context, params, config: EvaluationConfig, examples: list[dict],
                  prompts: list[list[int]], task: str, language: str) -> list[dict]:
  """Multiple-choice items scored by their choices' log-likelihoods (`choice_scoring`)."""
  engine = InferenceEngine(context.model, params, context.vocabulary, stop_ids=context.ends,
                           mesh=context.mesh, batch_size=config.batch_size)
  return [{"id": example["id"], "task": task, "language": language, "prompt": example["prompt"],
           "answer": example["answer"], "detected_language": None, **scored}
          for example, scored in zip(examples, choice_scoring.score_choices(engine, examples,
                                                                            prompts))]


def _judge_items(items: list[dict], judge: JudgeConfig, client: ChatClient) -> list[dict]:
  """The items with the judge's verdict (`judge`: status, rating, every raw reply) and, where
  it scored, `scores["judge_score"]`; unparsable or failed ones are counted, never scored."""
  results = judging.judge_predictions(items, judge, client)
  judged = []
  for item, verdict in zip(items, results.items):
    scores = dict(item["scores"])
    if verdict.get("score") is not None:
      scores["judge_score"] = float(verdict["score"])
    judged.append({**item, "scores": scores, "judge": {
        **verdict, "protocol": results.protocol, "prompt_version": results.prompt_version,
        "judge_model": results.judge_model}})
  return judged


def _task_summary(evaluation: designs.EvaluationSet, metric_name: str,
                  items_by_language: dict[str, list[dict]], judge: JudgeConfig | None,
                  client: ChatClient | None) -> dict:
  metric = task_metrics.get(metric_name)
  summary = {"dataset": evaluation.dataset, "metric": metric_name, "primary": metric.primary,
             "languages": {}}
  if metric_name in task_metrics.JUDGED and client is None and judge is not None:
    # P1's side-by-side judge: the launcher compares the runs once all are evaluated.
    summary["judge"] = f"{judge.protocol}: side by side in eval/pairwise/<REFERENCE>/"
  elif metric_name in task_metrics.JUDGED and client is None:
    summary["judge"] = "not configured"  # the judged score is missing, never made up
  elif metric_name in task_metrics.JUDGED:
    protocol, switch_aware, _ = resolve(judge)
    summary["primary"] = "judge_score"
    summary["judge"] = {"protocol": protocol.name, "prompt_version": protocol.prompt_version,
                        "model": client.config.model, "switch_aware": switch_aware,
                        "languages": {}}
    for language, items in items_by_language.items():
      statuses = collections.Counter(item["judge"]["status"] for item in items)
      summary["judge"]["languages"][language] = dict(sorted(statuses.items()))
  for language, items in items_by_language.items():
    summary["languages"][language] = {
        **task_metrics.language_scores(metric, (item["scores"] for item in items)),
        "count": len(items)}
  return summary


@dataclasses.dataclass(frozen=True)
class _RunContext:
  """What every checkpoint of a run is evaluated with."""

  run: dict
  vocabulary: object
  chat_family: str | None
  start_ids: tuple[int, ...]
  ends: tuple[int, ...]
  design: object
  registered: dict[str, dict[str, str]]  # task -> language -> seqio task
  metric_of: dict[str, str]  # task -> Dataset.metric
  model: Decoder
  mesh: jax.sharding.Mesh


def _run_context(run_dir: str) -> _RunContext:
  from tasks import mixtures  # the binary registers tasks; the library never does

  run = read_run(run_dir)
  vocabulary = run_vocabulary(run)
  chat_family = run.get("chat_template")
  design = design_of(run)
  return _RunContext(
      run=run, vocabulary=vocabulary, chat_family=chat_family,
      start_ids=tuple(run.get("sequence_start_ids", features.sequence_start_ids(vocabulary))),
      ends=stop_ids(vocabulary, chat_family), design=design,
      registered=mixtures.register_evaluation_tasks(design, run["data_dir"], vocabulary),
      metric_of={evaluation.task: mixtures.evaluation_metric(evaluation)
                 for evaluation in design.evaluation_sets()},
      model=Decoder(ModelConfig(**run["model"])),
      mesh=sharding.make_mesh(sharding.MeshConfig(**run["mesh"])))


def _base_params(context: _RunContext, run_dir: str):
  """The parameters the run started from (its converted base checkpoint)."""
  from xlt_jax.training import step_functions

  base = context.run.get("base_checkpoint")
  if not base:
    raise UserInputError(f"run {run_dir} was trained from scratch: it has no base checkpoint"
                         " to evaluate (checkpoint=base needs Experiment.base_checkpoint)")
  return step_functions.load_initial_params(base["parameters"], context.model.config, context.mesh)


def evaluate_run(run_dir: str, config: EvaluationConfig, stream=sys.stdout) -> dict:
  """Evaluates one run on every task of its study in every evaluation language; returns
  (and writes) the metrics. Finished (task, language) items of an earlier, killed
  evaluation with the same checkpoint and settings are read back, not decoded again.

  `config.checkpoint`: "best", "latest" or a step (results in RUN_DIR/eval/); "all",
  every kept checkpoint (eval/checkpoints/<step>/; returns {"steps": {step: metrics}}); "base",
  the un-fine-tuned base model the run started from (eval/base/).
  """
  context = _run_context(run_dir)
  checkpoints = paths.join(run_dir, "checkpoints")
  if config.checkpoint == "all":
    found = {}
    for step in checkpointing.saved_steps(checkpoints):
      _, params = restore_checkpoint_params(run_dir, context.run, str(step), context.model,
                                            context.mesh)
      found[step] = _evaluate_params(context, step, params, config, stream,
                                     results_store.evaluation_dir(run_dir, "all", step))
    if not found:
      raise UserInputError(f"no checkpoints in {checkpoints}")
    return {"steps": found}
  checkpoint_selection.check_rule(config.selection, config.selection_metric)
  if config.checkpoint == "base":
    step, params = 0, _base_params(context, run_dir)
  elif config.checkpoint == "best" and config.selection == "max_validation_score":
    step, params = _select_by_validation_score(context, run_dir, config, stream)
  else:
    which = (checkpoint_selection.RESTORE_NAME[config.selection] if config.checkpoint == "best"
             else config.checkpoint)
    step, params = restore_checkpoint_params(run_dir, context.run, which, context.model,
                                             context.mesh)
  return _evaluate_params(context, step, params, config, stream,
                          results_store.evaluation_dir(run_dir, config.checkpoint))


def _select_by_validation_score(context: _RunContext, run_dir: str, config: EvaluationConfig,
                                stream) -> tuple[int, object]:
  """(step, params) of the kept checkpoint with the best validation score; the scores of
  every checkpoint go to eval/selection.json."""
  sets = checkpoint_selection.validation_sets(run_dir, context.run["data_dir"],
                                              config.selection_metric)
  checkpoints = paths.join(run_dir, "checkpoints")
  steps = checkpointing.saved_steps(checkpoints)
  if not steps:
    raise UserInputError(f"no checkpoints in {checkpoints}")
  vocabulary, scores = context.vocabulary, {}
  for step in steps:
    _, params = restore_checkpoint_params(run_dir, context.run, str(step), context.model,
                                          context.mesh)
    engine = InferenceEngine(context.model, params, vocabulary, stop_ids=context.ends,
                             mesh=context.mesh, batch_size=config.batch_size,
                             max_length=config.max_length)

    def complete(validation: checkpoint_selection.ValidationSet, engine=engine) -> list[str]:
      prompts = [prompt_ids({"prompt": example["inputs"], "prompt_tokens":
                             list(vocabulary.encode(example["inputs"])) + [vocabulary.eos_id]},
                            vocabulary, context.chat_family, context.start_ids)
                 for example in validation.examples]
      decoding = sampling_params(
          dataclasses.replace(config, temperature=0.0),  # selection decodes greedily
          config.max_new_tokens_for(validation.dataset, validation.metric),
          config.stop_sequences_for(validation.dataset, validation.metric))
      return [completion.text for [completion] in engine.generate(prompts, decoding)]

    with jax.sharding.set_mesh(context.mesh), sharding.axis_rules():
      scores[step] = checkpoint_selection.validation_score(sets, complete)
    print(f"[select {context.run['run']}] step {step}: validation score"
          f" {scores[step]['score']:.4f}", file=stream, flush=True)
    del params, engine  # one checkpoint in memory at a time
  chosen = checkpoint_selection.choose(scores)
  if distributed.is_primary_process():
    atomic_io.write_json(paths.join(run_dir, results_store.EVAL_DIR, "selection.json"), {
        "rule": config.selection, "metric": config.selection_metric, "chosen_step": chosen,
        "scores": {str(step): score for step, score in scores.items()}})
  return restore_checkpoint_params(run_dir, context.run, str(chosen), context.model,
                                   context.mesh)


def _evaluate_params(context: _RunContext, step: int, params, config: EvaluationConfig, stream,
                     eval_dir: str) -> dict:
  run, vocabulary = context.run, context.vocabulary
  # What changes a prediction (not the batch size): a resumed evaluation must match it.
  settings = {"decoding": {"temperature": config.temperature, "top_p": config.top_p,
                           "top_k": config.top_k, "seed": config.seed},
              "chat_template": context.chat_family,
              "max_new_tokens": {task: config.max_new_tokens_for(task, metric)
                                 for task, metric in context.metric_of.items()},
              "stop_sequences": {task: list(config.stop_sequences_for(task, metric))
                                 for task, metric in context.metric_of.items()}}
  client = judge_client(config, eval_dir, stream)
  if client is not None:  # judged items are kept apart from unjudged ones
    protocol, switch_aware, request_params = resolve(config.judge)
    settings["judge"] = {"protocol": protocol.name, "prompt_version": protocol.prompt_version,
                         "model": client.config.model, "base_url": client.config.base_url,
                         "switch_aware": switch_aware, "params": request_params}
  setting = results_store.setting_name(step, settings)
  label = "base model" if config.checkpoint == "base" else f"step {step}"
  all_items, summaries = [], {}
  engine = InferenceEngine(context.model, params, vocabulary, stop_ids=context.ends,
                           mesh=context.mesh, batch_size=config.batch_size,
                           max_length=config.max_length)
  # A family without an end-of-turn token (Guanaco) ends its reply at its next turn's text.
  turn_stop = tuple(filter(None, [chat_templates.STOP_TEXT.get(context.chat_family)]))
  with jax.sharding.set_mesh(context.mesh), sharding.axis_rules():
    for evaluation in context.design.evaluation_sets():
      task, metric_name = evaluation.task, context.metric_of[evaluation.task]
      metric = task_metrics.get(metric_name)
      decoding = sampling_params(config, settings["max_new_tokens"][task],
                                 tuple(settings["stop_sequences"][task]) + turn_stop)
      items_by_language = {}
      for language, seqio_task in context.registered[task].items():
        start = time.perf_counter()
        examples = batches.evaluation_examples(seqio_task, evaluation.split)
        path = results_store.items_path(eval_dir, setting, task, language)
        items = results_store.read_items(path, [example["id"] for example in examples])
        if items is None and metric_name in task_metrics.LOGLIKELIHOOD:
          prompts = [prompt_ids(example, vocabulary, context.chat_family, context.start_ids)
                     for example in examples]
          items = _choice_items(context, params, config, examples, prompts, task, language)
          if distributed.is_primary_process():
            results_store.write_items(path, items)
          how = f"{time.perf_counter() - start:.1f}s"
        elif items is None and metric_name in task_metrics.ROLLING:
          items = perplexity.score_items(engine, examples, task, language)
          if distributed.is_primary_process():
            results_store.write_items(path, items)
          how = f"{time.perf_counter() - start:.1f}s"
        elif items is None:
          prompts = [prompt_ids(example, vocabulary, context.chat_family, context.start_ids)
                     for example in examples]
          texts = [completion.text for [completion] in engine.generate(prompts, decoding)]
          items = _score_items(examples, texts, task, language, metric)
          if metric_name in task_metrics.JUDGED and client is not None:
            items = _judge_items(items, config.judge, client)
          if distributed.is_primary_process():
            results_store.write_items(path, items)
          how = f"{time.perf_counter() - start:.1f}s"
        else:
          how = "read back from an earlier evaluation"
        items_by_language[language] = items
        all_items += items
        value = task_metrics.language_scores(
            metric, (item["scores"] for item in items)).get(metric.primary)
        shown = "n/a" if value is None else f"{value:.3f}"
        print(f"[eval {run['run']} {label}] {task} {language}: {metric.primary} {shown}"
              f" ({len(items)} items, {how})", file=stream, flush=True)
      summaries[task] = _task_summary(evaluation, metric_name, items_by_language, config.judge,
                                      client if metric_name in task_metrics.JUDGED else None)
  metrics = {
      "run": run["run"], "budget": run["budget"], "checkpoint": config.checkpoint,
      "selection": config.selection if config.checkpoint == "best" else None,
      "checkpoint_step": step, "tasks": summaries,
      "settings": settings | {"batch_size": config.batch_size},
      "seeds": {"study": run["study"].get("seed")},
      "packages": results_store.package_versions(), "git_commit": results_store.git_commit(),
  }
  if client is not None:
    metrics["judge_usage"] = client.usage().as_dict()
    client.close()  # prints the usage line
  if distributed.is_primary_process():  # every process decoded the same items; one writes
    results_store.write_results(eval_dir, all_items, metrics)
  distributed.wait_for_all_processes(f"{run['run']} {label} evaluated")
  return metrics
