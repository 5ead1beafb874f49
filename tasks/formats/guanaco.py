"""Guanaco (Dettmers et al., 2023): top-rated OASST conversations, per language (P3).

Layout, the official `timdettmers/openassistant-guanaco` files:

    DATA_DIR/guanaco/openassistant_best_replies_<train|eval>.jsonl

one {"text": "### Human: ...### Assistant: ...### Human: ..."} per line, with
an optional per-example language label `lang` (P3 labels conversations with
language ID). Our splits: train, test (= the release's eval). A conversation
belongs to language L when its label is L (py3langid's guess on the first
human turn when unlabelled) and py3langid gives L a probability of at least
`ReadPolicy.min_language_confidence` on that turn; the others are counted in
`filtered` (`other_language`, `low_language_confidence`).

inputs/targets are the first exchange; `conversation` is the whole dialogue
as JSON [{"role": "user"|"assistant", "content"}]. Ids "<task>:<line>".

Translated copies (tasks/variants.py) use the same format plus an optional
`parallel_id` per line: the line number, in the official file, of the English
conversation the line translates.
"""

import dataclasses
import json
import os
import re

from tasks.formats import language_id, rows
from tasks.naming import task_name

LICENCE = "Apache-2.0"
SOURCE_URL = "https://huggingface.co/datasets/timdettmers/openassistant-guanaco"
HUB_REPO = "timdettmers/openassistant-guanaco"
METRIC = "llm_judge"
SPLITS = ("train", "test")
LANGUAGES = ("en", "es", "ru", "de", "zh", "fr", "ca", "th", "pt", "it", "uk", "eu", "ja")
_OFFICIAL_SPLIT = {"train": "train", "test": "eval"}
_TURN = re.compile(r"### (Human|Assistant):")


def path(data_dir: str, language: str, split: str) -> str:
  del language
  return os.path.join(data_dir, "guanaco", f"openassistant_best_replies_{_OFFICIAL_SPLIT[split]}.jsonl")


def parse_text(text: str) -> list[dict[str, str]] | str:
  """The turns of a Guanaco `text`, or what is wrong with it."""
  pieces = _TURN.split(text)
  if pieces[0].strip():
    return "text before the first '### Human:'"
  turns = [{"role": "user" if speaker == "Human" else "assistant", "content": content.strip()}
           for speaker, content in zip(pieces[1::2], pieces[2::2])]
  roles = [turn["role"] for turn in turns]
  if not turns or roles[0] != "user" or roles[-1] != "assistant":
    return "not a Human-first conversation ending with an Assistant turn"
  if any(first == second for first, second in zip(roles, roles[1:])):
    return "two turns of the same speaker in a row"
  if any(not turn["content"] for turn in turns):
    return "an empty turn"
  return turns


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "Guanaco")
  name = task_name("guanaco", language, split)
  problems = rows.RowProblems(policy, source)
  examples = []
  filtered = {"other_language": 0, "low_language_confidence": 0}
  for line_number, row in rows.read_jsonl(source, problems):
    if not isinstance(row.get("text"), str):
      problems.report(source, line_number, "no string 'text'")
      continue
    turns = parse_text(row["text"])
    parallel = rows.parallel_id(row)
    if isinstance(turns, str) or isinstance(parallel, str):
      problems.report(source, line_number, turns if isinstance(turns, str) else parallel)
      continue
    guess, probability = language_id.identify(turns[0]["content"])
    label = row.get("lang") if isinstance(row.get("lang"), str) else guess
    if label != language:
      filtered["other_language"] += 1
      continue
    confidence = probability if guess == language else 0.0
    if confidence < policy.min_language_confidence:
      filtered["low_language_confidence"] += 1
      continue
    examples.append(rows.example(name, line_number, language, turns[0]["content"],
                                 turns[1]["content"],
                                 conversation=json.dumps(turns, ensure_ascii=False), **parallel))
  result = problems.result(examples, [source],
                           {"low_language_confidence": filtered["low_language_confidence"]})
  # rows_read counts this language's rows (and the malformed ones, whose language
  # is unknown), so rows_read = kept + malformed + filtered holds per task.
  return dataclasses.replace(result, rows_read=result.rows_read - filtered["other_language"],
                             tags={"other_language_rows": str(filtered["other_language"])})
