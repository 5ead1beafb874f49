"""The official MGSM files: `mgsm_<lang>.tsv` (question TAB answer) and `exemplars.json`."""

import dataclasses
import json
import os
import re

from xlt_jax.errors import DataFormatError, UserInputError

_NUMERIC_ANSWER = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?|-?\d+(\.\d+)?")


@dataclasses.dataclass(frozen=True)
class MgsmRow:
  line_number: int  # 1-based line in the TSV
  question: str
  answer: str  # normalised number: no thousands separators


def read_mgsm_tsv(path: str) -> list[MgsmRow]:
  """Reads an MGSM-format TSV (no header). Every non-blank line must be a valid row.

  Raises:
    UserInputError: the file does not exist.
    DataFormatError: "<path>:<line>: ..." for a row with the wrong number of fields,
      an empty question or a non-numeric answer. No row is ever dropped silently.
  """
  if not os.path.isfile(path):
    raise UserInputError(f"data file {path} does not exist")
  rows = []
  with open(path, encoding="utf-8") as file:
    for line_number, line in enumerate(file, start=1):
      line = line.rstrip("\n").rstrip("\r")
      if not line.strip():
        continue
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
      rows.append(MgsmRow(line_number, question, answer.replace(",", "")))
  return rows


def read_exemplars(path: str) -> dict[str, list[tuple[str, str]]]:
  """language -> the 8 official (question, answer) exemplars, in order "1".."8"."""
  if not os.path.isfile(path):
    raise UserInputError(f"exemplar file {path} does not exist")
  try:
    with open(path, encoding="utf-8") as file:
      exemplars = json.load(file)["MGSM_EXEMPLARS"]
    return {
        language: [(shots[str(i)]["q"], shots[str(i)]["a"]) for i in range(1, 9)]
        for language, shots in exemplars.items()
    }
  except (json.JSONDecodeError, KeyError, TypeError) as error:
    raise DataFormatError(
        f"{path}: not the MGSM exemplar format (MGSM_EXEMPLARS[lang]['1'..'8'] with q and a):"
        f" {error!r}"
    ) from None


def _label(text: str) -> str:
  """The localised label that opens an exemplar ("Question:", "問題："), colon included."""
  match = re.match(r"[^:：]*[:：]", text)
  if not match:
    raise DataFormatError(f"exemplar {text[:40]!r} does not start with a label and a colon")
  return match.group()


def few_shot_prompt(exemplars: list[tuple[str, str]], question: str) -> str:
  """The native-language 8-shot chain-of-thought prompt of the MGSM paper.

  Format: each exemplar as "<q>\\n<a>" (q starts with the localised question label,
  a with the localised step-by-step answer label), exemplars separated by a blank
  line, then "<question label> <question>\\n<answer label>" for the test question
  (no space after a full-width colon).
  The labels are read off exemplar 1.
  """
  question_label, answer_label = _label(exemplars[0][0]), _label(exemplars[0][1])
  shots = "\n\n".join(f"{q}\n{a}" for q, a in exemplars)
  # Full-width colons (ja, zh) are not followed by a space in the exemplars.
  separator = "" if question_label.endswith("：") else " "
  return f"{shots}\n\n{question_label}{separator}{question}\n{answer_label}"
