"""Predictions files that `python -m xlt_jax.score` reads: JSONL, one scored item a line.

Each non-blank line is a JSON object holding at least the fields a metric asks for, all
strings (ROUGE: `language`, `prediction`, `reference`); other fields are ignored. Any
problem (a missing file, a line that is not such an object, an unknown language, no items
at all) raises UserInputError naming the file and line: a metric on a partly read file
would be wrong without saying so. Metrics whose reference may sit under one of several
names, or be a list or a number, read it with `value` and report a bad one with
`line_error`, from the line numbers `read_numbered` gives.
"""

import json
import os
from collections.abc import Collection, Iterable

from xlt_jax.core.errors import UserInputError

Row = dict[str, str]


def _check_row(row: object, fields: tuple[str, ...],
               languages: Collection[str] | None) -> str | None:
  """What is wrong with one parsed line, or None."""
  if not isinstance(row, dict):
    return f"expected a JSON object, got {type(row).__name__}"
  missing = [field for field in fields if field not in row]
  if missing:
    return (f"missing field{'s' if len(missing) > 1 else ''} "
            + ", ".join(repr(field) for field in missing))
  for field in fields:
    if not isinstance(row[field], str):
      return f"field {field!r} is {type(row[field]).__name__}, not a string"
  if languages is not None and "language" in fields and row["language"] not in languages:
    return (f"unknown language {row['language']!r}; known: " + ", ".join(sorted(languages)))
  return None


def line_error(path: str, line_number: int, problem: str) -> UserInputError:
  """The error for a problem on one line, as every metric words it: "FILE:LINE: problem"."""
  return UserInputError(f"{path}:{line_number}: {problem}")


def value(path: str, line_number: int, row: Row, names: tuple[str, ...]) -> tuple[str, object]:
  """The first of `names` that `row` holds, and its value (any JSON type).

  Raises:
    UserInputError: the row holds none of them, naming file, line and the names.
  """
  for name in names:
    if name in row:
      return name, row[name]
  raise line_error(path, line_number, "missing field "
                   + " or ".join(repr(name) for name in names))


def read(path: str, fields: tuple[str, ...],
         languages: Collection[str] | None = None) -> list[Row]:
  """Every item of a predictions file, with its `fields` checked.

  Args:
    path: the JSONL file.
    fields: the string fields every line must have.
    languages: if given, the language codes the `language` field may hold.

  Returns:
    One dict per non-blank line, in file order (all of the line's fields).

  Raises:
    UserInputError: naming `path` and the line of the first problem.
  """
  return [row for _, row in read_numbered(path, fields, languages)]


def read_numbered(path: str, fields: tuple[str, ...],
                  languages: Collection[str] | None = None) -> list[tuple[int, Row]]:
  """`read`, with each item's line number (1-based), for errors found while scoring it."""
  if not os.path.isfile(path):
    raise UserInputError(f"{path}: no such predictions file")
  rows = []
  with open(path, "rb") as file:
    for line_number, raw_line in enumerate(file, start=1):
      try:
        line = raw_line.decode("utf-8")
      except UnicodeDecodeError:
        raise UserInputError(f"{path}:{line_number}: not UTF-8 text") from None
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError as error:
        raise UserInputError(f"{path}:{line_number}: not JSON ({error.msg})") from None
      problem = _check_row(row, fields, languages)
      if problem:
        raise line_error(path, line_number, problem)
      rows.append((line_number, row))
  if not rows:
    raise UserInputError(f"{path}: no predictions (the file has no JSON lines)")
  return rows


def mean_by_language(scored: Iterable[tuple[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
  """Per language, in sorted order, the mean of each score over that language's items.

  Args:
    scored: (language, {score name: value}) per item, every item of a language naming the
      same scores.
  """
  totals: dict[str, dict[str, float]] = {}
  counts: dict[str, int] = {}
  for language, scores in scored:
    language_totals = totals.setdefault(language, dict.fromkeys(scores, 0.0))
    for name, value in scores.items():
      language_totals[name] += value
    counts[language] = counts.get(language, 0) + 1
  return {language: {name: total / counts[language] for name, total in totals[language].items()}
          for language in sorted(totals)}
