"""API calling (P4's mAPICall-Bank, from API-Bank): utterance + candidate APIs -> one call.

P4 releases regeneration scripts, not files, so the layout is ours:

    DATA_DIR/api_calling/<train|validation|test>/<lang>.jsonl

one {"id": str, "utterance": str, "apis": [{"name": str, "description": str,
"parameters": {...}}, ...], "target": {"name": str, "arguments": {str: value}}}
per line; `id` is shared by the translations of one item (parallel). inputs
are the utterance then the candidate APIs as JSON; targets the call written
`Name(key=value, ...)` (values as JSON, keys sorted); answer the canonical JSON
{"name", "arguments"} that the exact-match metric compares (name, every
argument name and value). Ids "<task>:<id>".
"""

import json
import os

from tasks.formats import rows
from tasks.naming import task_name

LICENCE = "as the user's regenerated data (API-Bank: MIT)"
SOURCE_URL = "https://github.com/AlibabaResearch/DAMO-ConvAI/tree/main/api-bank"
METRIC = "api_call_exact_match"
SPLITS = ("train", "validation", "test")
LANGUAGES = ("en", "es", "fr", "de", "ru", "zh", "ja", "sw", "bn", "te", "th")


def path(data_dir: str, language: str, split: str) -> str:
  return os.path.join(data_dir, "api_calling", split, f"{language}.jsonl")


def call_text(name: str, arguments: dict) -> str:
  """E.g. ("GetWeather", {"city": "Paris"}) -> 'GetWeather(city="Paris")'."""
  return f"{name}(" + ", ".join(f"{key}={json.dumps(arguments[key], ensure_ascii=False)}"
                                for key in sorted(arguments)) + ")"


def _problem(row: dict) -> str | None:
  if rows.string_fields(row, ("id", "utterance")):
    return "needs non-empty string 'id' and 'utterance'"
  apis = row.get("apis")
  if not isinstance(apis, list) or not apis or not all(
      isinstance(api, dict) and isinstance(api.get("name"), str) for api in apis):
    return "'apis' must be a non-empty list of objects with a 'name'"
  target = row.get("target")
  if not isinstance(target, dict) or not isinstance(target.get("name"), str) or not isinstance(
      target.get("arguments"), dict):
    return "'target' must be {\"name\": str, \"arguments\": object}"
  if target["name"] not in [api["name"] for api in apis]:
    return f"target API {target['name']!r} is not among the candidate APIs"
  return None


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "API-calling")
  name = task_name("api_calling", language, split)
  problems = rows.RowProblems(policy, source)
  examples, seen_ids = [], {}
  for line_number, row in rows.read_jsonl(source, problems):
    problem = _problem(row)
    if not problem and row["id"] in seen_ids:
      problem = f"id {row['id']!r} already used at line {seen_ids[row['id']]}"
    if problem:
      problems.report(source, line_number, problem)
      continue
    seen_ids[row["id"]] = line_number
    target = row["target"]
    prompt = (f"{row['utterance'].strip()}\n\nAPIs:\n"
              + json.dumps(row["apis"], ensure_ascii=False, sort_keys=True))
    answer = json.dumps({"name": target["name"], "arguments": target["arguments"]},
                        ensure_ascii=False, sort_keys=True)
    examples.append(rows.example(name, row["id"], language, prompt,
                                 call_text(target["name"], target["arguments"]), answer))
  return problems.result(examples, [source])
