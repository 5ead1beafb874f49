"""What every format reader shares: malformed-row accounting, JSON lines, file digests.

A malformed row is never dropped silently. Readers report each one with its file
and line to a `RowProblems`; a load fails with DataFormatError when the malformed
share of a file exceeds `ReadPolicy.max_malformed_fraction`, and otherwise the
count and the first problems are kept in the load's provenance.

Nor does a language silently come out empty: a reader that keeps the rows of one
language by a field of the file (OASST1's `lang`, the Aya files' language codes,
XNLI's `language`, Guanaco's label) counts that field's values in a `LanguageField`,
whose `check` fails with DataFormatError naming the file and the values it saw when
no row was of the language (e.g. a release that writes "pt-BR" where "pt" was looked
for).
"""

import collections
import dataclasses
import hashlib
import json
import logging
from typing import Any, Iterator

from xlt_jax.core import paths
from xlt_jax.core.errors import DataFormatError, UserInputError

# How many file:line problems an error message or a provenance record quotes.
QUOTED_PROBLEMS = 5


@dataclasses.dataclass(frozen=True)
class ReadPolicy:
  """How strict a reader is.

  Attributes:
    max_malformed_fraction: the largest share of malformed rows a load tolerates
      (0.001 = 0.1%, the default: none in a 250-row test set, up to 580 of
      mCoT-MATH's 580K rows of a language). Tolerated rows are counted in the
      provenance and logged, never silently dropped. 0 makes any bad row fatal.
    min_language_confidence: Guanaco's language-ID filter keeps a conversation
      only when py3langid's normalised probability of its labelled language is
      at least this (P3 filters at 0.8 with OpenLID).
  """

  max_malformed_fraction: float = 0.001
  min_language_confidence: float = 0.8

  def __post_init__(self):
    if not 0.0 <= self.max_malformed_fraction < 1.0:
      raise UserInputError(
          f"max_malformed_fraction must be in [0, 1), got {self.max_malformed_fraction}")
    if not 0.0 <= self.min_language_confidence <= 1.0:
      raise UserInputError(
          f"min_language_confidence must be in [0, 1], got {self.min_language_confidence}")


DEFAULT_POLICY = ReadPolicy()


@dataclasses.dataclass
class LoadResult:
  """One dataset x language x split as read, with what its provenance needs.

  Attributes:
    examples: the kept examples, in file order (dicts of strings).
    sources: every file read.
    rows_read: rows seen in the sources that belong to this language x split.
    malformed: rows that did not follow the format (reported, not kept).
    problems: the first few malformed rows as "file:line: what".
    filtered: rows left out on purpose, by reason (e.g. language-ID confidence).
    tags: facts about the source a manifest should carry (e.g. who translated it).
  """

  examples: list[dict[str, str]]
  sources: list[str]
  rows_read: int
  malformed: int = 0
  problems: list[str] = dataclasses.field(default_factory=list)
  filtered: dict[str, int] = dataclasses.field(default_factory=dict)
  tags: dict[str, str] = dataclasses.field(default_factory=dict)


class RowProblems:
  """Collects malformed rows of one load and enforces the policy's threshold."""

  def __init__(self, policy: ReadPolicy, what: str):
    self.policy = policy
    self.what = what
    self.count = 0
    self.rows = 0  # rows seen, well-formed or not
    self.quoted: list[str] = []

  def seen(self) -> None:
    """Counts one row of this load (call once per row, before checking it)."""
    self.rows += 1

  def report(self, path: str, line: int | str, message: str) -> None:
    """Records one malformed row: `path:line: message`."""
    self.count += 1
    if len(self.quoted) < QUOTED_PROBLEMS:
      self.quoted.append(f"{path}:{line}: {message}")

  def check(self) -> None:
    """Raises DataFormatError when the malformed share exceeds the policy's limit."""
    rows_read = self.rows
    if not self.count:
      return
    allowed = int(self.policy.max_malformed_fraction * rows_read)
    summary = (f"{self.what}: {self.count} of {rows_read} rows are malformed"
               f" (limit {self.policy.max_malformed_fraction:.2%}, {allowed} rows); first: "
               + "; ".join(self.quoted))
    if self.count > allowed:
      raise DataFormatError(summary)
    logging.warning("%s; they are left out and counted in the provenance", summary)

  def result(self, examples: list[dict[str, str]], sources: list[str],
             filtered: dict[str, int] | None = None) -> LoadResult:
    """Checks the threshold, then the LoadResult of this load."""
    self.check()
    return LoadResult(examples, list(sources), self.rows, self.count, list(self.quoted),
                      dict(filtered or {}))


# How many distinct values of a language field an error message lists.
QUOTED_VALUES = 12


def count_summary(counts: collections.Counter, limit: int = QUOTED_VALUES) -> str:
  """The values and their counts, most frequent first, at most `limit` of them.

  E.g. "en (300), pt-BR (120)", or "none (no rows)" when nothing was counted.
  """
  if not counts:
    return "none (no rows)"
  ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
  text = ", ".join(f"{value} ({count})" for value, count in ranked[:limit])
  if len(ranked) > limit:
    text += f", and {len(ranked) - limit} more values"
  return text


class LanguageField:
  """The values of the field a reader selects one language's rows by, in one source.

  Call `seen(value, matched)` for every row the reader looks at (before any other
  check), then `check()` once the source is read: it raises when no row matched.

  Attributes:
    matched: rows whose value named the language.
    values: how many rows had each value (non-strings by their repr).
  """

  def __init__(self, dataset: str, source: str, field: str, language: str):
    self.dataset = dataset
    self.source = source
    self.field = field
    self.language = language
    self.matched = 0
    self.values: collections.Counter = collections.Counter()

  def seen(self, value: Any, matched: bool) -> None:
    """Counts one row whose field held `value`; `matched` when it is of the language."""
    self.values[value if isinstance(value, str) else repr(value)] += 1
    self.matched += bool(matched)

  def check(self) -> None:
    """Raises DataFormatError naming the file and the values seen when no row matched."""
    if self.matched:
      return
    raise DataFormatError(
        f"{self.dataset}: no rows with {self.field} {self.language!r} in {self.source};"
        f" {self.field} values seen: {count_summary(self.values)}")


def require_file(path: str, what: str) -> str:
  """`path` if it is a file, else UserInputError naming it and what it should hold."""
  if not paths.isfile(path):
    raise UserInputError(f"{what} file {path} does not exist (see tasks/formats for the layout)")
  return path


def read_parquet(source: str, columns: tuple[str, ...]):
  """The parquet table at `source`, or DataFormatError naming the file and the columns
  it lacks (a file that is not parquet at all is named too)."""
  import pyarrow
  import pyarrow.parquet

  try:
    with paths.local_file(source) as local:  # pyarrow would pick its own gs:// client
      table = pyarrow.parquet.read_table(local)
  except (pyarrow.ArrowInvalid, OSError) as error:
    raise DataFormatError(f"{source}: not a readable parquet file ({error})") from None
  missing = [column for column in columns if column not in table.column_names]
  if missing:
    raise DataFormatError(f"{source}: missing columns {', '.join(missing)}; it has"
                          f" {', '.join(table.column_names)}")
  return table


def read_json_list(source: str, what: str) -> list:
  """The JSON list in `source` (a whole-file JSON release), or DataFormatError naming
  the file when it is not UTF-8 JSON or not a list of `what`."""
  try:
    with paths.open(source, encoding="utf-8") as file:
      records = json.load(file)
  except (UnicodeDecodeError, json.JSONDecodeError) as error:
    raise DataFormatError(f"{source}: not a UTF-8 JSON file ({error})") from None
  if not isinstance(records, list):
    raise DataFormatError(f"{source}: expected a JSON list of {what}")
  return records


def read_jsonl(path: str, problems: RowProblems) -> Iterator[tuple[int, dict[str, Any]]]:
  """(line number, object) for each JSON-object line; bad lines go to `problems`.

  Blank lines are skipped (they are not rows); every other line is counted
  with `problems.seen()`. A line that is not UTF-8 or not
  a JSON object is reported with its 1-based line number.
  """
  with paths.open(path, "rb") as file:
    for line_number, raw_line in enumerate(file, start=1):
      if not raw_line.strip():
        continue
      problems.seen()
      try:
        row = json.loads(raw_line.decode("utf-8"))
      except UnicodeDecodeError as error:
        problems.report(path, line_number, f"not valid UTF-8 ({error.reason})")
        continue
      except json.JSONDecodeError as error:
        problems.report(path, line_number, f"not valid JSON ({error.msg})")
        continue
      if not isinstance(row, dict):
        problems.report(path, line_number, "not a JSON object")
        continue
      yield line_number, row


def string_fields(row: dict[str, Any], fields: tuple[str, ...]) -> str | None:
  """None if every field is a non-empty string, else what is wrong (for a report)."""
  for field in fields:
    value = row.get(field)
    if not isinstance(value, str) or not value.strip():
      return f"field {field!r} is missing or not a non-empty string"
  return None


def sha256_file(path: str) -> str:
  """Hex sha256 of a file, read in 1 MiB blocks."""
  digest = hashlib.sha256()
  with paths.open(path, "rb") as file:
    for block in iter(lambda: file.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def parallel_id(row: dict[str, Any]) -> dict[str, str] | str:
  """{"parallel_id": key} when the row names the source item it translates, {} when it
  does not, or what is wrong with the value (a non-empty string or an integer row key).

  Translated and round-trip-translated files carry it so that tasks/selection.py can pool
  a translation with its English original (see tasks/variants.py).
  """
  value = row.get("parallel_id")
  if value is None:
    return {}
  if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
    return "'parallel_id' must be a non-empty string or an integer"
  return {"parallel_id": str(value).strip()}


def example(task: str, row_number: int | str, language: str, inputs: str, targets: str,
            answer: str = "", **extra: str) -> dict[str, str]:
  """An example dict with the id "<task>:<row number>" (stable across runs)."""
  return {"id": f"{task}:{row_number}", "language": language, "inputs": inputs,
          "targets": targets, "answer": answer, **extra}


def require_rows(rows_read: int, what: str, sources: list[str]) -> None:
  """DataFormatError naming the files when a load found no row at all (a truncated download
  or a file of another release must not score as an empty test set)."""
  if not rows_read:
    raise DataFormatError(f"{what}: no rows in {', '.join(sources)}")
