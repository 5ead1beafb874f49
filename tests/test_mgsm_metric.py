"""MGSM accuracy and invalid rate, on the official exemplars' own chain-of-thought answers.

The outside reference is MGSM itself (tests/data/mgsm/exemplars.json): each exemplar's
answer text ends by stating the number in EXEMPLAR_NUMBER_ANSWERS, so scoring the texts
against those numbers must give accuracy 1 in every language, and against any other
number 0. The extraction is the evaluation binary's (answers.py, checked in
tests/test_answers.py); this file checks the scoring around it.
"""

import json
import pathlib
import re
import subprocess
import sys

import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import answers, mgsm_accuracy
from xlt_jax.evaluation.mgsm_accuracy import Example

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


@pytest.fixture(scope="module")
def exemplars():
  with open(REPO_ROOT / "tests" / "data" / "mgsm" / "exemplars.json", encoding="utf-8") as file:
    return json.load(file)


def _examples(exemplars, shift: int = 0) -> list[Example]:
  numbers = exemplars["EXEMPLAR_NUMBER_ANSWERS"]
  return [Example(language, exemplars["MGSM_EXEMPLARS"][language][str(index + 1)]["a"],
                  str(numbers[index] + shift))
          for language in MGSM_LANGUAGES for index in range(8)]


def test_the_exemplars_own_answers_score_one_in_every_language(exemplars):
  scores = mgsm_accuracy.score_by_language(_examples(exemplars))
  assert scores == {language: {"accuracy": 1.0, "invalid": 0.0} for language in MGSM_LANGUAGES}


def test_any_other_number_scores_zero(exemplars):
  scores = mgsm_accuracy.score_by_language(_examples(exemplars, shift=1))
  assert all(score == {"accuracy": 0.0, "invalid": 0.0} for score in scores.values())


def test_it_scores_what_the_evaluation_binary_scores(exemplars):
  """evaluator.py counts answers_match(extract_number(text), answer) per language."""
  examples = _examples(exemplars) + [
      Example("ja", "答えは１，０００です。", "1000"), Example("es", "La respuesta es 3.0", "3"),
      Example("de", "Keine Ahnung.", "5"), Example("de", "7-5", "5")]
  scores = mgsm_accuracy.score_by_language(examples)
  for language in scores:
    mine = [example for example in examples if example.language == language]
    correct = sum(answers.answers_match(answers.extract_number(example.prediction), example.answer)
                  for example in mine)
    assert scores[language]["accuracy"] == correct / len(mine)


def test_invalid_is_the_share_without_any_number():
  scores = mgsm_accuracy.score_by_language([
      Example("sw", "Jibu ni 12.", "12"), Example("sw", "Sijui.", "12"),
      Example("sw", "Jibu ni kumi na mbili.", "12"), Example("sw", "Jibu ni 13.", "12")])
  assert scores == {"sw": {"accuracy": 0.25, "invalid": 0.5}}


def _write_jsonl(path: pathlib.Path, rows: list) -> str:
  path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                  encoding="utf-8")
  return str(path)


def test_score_file_reads_the_evaluation_binarys_predictions(tmp_path):
  """eval/predictions.jsonl as evaluator.py writes it; `reference` and JSON numbers too."""
  path = _write_jsonl(tmp_path / "predictions.jsonl", [
      {"id": "mgsm_es:1", "language": "es", "prompt": "...", "prediction": "La respuesta es 18.",
       "extracted": "18", "answer": "18", "correct": True},
      {"id": "mgsm_es:2", "language": "es", "prompt": "...", "prediction": "No lo sé.",
       "extracted": None, "answer": "1,000", "correct": False},
      {"language": "zh", "prediction": "答案是 1000。", "reference": 1000},
  ])
  assert mgsm_accuracy.score_file(path) == {"es": {"accuracy": 0.5, "invalid": 0.5},
                                            "zh": {"accuracy": 1.0, "invalid": 0.0}}


@pytest.mark.parametrize("row,message", [
    ({"language": "es", "prediction": "1"}, ":2: missing field 'answer' or 'reference'"),
    ({"language": "es", "prediction": "1", "answer": "doce"},
     ":2: field 'answer' is not a number: 'doce'"),
    ({"language": "es", "prediction": "1", "answer": True},
     ":2: field 'answer' is not a number: True"),
    ({"language": "es", "prediction": 1, "answer": "1"}, ":2: field 'prediction' is int"),
])
def test_bad_input_names_file_and_line(tmp_path, row, message):
  path = _write_jsonl(tmp_path / "predictions.jsonl",
                      [{"language": "es", "prediction": "1", "answer": "1"}, row])
  with pytest.raises(UserInputError, match=re.escape(path + message)):
    mgsm_accuracy.score_file(path)


def _run_binary(*arguments: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "xlt_jax.score", *arguments], check=False,
                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_binary_prints_accuracy_and_invalid_per_language(tmp_path, exemplars):
  rows = [{"language": example.language, "prediction": example.prediction,
           "answer": example.answer} for example in _examples(exemplars)]
  rows += [{"language": "th", "prediction": "ไม่ทราบ", "answer": "3"}]
  path = _write_jsonl(tmp_path / "predictions.jsonl", rows)
  result = _run_binary("mgsm", path, "--json")
  assert result.returncode == 0, result.stderr
  printed = json.loads(result.stdout)
  assert list(printed) == sorted(MGSM_LANGUAGES)
  assert printed["th"] == {"accuracy": 8 / 9, "invalid": 1 / 9}
  assert printed["en"] == {"accuracy": 1.0, "invalid": 0.0}
  bad = _write_jsonl(tmp_path / "bad.jsonl", [{"language": "th", "prediction": "1", "answer": "x"}])
  result = _run_binary("mgsm", bad)
  assert result.returncode == 2 and result.stdout == ""
  (line,) = result.stderr.splitlines()
  assert line == f"error: {bad}:1: field 'answer' is not a number: 'x'"


def test_binary_scores_the_chain_of_thought_styles_as_the_evaluator_does(tmp_path, exemplars):
  """`mgsm_cot`: the last number and lm-eval's exact match (the evaluator's cot_accuracy):
  the exemplars' own answers end with their number; "18.0" is not "18" there, and a
  completion that goes on past the answer is scored by its last number."""
  rows = [{"language": example.language, "prediction": example.prediction,
           "answer": example.answer} for example in _examples(exemplars)]
  rows += [{"language": "es", "prediction": "La respuesta es 18.0", "answer": "18"},
           {"language": "es", "prediction": "La respuesta es 18. Luego 20.", "answer": "18"},
           {"language": "es", "prediction": "no sé", "answer": "18"}]
  path = _write_jsonl(tmp_path / "predictions.jsonl", rows)
  result = _run_binary("mgsm_cot", path, "--json")
  assert result.returncode == 0, result.stderr
  printed = json.loads(result.stdout)
  assert printed["es"] == {"accuracy": 8 / 11, "invalid": 1 / 11}
  assert all(printed[language] == {"accuracy": 1.0, "invalid": 0.0}
             for language in MGSM_LANGUAGES if language != "es")
  native = json.loads(_run_binary("mgsm", path, "--json").stdout)
  assert native["es"] == {"accuracy": 10 / 11, "invalid": 1 / 11}  # the first after the phrase
