"""AlpacaEval / AlpacaFarm evaluation instructions and their translations (P1, P3).

Layout (official files unchanged; translations as in P3's release):

    DATA_DIR/alpaca_eval/alpaca_eval.json                          English, official
    DATA_DIR/alpaca_eval/alpaca_eval_instructions_<lang>.json      translations
    DATA_DIR/alpaca_farm/alpaca_farm_evaluation.json               AlpacaFarm, official

each a JSON list of objects with `instruction` (AlpacaFarm adds `input`; both
carry the origin in `dataset`, e.g. "oasst", and a reference `output`).
Translated lists are parallel to the English one: ids "<task>:<position>"
(1-based) align across languages. AlpacaFarm drops OASST-origin instructions
(P1: 805 -> 617 with other exclusions), counted as filtered.
"""

import os

from tasks.formats import rows
from tasks.naming import task_name

LICENCE = "CC BY-NC 4.0 (AlpacaEval / AlpacaFarm)"
SOURCE_URL = "https://huggingface.co/datasets/tatsu-lab/alpaca_eval"
METRIC = "llm_judge"
SPLITS = ("test",)
LANGUAGES = ("en", "es", "fr", "de", "ru", "zh", "ja", "ar", "ko", "pt", "bg", "ca", "el",
             "hi", "is", "sv")
FARM_LANGUAGES = ("en",)
EXCLUDED_ORIGINS = ("oasst",)


def path(data_dir: str, language: str, split: str) -> str:
  del split
  if language == "en":
    return os.path.join(data_dir, "alpaca_eval", "alpaca_eval.json")
  return os.path.join(data_dir, "alpaca_eval", f"alpaca_eval_instructions_{language}.json")


def farm_path(data_dir: str, language: str, split: str) -> str:
  del language, split
  return os.path.join(data_dir, "alpaca_farm", "alpaca_farm_evaluation.json")


def _load(dataset: str, source: str, language: str, split: str, policy: rows.ReadPolicy,
          excluded: tuple[str, ...]) -> rows.LoadResult:
  name = task_name(dataset, language, split)
  problems = rows.RowProblems(policy, source)
  examples, dropped = [], 0
  for position, record in enumerate(rows.read_json_list(source, "instructions"), start=1):
    problems.seen()
    if not isinstance(record, dict) or rows.string_fields(record, ("instruction",)):
      problems.report(source, f"item {position}", "no non-empty 'instruction' string")
      continue
    if record.get("dataset") in excluded:
      dropped += 1
      continue
    prompt = record["instruction"].strip()
    if isinstance(record.get("input"), str) and record["input"].strip():
      prompt = f"{prompt}\n\n{record['input'].strip()}"
    reference = record.get("output") if isinstance(record.get("output"), str) else ""
    examples.append(rows.example(name, position, language, prompt, reference.strip()))
  filtered = {f"origin_{'_'.join(excluded)}": dropped} if excluded else {}
  return problems.result(examples, [source], filtered)


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "AlpacaEval")
  return _load("alpaca_eval", source, language, split, policy, ())


def load_farm(data_dir: str, language: str, split: str,
              policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(farm_path(data_dir, language, split), "AlpacaFarm evaluation")
  return _load("alpaca_farm", source, language, split, policy, EXCLUDED_ORIGINS)
