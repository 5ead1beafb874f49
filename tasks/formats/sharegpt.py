"""ShareGPT prompts with completions from the user's own generator (P0: Command-R+).

Layout:

    DATA_DIR/sharegpt/<split>/<lang>.json
        the official ShareGPT format: a JSON list of
        {"id": str, "conversations": [{"from": "system"|"human"|"gpt", "value": str}, ...]}
    DATA_DIR/sharegpt/<split>/<lang>.completions.jsonl      (optional)
        one {"id": str, "turn": int, "completion": str} per line: the generator's
        answer to human turn `turn` (0-based) of conversation `id`

Without a completions file the conversations must already be complete (each
human turn answered by the gpt turn after it). With one, the assistant turns of
the JSON are replaced by the completions: every human turn needs exactly one
completion, a missing one is a malformed conversation naming id and turn, and a
completion for an unknown conversation or turn is an error.

An example's inputs/targets are the first human turn and its answer (the
prompt/target pipeline); `conversation` holds the whole dialogue as JSON,
[{"role": "system"|"user"|"assistant", "content": str}, ...], for multi-turn
training with assistant-only loss. `answer` is empty (judged, not matched).
Ids are "<task>:<position in the list>" (1-based).
"""

import json
import os
from typing import Any

from tasks.formats import rows
from tasks.naming import task_name
from xlt_jax.core import paths
from xlt_jax.core.errors import DataFormatError

LICENCE = "prompts: no clear licence (sharegpt.com); completions: the user's generator's terms"
SOURCE_URL = "https://huggingface.co/datasets/anon8231489123/ShareGPT_Vicuna_unfiltered"
HUB_REPO = "anon8231489123/ShareGPT_Vicuna_unfiltered"
HUB_FILE = "ShareGPT_V3_unfiltered_cleaned_split.json"
METRIC = "llm_judge"
SPLITS = ("train", "validation", "test")
LANGUAGES = ("en", "es", "fr", "ja", "zh", "ar", "ko", "pt", "de", "ru")
ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant",
         "chatgpt": "assistant", "assistant": "assistant"}


def path(data_dir: str, language: str, split: str) -> str:
  return os.path.join(data_dir, "sharegpt", split, f"{language}.json")


def completions_path(data_dir: str, language: str, split: str) -> str:
  return os.path.join(data_dir, "sharegpt", split, f"{language}.completions.jsonl")


def parse_turns(record: Any) -> tuple[str, list[dict[str, str]]] | str:
  """(id, turns as role/content) of one ShareGPT record, or what is wrong with it."""
  if not isinstance(record, dict) or not isinstance(record.get("conversations"), list):
    return "not an object with a 'conversations' list"
  conversation_id = record.get("id")
  if not isinstance(conversation_id, (str, int)) or str(conversation_id) == "":
    return "no 'id'"
  turns = []
  for number, turn in enumerate(record["conversations"]):
    if not isinstance(turn, dict) or turn.get("from") not in ROLES:
      return f"turn {number} has no 'from' in {sorted(ROLES)}"
    if not isinstance(turn.get("value"), str):
      return f"turn {number} has no string 'value'"
    turns.append({"role": ROLES[turn["from"]], "content": turn["value"]})
  return str(conversation_id), turns


def _read_completions(source: str, problems: rows.RowProblems) -> dict[tuple[str, int], str]:
  completions: dict[tuple[str, int], str] = {}
  where: dict[tuple[str, int], int] = {}
  with paths.open(source, "rb") as file:
    for line_number, raw_line in enumerate(file, start=1):
      if not raw_line.strip():
        continue
      try:
        row = json.loads(raw_line.decode("utf-8"))
      except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataFormatError(f"{source}:{line_number}: not a JSON line ({error})") from None
      if (not isinstance(row, dict) or not isinstance(row.get("id"), (str, int))
          or not isinstance(row.get("turn"), int) or not isinstance(row.get("completion"), str)):
        raise DataFormatError(f"{source}:{line_number}: expected {{\"id\": str, \"turn\": int,"
                              f" \"completion\": str}}")
      key = (str(row["id"]), row["turn"])
      if key in where:
        raise DataFormatError(f"{source}:{line_number}: second completion for conversation"
                              f" {key[0]!r} turn {key[1]} (first at line {where[key]})")
      where[key] = line_number
      completions[key] = row["completion"]
  return completions


def _join(turns: list[dict[str, str]], conversation_id: str,
          completions: dict[tuple[str, int], str], used: set) -> list[dict[str, str]] | str:
  """The conversation with each human turn followed by its completion, or what is missing."""
  joined, human_turn = [], 0
  for turn in turns:
    if turn["role"] == "assistant":
      continue  # replaced by the generator's completion
    joined.append(turn)
    if turn["role"] == "user":
      key = (conversation_id, human_turn)
      if key not in completions:
        return f"conversation {conversation_id!r} has no completion for human turn {human_turn}"
      joined.append({"role": "assistant", "content": completions[key]})
      used.add(key)
      human_turn += 1
  return joined


def _check_complete(turns: list[dict[str, str]]) -> str | None:
  dialogue = [turn["role"] for turn in turns if turn["role"] != "system"]
  if not dialogue or dialogue[0] != "user":
    return "does not open with a human turn"
  if dialogue[-1] != "assistant":
    return "ends without an answer to its last human turn (no completion)"
  for first, second in zip(dialogue, dialogue[1:]):
    if first == second:
      return f"two {first} turns in a row"
  if any(not turn["content"].strip() for turn in turns):
    return "has an empty turn"
  return None


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """Conversations joined with their completions; see the module docstring."""
  source = rows.require_file(path(data_dir, language, split), "ShareGPT")
  records = rows.read_json_list(source, "conversations")
  sources = [source]
  completions_file = completions_path(data_dir, language, split)
  completions = None
  if paths.isfile(completions_file):
    sources.append(completions_file)
    completions = _read_completions(completions_file, rows.RowProblems(policy, completions_file))
  name = task_name("sharegpt", language, split)
  problems = rows.RowProblems(policy, source)
  examples, used, known_ids, joined_ids = [], set(), set(), set()
  for position, record in enumerate(records, start=1):
    problems.seen()
    where = f"conversation {position}"
    parsed = parse_turns(record)
    if isinstance(parsed, str):
      problems.report(source, where, parsed)
      continue
    conversation_id, turns = parsed
    known_ids.add(conversation_id)
    if completions is not None:
      turns = _join(turns, conversation_id, completions, used)
      if isinstance(turns, str):
        problems.report(completions_file, where, turns)
        continue
      joined_ids.add(conversation_id)
    problem = _check_complete(turns)
    if problem:
      problems.report(source, f"{where} (id {conversation_id!r})", problem)
      continue
    dialogue = [turn for turn in turns if turn["role"] != "system"]
    examples.append(rows.example(
        name, position, language, dialogue[0]["content"], dialogue[1]["content"], "",
        conversation=json.dumps(turns, ensure_ascii=False)))
  if completions is not None:
    unknown = sorted(key for key in completions if key not in used and key[0] not in known_ids)
    if unknown:
      raise DataFormatError(
          f"{completions_file}: {len(unknown)} completions name conversations that {source}"
          f" does not have (first: id {unknown[0][0]!r} turn {unknown[0][1]})")
    extra = sorted(key for key in completions if key not in used and key[0] in joined_ids)
    if extra:
      raise DataFormatError(
          f"{completions_file}: completion for conversation {extra[0][0]!r} turn"
          f" {extra[0][1]}, which has no such human turn ({len(extra)} such completions)")
  return problems.result(examples, sources)
