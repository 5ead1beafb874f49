"""A paper's own language x budget table as report input, so its conclusions can be re-derived.

    python -m xlt_jax.report --paper_table=FILE.tsv [--seen=es,fr,ja,zh --unseen=ar,ko,pt] [--json]

The table is in the layout of the P0 appendix tables (`tables.read_paper_table`: rows
are evaluation languages and `Avg.`, columns are samples per non-English training
language). When an `index.json` sits beside it (as in
`tests/data/paper_tables/post_trainers_guide/`), its entry for the file names the task,
metric, model and training languages; the seen languages default to the training
languages other than English and the unseen ones to every other row.

`summarize` derives, per column, the seen and unseen means and their gap, the `Avg.` row
as printed and as recomputed, and the three readings of "relative to English" (papers.md
P0.2); over the columns, the gap bridged, the peak non-English mean, Spearman's rho of the
seen against the unseen means (`scipy.stats.spearmanr`, one point per run) and the runs
whose unseen mean exceeds the seen mean. Where the paper's printed numbers or its own
statements (`paper_statements`) disagree with the table, `notes` says so.
"""

import json
import math
import os

from xlt_jax.core import languages
from xlt_jax.core.errors import UserInputError
from xlt_jax.reporting import paper_statements, tables

INDEX_FILE = "index.json"
ENGLISH = "en"


def parse_languages(text: str, what: str) -> list[str]:
  """`es,fr` -> ['es', 'fr'], each a known code (else UserInputError naming `what`)."""
  codes = [code.strip() for code in text.split(",") if code.strip()]
  if not codes:
    raise UserInputError(f"--{what} names no language")
  return [languages.check_language(code, what=f"--{what} language") for code in codes]


def read_index_entry(path: str) -> dict | None:
  """The entry for `path` in the `index.json` beside it, or None when there is no index.

  Raises:
    UserInputError: the index is not a JSON list of objects, or has no entry for the file.
  """
  index_path = os.path.join(os.path.dirname(os.path.abspath(path)), INDEX_FILE)
  if not os.path.exists(index_path):
    return None
  try:
    with open(index_path, encoding="utf-8") as file:
      index = json.load(file)
  except (OSError, json.JSONDecodeError) as error:
    raise UserInputError(f"{index_path} is not readable JSON: {error}") from None
  if not isinstance(index, list) or not all(isinstance(entry, dict) for entry in index):
    raise UserInputError(f"{index_path} must hold a JSON list of table entries")
  entries = [entry for entry in index if entry.get("file") == os.path.basename(path)]
  if len(entries) != 1:
    raise UserInputError(f"{index_path} has {len(entries)} entries for"
                         f" {os.path.basename(path)}, expected 1")
  training = entries[0].get("training_languages")
  if not (isinstance(training, list) and training and all(isinstance(c, str) for c in training)):
    raise UserInputError(f"{index_path}: the entry for {os.path.basename(path)} needs a list"
                         " of training_languages")
  for code in training:
    try:
      languages.check_language(code, what="training language")
    except UserInputError as error:
      raise UserInputError(f"{index_path}: {error}") from None
  return entries[0]


def _index_grouping(entry: dict, rows: tables.Rows) -> tuple[list[str], list[str]]:
  training = entry["training_languages"]
  seen = [code for code in training if code != ENGLISH]
  return seen, [code for code in _language_names(rows) if code not in training]


def _language_names(rows: tables.Rows) -> list[str]:
  return [name for name in rows if name != tables.AVERAGE_ROW]


def _check_placement(path: str, budgets: list[int], rows: tables.Rows, seen: list[str],
                     unseen: list[str]) -> None:
  """Raises UserInputError for a row, column or language the summary cannot place."""
  if not budgets:
    raise UserInputError(f"{path}: the table has no budget columns")
  for budget in budgets:
    if budget < 0 or budgets.count(budget) > 1:
      raise UserInputError(f"{path}: cannot place budget column {budget}: it is"
                           f" {'negative' if budget < 0 else 'repeated'}")
  for name in _language_names(rows):
    try:
      languages.check_language(name, what="row language")
    except UserInputError as error:
      raise UserInputError(f"{path}: {error}") from None
  if ENGLISH not in rows:
    raise UserInputError(f"{path}: no {ENGLISH!r} row, so nothing is relative to English")
  for what, group in [("seen", seen), ("unseen", unseen)]:
    if not group:
      raise UserInputError(f"{path}: no {what} language to average")
    for code in group:
      if code == ENGLISH or code not in rows:
        raise UserInputError(f"{path}: {what} language {code!r} is English or has no row")
  if set(seen) & set(unseen):
    raise UserInputError(f"{path}: {sorted(set(seen) & set(unseen))} both seen and unseen")
  unplaced = [name for name in _language_names(rows) if name not in {ENGLISH, *seen, *unseen}]
  if unplaced:
    raise UserInputError(f"{path}: cannot place row(s) {unplaced}: neither English nor in"
                         f" --seen ({','.join(seen)}) or --unseen ({','.join(unseen)})")


def _printed_unit(path: str) -> float | None:
  """One unit of the last digit printed in the `Avg.` row (0.01 for `4.26`); None without one."""
  with open(path, encoding="utf-8") as file:
    for line in file:
      cells = line.rstrip("\r\n").replace(",", "\t").split("\t")
      if cells[0] == tables.AVERAGE_ROW:
        return 10.0 ** -max(len(cell.partition(".")[2]) for cell in cells[1:])
  return None


def summarize(budgets: list[int], rows: tables.Rows, seen: list[str], unseen: list[str],
              english: str = ENGLISH) -> dict:
  """The quantities P0's conclusions rest on, from one language x budget table.

  Args:
    budgets: the column budgets.
    rows: the table's rows; an `Avg.` row, if any, is reported as printed, never used.
    seen: the non-English training languages.
    unseen: the evaluated languages never trained on.
    english: the English row.

  Returns:
    A dict of per-column lists aligned with `budgets` (`english_scores`, `seen_mean`,
    `unseen_mean`, `seen_unseen_gap`, `avg_printed` (None without an `Avg.` row),
    `avg_recomputed`, `non_english_mean` and the three readings `relative_to_english`,
    `balanced_relative_to_english`, `avg_relative_to_english`) and of scalars:
    `gap_bridged` (per reading, `tables.GapBridged` as a dict, or None),
    `gap_bridged_points` (the first reading's), `peak_non_english_mean` and its budget
    `peak_budget`, `spearman_seen_unseen` (`rho`, `p`, `n`, `method`) and
    `runs_unseen_above_seen` (budgets). NaN where a value is undefined.
  """
  languages_only = {name: values for name, values in rows.items() if name != tables.AVERAGE_ROW}
  seen_mean, unseen_mean = tables.seen_unseen_means(languages_only, seen, unseen)
  non_english = tables.non_english_means(languages_only, english)
  summary = {
      "english": english, "seen": seen, "unseen": unseen, "budgets": budgets,
      "english_scores": languages_only[english],
      "seen_mean": seen_mean, "unseen_mean": unseen_mean,
      "seen_unseen_gap": [s - u for s, u in zip(seen_mean, unseen_mean)],
      "avg_printed": rows.get(tables.AVERAGE_ROW),
      "avg_recomputed": tables.average_row(languages_only),
      "non_english_mean": non_english,
      "relative_to_english": tables.relative_to_english(languages_only, english),
      "balanced_relative_to_english": tables.balanced_relative_to_english(
          languages_only, seen, unseen, english),
      "avg_relative_to_english": tables.average_relative_to_english(languages_only, english),
  }
  summary["gap_bridged"] = {}
  for key, _ in paper_statements.READINGS:
    gap = tables.gap_bridged(budgets, summary[key])
    summary["gap_bridged"][key] = gap._asdict() if gap else None
  primary = summary["gap_bridged"]["relative_to_english"]
  summary["gap_bridged_points"] = primary["points"] if primary else math.nan
  peak = tables.peak(budgets, non_english)
  summary["peak_non_english_mean"], summary["peak_budget"] = peak if peak else (math.nan, None)
  rho, p = tables.spearman(seen_mean, unseen_mean)
  summary["spearman_seen_unseen"] = {
      "rho": rho, "p": p, "n": len(budgets),
      "method": "scipy.stats.spearmanr of the seen vs the unseen means, one point per column"}
  summary["runs_unseen_above_seen"] = [budget for budget, s, u in zip(budgets, seen_mean,
                                                                       unseen_mean) if u > s]
  return summary


def _avg_notes(summary: dict, unit: float | None) -> list[str]:
  if summary["avg_printed"] is None:
    return ["The table prints no Avg. row; avg_printed is null"]
  off = [(budget, printed, recomputed) for budget, printed, recomputed in zip(
      summary["budgets"], summary["avg_printed"], summary["avg_recomputed"])
         if unit is not None and abs(printed - recomputed) > unit / 2 + 1e-9]
  if not off:
    return []
  cells = ", ".join(f"{budget}: printed {printed:g} vs {recomputed:.4f}"
                    for budget, printed, recomputed in off)
  beyond = [budget for budget, printed, recomputed in off if abs(printed - recomputed) > unit]
  return [f"The printed Avg. differs from the mean of the printed language rows by more than"
          f" its own rounding (half of {unit:g}) at {cells}; "
          + (f"beyond one unit at {beyond}, more than the rows' rounding explains" if beyond
             else "within one unit, which the rows' own rounding can explain")]


def summarize_paper_table(path: str, seen: list[str] | None = None,
                          unseen: list[str] | None = None) -> dict:
  """Reads a paper table (and the index.json beside it) and summarizes it.

  Args:
    path: a TSV (or CSV) language x budget table.
    seen: the seen languages; None takes them from index.json's training languages.
    unseen: the unseen languages; None takes every row not trained on, per index.json.

  Returns:
    `summarize`'s dict plus `table` (the path), `index_entry` (or None), `grouping`
    (where seen and unseen came from), `paper_statements` (`paper_statements.check`) and
    `notes` (disagreements and caveats, one sentence each).

  Raises:
    UserInputError: an unreadable or malformed table or index, a row or column that
      cannot be placed, or no seen/unseen languages and no index entry to take them from.
  """
  budgets, rows = tables.read_paper_table(path)
  entry = read_index_entry(path)
  grouping = {(True, True): INDEX_FILE, (False, False): "--seen/--unseen"}.get(
      (seen is None, unseen is None), f"--seen/--unseen and {INDEX_FILE}")
  if entry is None and (seen is None or unseen is None):
    raise UserInputError(f"no {INDEX_FILE} beside {path} to take the training languages"
                         " from: pass --seen and --unseen")
  index_seen, index_unseen = _index_grouping(entry, rows) if entry else (None, None)
  seen = index_seen if seen is None else seen
  unseen = index_unseen if unseen is None else unseen
  _check_placement(path, budgets, rows, seen, unseen)
  summary = {"table": path, "index_entry": entry, "grouping": grouping,
             **summarize(budgets, rows, seen, unseen)}
  notes, statements = [], []
  if entry is not None and (set(seen), set(unseen)) != (set(index_seen), set(index_unseen)):
    notes.append(f"Seen/unseen differ from the table's training languages in {INDEX_FILE}"
                 f" (seen {','.join(index_seen)}; unseen {','.join(index_unseen)}), so the"
                 " paper's statements about this table are not checked")
  elif entry is not None:
    statements = paper_statements.check(summary, entry)
  if 0 not in budgets:
    notes.append("No budget-0 (English-only) column: the gap bridged is not computed")
  notes += _avg_notes(summary, _printed_unit(path))
  notes += [paper_statements.describe(result) for result in statements if not result["agrees"]]
  return {**summary, "paper_statements": statements, "notes": notes}


def to_json(summary: dict) -> str:
  """The summary as one JSON object, a top-level key per line, NaN written as null."""
  def clean(value):
    if isinstance(value, float) and math.isnan(value):
      return None
    if isinstance(value, dict):
      return {key: clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
      return [clean(item) for item in value]
    return value
  return "{\n" + ",\n".join(f" {json.dumps(key)}: {json.dumps(clean(value), allow_nan=False)}"
                           for key, value in summary.items()) + "\n}\n"


# Per-column rows of the markdown summary: summary key, label, decimals (None: as the
# paper prints its scores, 2).
_MARKDOWN_ROWS = [
    ("english_scores", "English", None),
    ("seen_mean", "Seen mean", 3),
    ("unseen_mean", "Unseen mean", 3),
    ("seen_unseen_gap", "Seen - unseen gap", 3),
    ("avg_printed", "Avg. (printed)", None),
    ("avg_recomputed", "Avg. (recomputed: mean of the language rows)", 3),
    ("non_english_mean", "Non-English mean", 3),
    ("relative_to_english", "Relative to English: non-English mean / English", 3),
    ("balanced_relative_to_english", "Relative to English: (seen + unseen) / 2 / English", 3),
    ("avg_relative_to_english", "Relative to English: Avg. / English", 3),
]


def markdown(summary: dict) -> str:
  """A readable summary of `summarize_paper_table`'s result."""
  entry = summary["index_entry"]
  title = (f"Table {entry['table']}: {entry['task']}, {entry['metric']}, {entry['model']},"
           f" {entry['setting']}" if entry else os.path.basename(summary["table"]))
  lines = [f"# {title}\n", f"`{summary['table']}`" + (f": {entry['caption']}" if entry else ""),
           "", f"English: {summary['english']}. Seen: {', '.join(summary['seen'])}."
           f" Unseen: {', '.join(summary['unseen'])} (from {summary['grouping']}).", ""]
  lines.append(tables.markdown_table(
      ["quantity", *map(str, summary["budgets"])],
      [[label, *(tables.format_score(value, 2 if decimals is None else decimals)
                 for value in summary[key])]
       for key, label, decimals in _MARKDOWN_ROWS if summary[key] is not None]))
  for key, label in paper_statements.READINGS:
    gap = summary["gap_bridged"][key]
    lines.append(f"- Gap bridged ({label}): " + (
        "not computed" if gap is None else
        f"{gap['points']:+.1f} points ({gap['baseline']:.3f} at budget 0 ->"
        f" {gap['best']:.3f} at budget {gap['best_budget']})"))
  spearman = summary["spearman_seen_unseen"]
  above = summary["runs_unseen_above_seen"]
  lines += [
      f"- Peak non-English mean: {tables.format_score(summary['peak_non_english_mean'], 3)}"
      f" at budget {summary['peak_budget']}",
      f"- Spearman rho of seen vs unseen means over the {spearman['n']} columns"
      f" (scipy.stats.spearmanr): {tables.format_score(spearman['rho'], 3)},"
      f" p = {tables.format_score(spearman['p'], 3)}",
      f"- Runs whose unseen mean exceeds the seen mean: {len(above)} of"
      f" {len(summary['budgets'])}" + (f" (budgets {', '.join(map(str, above))})" if above else ""),
  ]
  if summary["paper_statements"]:
    lines += ["", "## The paper's statements about this table", ""]
    lines += [f"- {paper_statements.describe(result)}" for result in summary["paper_statements"]]
  # A statement the table contradicts is also a note; here it is listed once, above.
  described = {paper_statements.describe(result) for result in summary["paper_statements"]}
  notes = [note for note in summary["notes"] if note not in described]
  if notes:
    lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
  return "\n".join(lines) + "\n"
