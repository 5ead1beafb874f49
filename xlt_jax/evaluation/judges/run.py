"""The judges' entry point for the evaluator: predictions in, per-item verdicts and a
per-language summary out, and the files that keep them.

`judge_predictions(predictions, judge, client)` takes the evaluator's prediction records
(`id`, `language`, `prompt`, `prediction`; for `p1_pairwise` also `reference_prediction`, the
reference model's response to the same prompt, see `join_reference`) and returns
`JudgeResults`: `items` (one dict per record, every raw judge reply included; fields in
`pointwise` and `pairwise`) and `summary`, per language:

- pointwise: `items`, `scored`, `mean` and `sum` of the scores (P2 reports the sum over its
  50 questions), `wrong_language` (scored 1 by the rule), `unparsable`, `request_failed`;
- pairwise: `items`, `scored`, `wins`, `ties`, `losses`, `score_percent` (100 x the mean of
  1 / 0.5 / 0, P1's number), `unparsable`, `request_failed`.

Unscored items are counted, never averaged in. `judge_with_models` runs one protocol with
several judge models (P2: GPT-4-Turbo and Command R+). `write_results` writes
`<stem>.jsonl` (items) and `<stem>.summary.json` atomically.
"""

import collections
import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation.judges.pairwise import judge_pairwise
from xlt_jax.evaluation.judges.pointwise import judge_pointwise
from xlt_jax.evaluation.judges.protocols import PAIRWISE, JudgeConfig, resolve
from xlt_jax.services.chat_client import ChatClient

POINTWISE_FIELDS = ("id", "language", "prompt", "prediction")
PAIRWISE_FIELDS = (*POINTWISE_FIELDS, "reference_prediction")


@dataclasses.dataclass(frozen=True)
class JudgeResults:
  protocol: str
  prompt_version: str
  judge_model: str
  switch_aware: bool
  items: list[dict]
  summary: dict[str, dict]  # per language
  usage: dict  # the client's counts when judging ended (cumulative for the client)


def _check(predictions: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> None:
  for index, record in enumerate(predictions):
    missing = [field for field in fields if not isinstance(record.get(field), str)]
    if missing:
      raise UserInputError(f"prediction {index} (id {record.get('id')!r}) has no text in "
                           f"{', '.join(missing)}: the judge needs {', '.join(fields)}")


def join_reference(predictions: Sequence[Mapping[str, Any]],
                   reference_predictions: Sequence[Mapping[str, Any]]) -> list[dict]:
  """Each prediction with `reference_prediction`: the reference model's `prediction` for the
  same `id` (P1 compares with the model tuned on the evaluation language).

  Raises:
    UserInputError: an id the reference has no prediction for.
  """
  reference = {record["id"]: record["prediction"] for record in reference_predictions}
  missing = [record["id"] for record in predictions if record["id"] not in reference]
  if missing:
    raise UserInputError(f"the reference predictions have no item {missing[0]!r} "
                         f"({len(missing)} ids missing)")
  return [{**record, "reference_prediction": reference[record["id"]]} for record in predictions]


def summarize(items: Sequence[Mapping[str, Any]], kind: str) -> dict[str, dict]:
  """The per-language summary of judged items (see the module docstring)."""
  by_language = collections.defaultdict(list)
  for item in items:
    by_language[item["language"]].append(item)
  summary = {}
  for language in sorted(by_language):
    group = by_language[language]
    statuses = collections.Counter(item["status"] for item in group)
    scores = [item["score"] for item in group if item["score"] is not None]
    entry = {"items": len(group), "scored": len(scores),
             "unparsable": statuses["unparsable"], "request_failed": statuses["request_failed"]}
    if kind == PAIRWISE:
      verdicts = collections.Counter(item["verdict"] for item in group)
      entry.update(wins=verdicts["win"], ties=verdicts["tie"], losses=verdicts["loss"],
                   score_percent=100 * sum(scores) / len(scores) if scores else None)
    else:
      entry.update(mean=sum(scores) / len(scores) if scores else None, sum=sum(scores),
                   wrong_language=statuses["wrong_language"])
    summary[language] = entry
  return summary


def judge_predictions(predictions: Sequence[Mapping[str, Any]], judge: JudgeConfig,
                      client: ChatClient) -> JudgeResults:
  """Judges every prediction with `judge`'s protocol through `client` (see the module
  docstring for what goes in and comes out).

  Raises:
    UserInputError: a bad JudgeConfig, or a record without a needed text field.
  """
  protocol, switch_aware, params = resolve(judge)
  if protocol.kind == PAIRWISE:
    _check(predictions, PAIRWISE_FIELDS)
    items = judge_pairwise(predictions, protocol, params, judge.reasks, client)
  else:
    _check(predictions, POINTWISE_FIELDS)
    items = judge_pointwise(predictions, protocol, switch_aware, params, judge.reasks, client)
  return JudgeResults(protocol.name, protocol.prompt_version, client.config.model, switch_aware,
                      items, summarize(items, protocol.kind), client.usage().as_dict())


def judge_with_models(predictions: Sequence[Mapping[str, Any]], judge: JudgeConfig,
                      clients: Sequence[ChatClient]) -> dict[str, JudgeResults]:
  """`judge_predictions` once per judge model (P2 reports GPT-4-Turbo's and Command R+'s
  sums side by side), keyed by model name."""
  models = [client.config.model for client in clients]
  if len(set(models)) != len(models):
    raise UserInputError(f"judge models must differ, got {models}")
  return {client.config.model: judge_predictions(predictions, judge, client) for client in clients}


def results_stem(protocol: str, judge_model: str) -> str:
  """`judge-<protocol>-<model>`: the name `write_results` gives a judgment's files (the
  model's name with anything but letters, digits and `._-` replaced by `_`)."""
  return f"judge-{protocol}-{re.sub(r'[^A-Za-z0-9._-]+', '_', judge_model)}"


def write_results(directory: str, results: JudgeResults) -> str:
  """Writes `judge-<protocol>-<model>.jsonl` (items, raw replies included) and
  `.summary.json` beside it, atomically; returns the items file's path."""
  stem = results_stem(results.protocol, results.judge_model)
  items_path = paths.join(directory, stem + ".jsonl")
  meta = {field: getattr(results, field) for field in
          ("protocol", "prompt_version", "judge_model", "switch_aware", "summary", "usage")}
  atomic_io.write_jsonl(items_path, [
      {**item, "judge_model": results.judge_model, "prompt_version": results.prompt_version}
      for item in results.items])
  atomic_io.write_json(paths.join(directory, stem + ".summary.json"), meta)
  return items_path
