"""AlpacaEval / AlpacaFarm evaluation instructions and their translations (P1, P3).

Layout (official files unchanged; translations as in P3's release):

    DATA_DIR/alpaca_eval/alpaca_eval.json                          English, official
    DATA_DIR/alpaca_eval/alpaca_eval_instructions_<lang>.json      translations (P3)
    DATA_DIR/alpaca_farm/alpaca_farm_evaluation.json               AlpacaFarm, official
    DATA_DIR/variants/<variant>/alpaca_farm/alpaca_farm_evaluation_<lang>.json
                                                                   its translations (P1)

The official files are each a JSON list of objects with `instruction` (AlpacaFarm
adds `input`; both carry the origin in `dataset`, e.g. "oasst", and a reference
`output`).

P3's translations (github.com/ZurichNLP/multilingual-instruction-tuning: files
data/alpaca_eval_instructions_<lang>.json for da de es no ru, and
data/alpaca_eval/alpaca_eval_instructions_<lang>.json for bg ca el fi fr hi hu is ko sv
vi zh) are, despite the .json name, JSON Lines: one `{"instruction": ...}` per line,
no other field. Many translated instructions are wrapped in literal quotes that the
English ones lack (the Spanish line 2 is the instruction `"¿Cómo obtuvieron los
estados de EE. UU. sus nombres?"`, quotes included), so one pair of quotes wrapping
a whole translated instruction is removed: ASCII `"..."`, or `“...”` as the Chinese
file writes them; quotes inside the text stay. Either format is accepted for any
file: a file whose first character is `[` is a JSON list, any other JSON Lines.

Translated lists are parallel to the English one: ids "<task>:<position>" (1-based
record number) align across languages. AlpacaFarm drops OASST-origin instructions
(P1: 805 -> 617 with other exclusions), counted as filtered.

P1's AlpacaFarm translations (Google Translate, into its 11 other languages) were never
released (P1 names no code or data release; see FARM_TRANSLATION_NOTE), so
`alpaca_farm_translated_google` reads the user's own translations, one file per language
in the official file's format and order (positions, hence ids, stay parallel to English;
`dataset` kept so the OASST-origin records drop out the same way).
"""

import json
import os
from typing import Any, Iterator

from tasks.formats import rows
from tasks.naming import task_name
from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError

LICENCE = "CC BY-NC 4.0 (AlpacaEval / AlpacaFarm)"
SOURCE_URL = "https://huggingface.co/datasets/tatsu-lab/alpaca_eval"
METRIC = "llm_judge"
SPLITS = ("test",)
# English, P3's translated languages and the studies' others (the user's translations).
LANGUAGES = ("en", "es", "fr", "de", "ru", "zh", "ja", "ar", "ko", "pt", "bg", "ca", "el",
             "hi", "is", "sv", "da", "fi", "hu", "no", "vi")
FARM_LANGUAGES = ("en",)
# P1 (Shaham et al.) evaluates on its Google translations of the AlpacaFarm set into its 11
# other languages (and the 5 Slavic ones of its section 4.1); they were never released.
P1_FARM_LANGUAGES = ("ar", "zh", "cs", "et", "fi", "he", "hi", "it", "ru", "es", "sw",
                     "sr", "hr", "sl", "pl", "sk")
FARM_TRANSLATION_NOTE = (
    "P1 (Shaham et al., 2024) never released its Google Translate translations of the"
    " AlpacaFarm evaluation set; translate alpaca_farm_evaluation.json yourself and put"
    " each language at DATA_DIR/variants/<variant>/alpaca_farm/alpaca_farm_evaluation_<lang>.json"
    " (the official JSON list format, every record in the English file's order, its"
    " `instruction` and `input` translated and its `dataset` kept), the layout `python -m xlt_jax.data"
    " translate alpaca_farm` is to write (issue 13), or copy such a folder in with"
    " `python -m xlt_jax.data prepare alpaca_farm_translated_google --source DIR`")
EXCLUDED_ORIGINS = ("oasst",)
TRANSLATION_FILE = "alpaca_eval_instructions_{}.json"
_WRAPPING_QUOTES = (('"', '"'), ("\u201c", "\u201d"))


def path(data_dir: str, language: str, split: str) -> str:
  del split
  if language == "en":
    return os.path.join(data_dir, "alpaca_eval", "alpaca_eval.json")
  return os.path.join(data_dir, "alpaca_eval", TRANSLATION_FILE.format(language))


def farm_path(data_dir: str, language: str, split: str) -> str:
  """The official English file, or a translation's `alpaca_farm_evaluation_<lang>.json`."""
  del split
  suffix = "" if language == "en" else f"_{language}"
  return os.path.join(data_dir, "alpaca_farm", f"alpaca_farm_evaluation{suffix}.json")


def unquote(text: str) -> str:
  """`text` without one pair of quotes wrapping all of it ('"Hi?"' -> 'Hi?')."""
  stripped = text.strip()
  for opening, closing in _WRAPPING_QUOTES:
    if len(stripped) >= 2 and stripped.startswith(opening) and stripped.endswith(closing):
      return stripped[len(opening):-len(closing)].strip()
  return stripped


def records(source: str, problems: rows.RowProblems) -> Iterator[tuple[int, Any]]:
  """(1-based position, record) of a JSON list or JSON Lines file, in order.

  Every record counts as a row (`problems.seen()`); a JSON Lines line that is not
  JSON is reported with its line number and keeps its position (so positions stay
  parallel across languages). Blank lines are not records.
  """
  with paths.open(source, "rb") as file:
    head = file.read(1 << 10).lstrip()
  if head.startswith(b"["):
    for position, record in enumerate(rows.read_json_list(source, "instructions"), start=1):
      problems.seen()
      yield position, record
    return
  position = 0
  with paths.open(source, "rb") as file:
    for line_number, raw_line in enumerate(file, start=1):
      if not raw_line.strip():
        continue
      position += 1
      problems.seen()
      try:
        yield position, json.loads(raw_line.decode("utf-8"))
      except (UnicodeDecodeError, json.JSONDecodeError) as error:
        problems.report(source, line_number, f"not a UTF-8 JSON line ({error})")


def _load(dataset: str, source: str, language: str, split: str, policy: rows.ReadPolicy,
          excluded: tuple[str, ...], quoted: bool = False) -> rows.LoadResult:
  name = task_name(dataset, language, split)
  problems = rows.RowProblems(policy, source)
  examples, dropped = [], 0
  for position, record in records(source, problems):
    if not isinstance(record, dict) or rows.string_fields(record, ("instruction",)):
      problems.report(source, f"item {position}", "no non-empty 'instruction' string")
      continue
    if record.get("dataset") in excluded:
      dropped += 1
      continue
    prompt = unquote(record["instruction"]) if quoted else record["instruction"].strip()
    if not prompt:
      problems.report(source, f"item {position}", "an instruction that is only quotes")
      continue
    if isinstance(record.get("input"), str) and record["input"].strip():
      prompt = f"{prompt}\n\n{record['input'].strip()}"
    reference = record.get("output") if isinstance(record.get("output"), str) else ""
    examples.append(rows.example(name, position, language, prompt, reference.strip()))
  filtered = {f"origin_{'_'.join(excluded)}": dropped} if excluded else {}
  return problems.result(examples, [source], filtered)


def load_translation(source: str, language: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """The examples of one translation file, wherever it is (preparation checks with it)."""
  return _load("alpaca_eval", source, language, "test", policy, (), quoted=True)


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """English from the official list; another language from P3's translation file, whose
  wrapping quotes are removed."""
  source = rows.require_file(path(data_dir, language, split), "AlpacaEval")
  return _load("alpaca_eval", source, language, split, policy, (), quoted=language != "en")


def load_farm(data_dir: str, language: str, split: str,
              policy: rows.ReadPolicy) -> rows.LoadResult:
  """The official English list, or a translation of it (see FARM_TRANSLATION_NOTE); either
  way the OASST-origin records are dropped by their `dataset`."""
  source = farm_path(data_dir, language, split)
  if language != "en" and not paths.isfile(source):
    raise UserInputError(f"AlpacaFarm evaluation in {language!r}: {source} does not exist."
                         f" {FARM_TRANSLATION_NOTE}")
  rows.require_file(source, "AlpacaFarm evaluation")
  return _load("alpaca_farm", source, language, split, policy, EXCLUDED_ORIGINS)
