"""Generated stand-ins for P1-P4's datasets that P0's (`xlt_jax.data.p0_smoke`) do not cover,
written in each dataset's layout and format so that the paper designs' smoke studies
(`gin/smoke/p4_*.gin`) run end to end offline through the same readers as real data.

Content comes from the demo's templated word problems (`xlt_jax.data.demo`), in the demo
languages the dataset has:

- mAPICall-Bank (`tasks/formats/api_calling.py`; P4 releases regeneration scripts, so the
  layout is the reader's): `api_calling/<train|validation|test>/<lang>.jsonl`, one
  `{"id", "utterance", "apis": [{"name", "description", "parameters"}], "target": {"name",
  "arguments"}}` per line. The utterance asks for a problem's answer to be submitted; the
  target calls `SubmitAnswer(value=<answer>)` among three candidate APIs whose names and
  parameter keys stay English, as in P4. Item `i` of a split has id `<split>-<i>` in every
  language (a parallel item: the pools of `tasks/selection.py` join languages by it).
- Guanaco (`tasks/formats/guanaco.py`, P3): `guanaco/openassistant_best_replies_<train|eval>
  .jsonl`, one `{"text": "### Human: ...### Assistant: ...", "lang"}` per line, every
  language in one file as P3's labelled release has them; and its translated copy
  (`tasks/variants.py`) `variants/translated/guanaco/...`, each non-English line naming
  the English line it stands in for in `parallel_id`.
- AlpacaEval (`tasks/formats/alpaca_eval.py`): the official `alpaca_eval/alpaca_eval.json`
  list (`instruction, output, generator, dataset`) and P3's translations
  `alpaca_eval_instructions_<lang>.json`, JSON Lines of `{"instruction"}`.
- XQuAD (`tasks/formats/xquad.py`): `xquad/xquad.<lang>.json` in SQuAD v1.1 format; the
  context is a problem and its answer sentence, the answer span the number.
- X-CSQA (`tasks/formats/xcsqa.py`): the X-CSR release's `xcsqa/<folder>/<dev|test>.jsonl`
  (folder `jap` for ja), `{"id", "lang" (here the folder's name; the reader ignores it),
  "question": {"stem", "choices": [{"label", "text"}]}, "answerKey"}` per line, five choices A-E (the answer and four other numbers);
  dev is the validation items, test the test items without `answerKey`, as the release
  hides its test answers.
- XNLI (`tasks/formats/xnli.py`): `xnli/xnli.test.tsv` with XNLI-1.0's columns
  `language, gold_label, sentence1, sentence2, pairID`.
- P1's LIMA + OASST first turns (`tasks/formats/lima_oasst.py`): English half in LIMA's
  `lima/train.jsonl` (`{"conversations", "source"}`), half in OASST1's message table
  `oasst1/train.parquet` (`message_id, parent_id, text, role, lang, rank`: a root prompt
  and its rank-0 reply); translations `lima_oasst/<lang>/train.jsonl` keyed by
  `parallel_id` ("lima.<line>" / "oasst.<message_id>").
- AlpacaFarm's evaluation set (`tasks/formats/alpaca_eval.py`):
  `alpaca_farm/alpaca_farm_evaluation.json` (`instruction, input, output, dataset`) and
  the user's translations `variants/translated_google/alpaca_farm/
  alpaca_farm_evaluation_<lang>.json` in the same format and order.
"""

import csv
import io

import pyarrow
import pyarrow.parquet

from tasks.formats import xcsqa
from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo
from xlt_jax.evaluation import answers

# The demo's languages that mAPICall-Bank has (it has no ar, ko, pt).
LANGUAGES = ("en", "es", "fr", "ja", "zh")
# What this module writes; with p0_smoke's, a study of these needs no DATA_DIR.
DATASETS = ("api_calling", "guanaco", "guanaco_translated", "alpaca_eval", "xquad", "xcsqa",
            "xnli", "lima_oasst", "alpaca_farm", "alpaca_farm_translated_google")
# The demo's languages each dataset has (api_calling has no ar, ko, pt; XQuAD no fr, ja).
GUANACO_LANGUAGES = ("en", "es", "fr", "ja", "zh", "pt")
XQUAD_LANGUAGES = ("en", "es", "zh", "ar")
XCSQA_LANGUAGES = ("en", "es", "fr", "ja", "zh", "ar", "pt")
XNLI_LANGUAGES = ("en", "es", "fr", "zh", "ar")
ALPACA_EVAL_LANGUAGES = ("en", "es", "fr", "ja", "zh", "ar", "ko", "pt")
LIMA_OASST_LANGUAGES = FARM_LANGUAGES = ("en", "es", "zh", "ar")
_XNLI_LABELS = ("entailment", "neutral", "contradiction")
SPLITS = ("train", "validation", "test")
# Candidate APIs of every item (API-Bank's shape: name, description, parameters with types).
APIS = (
    {"name": "SubmitAnswer", "description": "Submit the numeric answer to a word problem.",
     "parameters": {"value": {"type": "int", "description": "The answer."}}},
    {"name": "Calculator", "description": "Evaluate an arithmetic formula.",
     "parameters": {"formula": {"type": "str", "description": "e.g. (1+2)*3"}}},
    {"name": "GetWeather", "description": "Today's weather in a city.",
     "parameters": {"city": {"type": "str", "description": "The city's name."}}},
)


def _api_rows(split: str, problems: list[tuple[str, int]]) -> list[dict]:
  return [{"id": f"{split}-{index}", "utterance": question, "apis": list(APIS),
           "target": {"name": "SubmitAnswer", "arguments": {"value": answer}}}
          for index, (question, answer) in enumerate(problems)]


def _guanaco_line(language: str, question: str, answer: int, **extra) -> dict:
  return {"text": f"### Human: {question}### Assistant: {answers.answer_sentence(language, answer)}",
          "lang": language, **extra}


def _write_guanaco(data_dir: str, problems: dict[str, list], sizes: dict[str, int]) -> None:
  for split, official, start in (("train", "train", 0), ("test", "eval", sizes["train"])):
    count = sizes["train"] if split == "train" else sizes["test"]
    lines = [_guanaco_line(language, *problem) for language in GUANACO_LANGUAGES
             for problem in problems[language][start:start + count]]
    atomic_io.write_jsonl(paths.join(data_dir, "guanaco",
                                     f"openassistant_best_replies_{official}.jsonl"), lines)
    # English lines come first (line n = English item n); each translation names its line.
    translated = [_guanaco_line(language, *problem, parallel_id=number)
                  for language in GUANACO_LANGUAGES if language != "en"
                  for number, problem in enumerate(problems[language][start:start + count], 1)]
    atomic_io.write_jsonl(paths.join(data_dir, "variants", "translated", "guanaco",
                                     f"openassistant_best_replies_{official}.jsonl"), translated)


def _write_alpaca_eval(data_dir: str, tests: dict[str, list]) -> None:
  for language in ALPACA_EVAL_LANGUAGES:
    if language == "en":
      atomic_io.write_json(paths.join(data_dir, "alpaca_eval", "alpaca_eval.json"), [
          {"instruction": question, "output": answers.answer_sentence(language, answer),
           "generator": "demo", "dataset": "helpful_base"} for question, answer in tests[language]])
    else:
      atomic_io.write_jsonl(
          paths.join(data_dir, "alpaca_eval", f"alpaca_eval_instructions_{language}.json"),
          [{"instruction": question} for question, _ in tests[language]])


def _write_xquad(data_dir: str, tests: dict[str, list]) -> None:
  for language in XQUAD_LANGUAGES:
    paragraphs = []
    for index, (question, answer) in enumerate(tests[language]):
      context = f"{question} {answers.answer_sentence(language, answer)}"
      paragraphs.append({"context": context, "qas": [{
          "id": f"q{index}", "question": question,
          "answers": [{"text": str(answer), "answer_start": context.rindex(str(answer))}]}]})
    atomic_io.write_json(paths.join(data_dir, "xquad", f"xquad.{language}.json"),
                         {"data": [{"title": "demo", "paragraphs": paragraphs}], "version": "1.1"})


def _xcsqa_rows(language: str, problems: list, answered: bool) -> list[dict]:
  """The items' X-CSR lines; the answer is choice A-E in turn, and `answered` False
  leaves out answerKey as the release's test split does."""
  lines = []
  for index, (question, answer) in enumerate(problems):
    position = index % 5
    numbers = [answer + offset for offset in (1, 2, 3, 4)]
    numbers.insert(position, answer)
    line = {"id": f"demo-{index}", "lang": xcsqa.folder(language), "question": {
        "stem": question, "choices": [{"label": label, "text": str(number)}
                                      for label, number in zip("ABCDE", numbers)]}}
    if answered:
      line["answerKey"] = "ABCDE"[position]
    lines.append(line)
  return lines


def _write_xcsqa(data_dir: str, validation: dict[str, list], tests: dict[str, list]) -> None:
  for language in XCSQA_LANGUAGES:
    for split, problems in (("validation", validation), ("test", tests)):
      atomic_io.write_jsonl(xcsqa.path(data_dir, language, split),
                            _xcsqa_rows(language, problems[language], split == "validation"))


def _write_xnli(data_dir: str, tests: dict[str, list]) -> None:
  text = io.StringIO()
  writer = csv.writer(text, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\",
                      lineterminator="\n")
  writer.writerow(("language", "gold_label", "sentence1", "sentence2", "pairID"))
  for language in XNLI_LANGUAGES:
    for index, (question, answer) in enumerate(tests[language]):
      writer.writerow((language, _XNLI_LABELS[index % 3], question,
                       answers.answer_sentence(language, answer), str(index)))
  atomic_io.write_text(paths.join(data_dir, "xnli", "xnli.test.tsv"), text.getvalue())


def _write_lima_oasst(data_dir: str, problems: dict[str, list]) -> None:
  english = problems["en"]
  half = len(english) // 2
  atomic_io.write_jsonl(paths.join(data_dir, "lima", "train.jsonl"), [
      {"conversations": [question, answers.answer_sentence("en", answer)], "source": "demo"}
      for question, answer in english[:half]])
  columns = {name: [] for name in ("message_id", "parent_id", "text", "role", "lang", "rank")}
  for index, (question, answer) in enumerate(english[half:]):
    for message_id, parent, text, role, rank in (
        (f"p{index}", None, question, "prompter", None),
        (f"r{index}", f"p{index}", answers.answer_sentence("en", answer), "assistant", 0)):
      for name, value in zip(columns, (message_id, parent, text, role, "en", rank)):
        columns[name].append(value)
  table = pyarrow.table({**columns, "rank": pyarrow.array(columns["rank"], pyarrow.float64())})
  atomic_io.write_atomically(paths.join(data_dir, "oasst1", "train.parquet"),
                             lambda file: pyarrow.parquet.write_table(table, file), mode="wb")
  keys = [f"lima.{line}" for line in range(1, half + 1)] + [
      f"oasst.p{index}" for index in range(len(english) - half)]
  for language in LIMA_OASST_LANGUAGES[1:]:
    atomic_io.write_jsonl(paths.join(data_dir, "lima_oasst", language, "train.jsonl"), [
        {"parallel_id": key, "conversations": [question, answers.answer_sentence(language, answer)]}
        for key, (question, answer) in zip(keys, problems[language])])


def _write_alpaca_farm(data_dir: str, tests: dict[str, list]) -> None:
  for language in FARM_LANGUAGES:
    records = [{"instruction": question, "input": "",
                "output": answers.answer_sentence(language, answer), "dataset": "helpful_base"}
               for question, answer in tests[language]]
    where = (("alpaca_farm", "alpaca_farm_evaluation.json") if language == "en" else
             ("variants", "translated_google", "alpaca_farm",
              f"alpaca_farm_evaluation_{language}.json"))
    atomic_io.write_json(paths.join(data_dir, *where), records)


def write_paper_smoke_datasets(data_dir: str, sizes: dict[str, int], seed: int = 0) -> None:
  """Writes every dataset of DATASETS under `data_dir` for LANGUAGES.

  Args:
    sizes: items per language for "train", "validation" and "test".

  Raises:
    UserInputError: a negative size, or more items than the demo templates produce.
  """
  if any(sizes.get(split, -1) < 0 for split in SPLITS):
    raise UserInputError(f"paper smoke data sizes must be >= 0 for {', '.join(SPLITS)}: {sizes}")
  total = sum(sizes[split] for split in SPLITS)
  problems = {language: demo.generate_problems(language, total, seed)
              for language in demo.DEMO_LANGUAGES}
  for language in LANGUAGES:
    start = 0
    for split in SPLITS:
      chunk = problems[language][start:start + sizes[split]]
      start += sizes[split]
      atomic_io.write_jsonl(paths.join(data_dir, "api_calling", split, f"{language}.jsonl"),
                            _api_rows(split, chunk))
  tests = {language: found[sizes["train"] + sizes["validation"]:]
           for language, found in problems.items()}
  _write_guanaco(data_dir, {language: found[:sizes["train"]] + tests[language]
                            for language, found in problems.items()},
                 {"train": sizes["train"], "test": sizes["test"]})
  _write_alpaca_eval(data_dir, tests)
  _write_xquad(data_dir, tests)
  _write_xcsqa(data_dir, {language: found[sizes["train"]:sizes["train"] + sizes["validation"]]
                          for language, found in problems.items()}, tests)
  _write_xnli(data_dir, tests)
  _write_lima_oasst(data_dir, {language: found[:sizes["train"]]
                               for language, found in problems.items()})
  _write_alpaca_farm(data_dir, tests)
