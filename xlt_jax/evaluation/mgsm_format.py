"""The official MGSM files: `mgsm_<lang>.tsv` (question TAB answer) and `exemplars.json`.

The generated demo task is written in the same TSV format, so both go through
`read_mgsm_tsv` and its checks.
"""

import dataclasses
import json
import os
import re

from xlt_jax.core import paths
from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.evaluation.answers import normalize_number

EXEMPLAR_IDS = tuple(str(number) for number in range(1, 9))

# An answer as MGSM writes it: ASCII digits, optional comma thousands groups
# ("114,200"), optional decimals.
_NUMERIC_ANSWER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", re.ASCII)

# The label that opens an exemplar ("Question:", "Question :", "問題："): the text
# up to and including the first ASCII or full-width colon, then the spacing
# that separates it from the text.
_LABEL = re.compile(r"([^:：\n]*[:：])([ \t]*)")


@dataclasses.dataclass(frozen=True)
class MgsmRow:
  """One question of an MGSM-format TSV.

  Attributes:
    line_number: 1-based line of the row in its file (stable example ids).
    question: the question text, surrounding whitespace removed.
    answer: the answer as a normalised number string ("114,200" -> "114200").
  """

  line_number: int
  question: str
  answer: str


def read_mgsm_tsv(path: str) -> list[MgsmRow]:
  """Reads an MGSM-format TSV: UTF-8, one `question<TAB>answer` per line, no header.

  Guarantees one MgsmRow per non-blank line, in file order: a line is either a
  valid row or an error, never dropped. Blank lines are allowed only at the end.

  Raises:
    UserInputError: the file does not exist.
    DataFormatError: "<path>:<line>: ..." for a line that is not valid UTF-8, has
      other than 2 tab-separated fields, an empty question or a non-numeric answer,
      or a blank line followed by more rows.
  """
  path = os.fspath(path)
  if not paths.isfile(path):
    raise UserInputError(f"MGSM data file {path} does not exist")
  with paths.open(path, "rb") as file:
    raw_lines = file.read().split(b"\n")
  rows = []
  first_blank_line = None
  for line_number, raw_line in enumerate(raw_lines, start=1):
    try:
      line = raw_line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as error:
      raise DataFormatError(f"{path}:{line_number}: not valid UTF-8 ({error.reason})") from None
    if line_number == 1:
      line = line.removeprefix("\ufeff")  # A byte-order mark some editors add.
    if not line.strip():
      first_blank_line = first_blank_line or line_number
      continue
    if first_blank_line is not None:
      # A blank line inside the file usually means a broken or concatenated file.
      raise DataFormatError(f"{path}:{first_blank_line}: blank line before the last row")
    fields = line.split("\t")
    if len(fields) != 2:
      raise DataFormatError(
          f"{path}:{line_number}: expected 2 tab-separated fields (question, answer),"
          f" found {len(fields)}"
      )
    question, answer = fields[0].strip(), fields[1].strip()
    if not question:
      raise DataFormatError(f"{path}:{line_number}: empty question")
    if not _NUMERIC_ANSWER.fullmatch(answer):
      raise DataFormatError(f"{path}:{line_number}: answer {answer!r} is not a number")
    rows.append(MgsmRow(line_number, question, normalize_number(answer)))
  return rows


class _ExemplarsByLanguage(dict):
  """language -> exemplars; a missing language is a DataFormatError naming the file."""

  def __init__(self, path: str, exemplars: dict[str, list[tuple[str, str]]]):
    super().__init__(exemplars)
    self.path = path

  def __missing__(self, language: str):
    raise DataFormatError(
        f"{self.path}: no exemplars for language {language!r}; it has"
        f" {', '.join(sorted(self))}"
    )


def read_exemplars(path: str) -> dict[str, list[tuple[str, str]]]:
  """Reads `exemplars.json`: language -> its 8 (question, answer) exemplars.

  The file is the official `mgsm/exemplars.py` converted to JSON with the same keys
  (`python -m xlt_jax.data prepare mgsm` writes it from the .py file).

  Guarantees each language maps to exactly 8 pairs of non-empty strings, in the
  order "1".."8" of `MGSM_EXEMPLARS[language]`. Looking up a language the file
  lacks raises DataFormatError naming the file and the languages it has.

  Raises:
    UserInputError: the file does not exist.
    DataFormatError: the file is not JSON, or not `{"MGSM_EXEMPLARS": {language:
      {"1".."8": {"q": str, "a": str}}}}`; the message names the path and the entry.
  """
  path = os.fspath(path)
  if not paths.isfile(path):
    raise UserInputError(f"MGSM exemplar file {path} does not exist")
  try:
    with paths.open(path, encoding="utf-8") as file:
      content = json.load(file)
  except json.JSONDecodeError as error:
    raise DataFormatError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
  except UnicodeDecodeError as error:
    raise DataFormatError(f"{path}: not valid UTF-8 ({error.reason})") from None
  return exemplars_from_object(content, path)


def exemplars_from_object(content: object, path: str) -> dict[str, list[tuple[str, str]]]:
  """The checked exemplars of a parsed exemplar file (`read_exemplars` has the contract).

  Args:
    content: the file's top-level object, e.g. {"MGSM_EXEMPLARS": {...}, ...}.
    path: the file it came from, named in errors.
  """
  if not isinstance(content, dict) or not isinstance(content.get("MGSM_EXEMPLARS"), dict):
    raise DataFormatError(f"{path}: expected a JSON object with an 'MGSM_EXEMPLARS' object")
  exemplars = {}
  for language, shots in content["MGSM_EXEMPLARS"].items():
    where = f"{path}: MGSM_EXEMPLARS[{language!r}]"
    if not isinstance(shots, dict):
      raise DataFormatError(f"{where} is not an object of exemplars '1'..'8'")
    pairs = []
    for exemplar_id in EXEMPLAR_IDS:
      shot = shots.get(exemplar_id)
      if shot is None:
        raise DataFormatError(f"{where} has no exemplar {exemplar_id!r}")
      for field in ("q", "a"):
        if not isinstance(shot, dict) or not isinstance(shot.get(field), str) or not shot[field]:
          raise DataFormatError(f"{where}[{exemplar_id!r}] has no non-empty string {field!r}")
      pairs.append((shot["q"], shot["a"]))
    exemplars[language] = pairs
  return _ExemplarsByLanguage(path, exemplars)


def _split_label(text: str, what: str) -> tuple[str, str]:
  """(label, spacing after it) of an exemplar text that opens with "<label>:"."""
  match = _LABEL.match(text)
  if not match:
    raise DataFormatError(f"{what} {text[:40]!r} does not open with a label ending in ':'")
  return match.group(1), match.group(2)


def exemplar_labels(exemplars: list[tuple[str, str]]) -> tuple[str, str]:
  """(question label, answer label) of a language, read off its first exemplar.

  Each label is the text up to and including the first ':' or '：', e.g.
  ("Question:", "Step-by-Step Answer:"), ("Question :", "Réponse étape par étape :"),
  ("問題：", "ステップごとの答え：").

  Raises:
    UserInputError: no exemplars.
    DataFormatError: exemplar 1's question or answer has no such label.
  """
  if not exemplars:
    raise UserInputError("few-shot prompt needs at least one exemplar, got none")
  question, answer = exemplars[0]
  return _split_label(question, "exemplar question")[0], _split_label(answer, "exemplar answer")[0]


def few_shot_prompt(exemplars: list[tuple[str, str]], question: str) -> str:
  """The native-language chain-of-thought few-shot prompt of the MGSM paper.

  Exact format, with q_i / a_i the exemplars as given (each q_i already opens
  with the localised question label, each a_i with the localised step-by-step
  answer label):

      {q_1}\\n{a_1}\\n\\n{q_2}\\n{a_2}\\n\\n ... {q_n}\\n{a_n}\\n\\n{Q}{s}{question}\\n{A}

  where Q and A are the question and answer labels of exemplar 1 (see
  `exemplar_labels`) and s is the spacing that follows Q in exemplar 1 (" " for
  "Question: ...", "" after a full-width colon as in "問題：..."). The prompt ends
  with the answer label and no trailing space: the model writes the reasoning.

  Raises:
    UserInputError: no exemplars, or an empty question.
    DataFormatError: exemplar 1 has no labels.
  """
  question_label, answer_label = exemplar_labels(exemplars)
  if not question.strip():
    raise UserInputError("few-shot prompt needs a non-empty test question")
  spacing = _split_label(exemplars[0][0], "exemplar question")[1]
  shots = "\n\n".join(f"{exemplar_question}\n{exemplar_answer}"
                      for exemplar_question, exemplar_answer in exemplars)
  return f"{shots}\n\n{question_label}{spacing}{question}\n{answer_label}"
