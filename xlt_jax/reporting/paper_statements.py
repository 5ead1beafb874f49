"""What the primary paper (P0) says about its own appendix tables, checked against them.

Shimabucoro et al., "A Post-trainer's Guide to Multilingual Training Data" (2025), states
numbers in its text and in Table 2 that should follow from its Tables 3-23. `check` takes
a table's summary (`paper_tables.summarize`) and its `index.json` entry and returns one
result per statement about that table: the stated value, the value(s) this table gives,
and whether they agree. Where the paper leaves a quantity's definition open (papers.md
P0.2: three readings of "relative to English"), every reading is computed and the first
is the one the verdict uses, so a statement that fits only another reading shows as a
disagreement that names the reading it fits.
"""

import dataclasses
import math
from typing import Callable

from xlt_jax.reporting import tables

ALL_SEEN = ("en", "es", "fr", "ja", "zh")

# P0 table number -> (task, model, setting, training languages), as in index.json. A
# statement applies to a table only when its index entry matches all of these, so another
# paper's index that reuses a number gets no P0 statements.
P0_TABLES: dict[int, tuple[str, str, str, tuple[str, ...]]] = {
    3: ("instruction_following", "aya-35b", "single_task", ALL_SEEN),
    4: ("instruction_following", "aya-7b", "single_task", ALL_SEEN),
    7: ("instruction_following", "llama-3.1-8b", "single_task", ALL_SEEN),
    8: ("instruction_following", "aya-35b", "multi_task", ALL_SEEN),
    9: ("instruction_following", "aya-7b", "multi_task", ALL_SEEN),
    10: ("summarization", "aya-35b", "single_task", ALL_SEEN),
    11: ("summarization", "aya-7b", "single_task", ALL_SEEN),
    14: ("summarization", "llama-3.1-8b", "single_task", ALL_SEEN),
    16: ("summarization", "aya-7b", "multi_task", ALL_SEEN),
    17: ("math_reasoning", "aya-35b", "single_task", ALL_SEEN),
    18: ("math_reasoning", "aya-7b", "single_task", ALL_SEEN),
    19: ("math_reasoning", "aya-7b", "single_task", ("en", "es", "fr")),
    20: ("math_reasoning", "aya-7b", "single_task", ("en", "ja", "zh")),
    21: ("math_reasoning", "llama-3.1-8b", "single_task", ALL_SEEN),
    22: ("math_reasoning", "aya-35b", "multi_task", ALL_SEEN),
    23: ("math_reasoning", "aya-7b", "multi_task", ALL_SEEN),
}


@dataclasses.dataclass(frozen=True)
class Statement:
  """One number the paper states about one of its tables."""

  table: int  # the P0 table it is about (index.json's "table")
  where: str  # where the paper says it
  quote: str  # the paper's words, shortened
  quantity: str  # a key of QUANTITIES
  relation: str  # "about": rounds to `stated` at `decimals`; "over" / "under": > / <
  stated: float
  decimals: int = 2
  context: str = ""  # what papers.md P0.2-P0.3 says about it, when they disagree

  def holds(self, value: float) -> bool:
    """Whether `value` agrees with the statement (never for NaN)."""
    if math.isnan(value):
      return False
    if self.relation == "over":
      return value > self.stated
    if self.relation == "under":
      return value < self.stated
    return abs(value - self.stated) <= 0.5 * 10 ** -self.decimals + 1e-9


# "relative to English" readings: summary key and label. The first is P0's best fit.
READINGS = [("relative_to_english", "non-English mean / English"),
            ("balanced_relative_to_english", "(seen + unseen) / 2 / English"),
            ("avg_relative_to_english", "Avg. / English")]


def _peaks(summary: dict, key: str) -> tuple[float, float]:
  found = tables.peak(summary["budgets"], summary[key]) if summary[key] is not None else None
  return found if found else (math.nan, math.nan)


def _gap_points(summary: dict) -> list[tuple[str, float]]:
  gaps = summary["gap_bridged"]
  return [(label, gaps[key]["points"] if gaps[key] else math.nan) for key, label in READINGS]


# Quantity -> (what it is, summary -> [(label, value)], the first being the one judged).
QUANTITIES: dict[str, tuple[str, Callable[[dict], list[tuple[str, float]]]]] = {
    "spearman_rho": ("Spearman rho",
                     lambda s: [("rho", s["spearman_seen_unseen"]["rho"])]),
    "spearman_p": ("Spearman p-value",
                   lambda s: [("p", s["spearman_seen_unseen"]["p"])]),
    "gap_bridged_points": ("gap bridged in points", _gap_points),
    "peak_relative": ("best relative to English",
                      lambda s: [(label, _peaks(s, key)[0]) for key, label in READINGS]),
    "best_relative_budget": ("budget of the best relative to English",
                             lambda s: [(label, _peaks(s, key)[1]) for key, label in READINGS]),
    "peak_non_english_mean": ("best non-English mean",
                              lambda s: [("non-English mean", s["peak_non_english_mean"])]),
    "peak_avg": ("best Avg.", lambda s: [("printed Avg.", _peaks(s, "avg_printed")[0]),
                                         ("recomputed Avg.", _peaks(s, "avg_recomputed")[0])]),
    "share_unseen_above_seen": (
        "share of runs with unseen mean > seen mean",
        lambda s: [("share", len(s["runs_unseen_above_seen"]) / len(s["budgets"]))]),
}

_TABLE_2 = "Table 2"
_TABLE_2_CONTEXT = ("papers.md P0.2: Table 2 is not reproducible over the 8 runs; it most"
                    " likely correlates checkpoints during training")


def _table_2(table: int, rho: float, significant: bool, who: str) -> list[Statement]:
  return [
      Statement(table, _TABLE_2, f"seen vs unseen rank correlation, {who}: {rho:.2f}",
                "spearman_rho", "about", rho, context=_TABLE_2_CONTEXT),
      Statement(table, _TABLE_2, f"seen vs unseen rank correlation, {who}: p-value"
                f" {'<' if significant else '>'} 0.05",
                "spearman_p", "under" if significant else "over", 0.05,
                context=_TABLE_2_CONTEXT)]


_GAP_CONTEXT = "papers.md P0.2: 2-decimal table entries can move a gap bridged by a few points"

STATEMENTS: list[Statement] = [
    *_table_2(4, 0.67, True, "7B (Aya), Instruction Following"),
    *_table_2(11, 0.24, False, "7B (Aya), Summarization"),
    *_table_2(18, 0.77, True, "7B (Aya), Math. Reasoning"),
    *_table_2(7, 0.83, True, "8B (Llama 3.1), Instruction Following"),
    *_table_2(14, 0.56, True, "8B (Llama 3.1), Summarization"),
    *_table_2(21, 0.88, True, "8B (Llama 3.1), Math. Reasoning"),
    *_table_2(3, 0.51, True, "35B (Aya), Instruction Following"),
    *_table_2(10, 0.39, True, "35B (Aya), Summarization"),
    *_table_2(17, 0.49, True, "35B (Aya), Math. Reasoning"),
    Statement(4, "Section 4 (7B)", "bridge the gap between English and non-English performance"
              " by 6.8% ... for instruction following", "gap_bridged_points", "about", 6.8, 1),
    Statement(11, "Section 4 (7B)", "bridge the gap ... by ... 8.7% for ... summarization",
              "gap_bridged_points", "about", 8.7, 1),
    Statement(18, "Section 4 (7B)", "mathematical reasoning (MR) performance increases by 22.7%",
              "gap_bridged_points", "about", 22.7, 1,
              _GAP_CONTEXT + "; the peak is the 5000 run, the 2000 run gives 22.6"),
    Statement(7, "Section 4 (Llama 3.1 8B)", "the English-non-English gap is reduced by 12.3%"
              " for IF", "gap_bridged_points", "about", 12.3, 1, _GAP_CONTEXT),
    Statement(14, "Section 4 (Llama 3.1 8B)", "[reduced by] 14.7% for summarization",
              "gap_bridged_points", "about", 14.7, 1, _GAP_CONTEXT),
    Statement(21, "Section 4 (Llama 3.1 8B)", "MR displays an improvement of over 40%",
              "gap_bridged_points", "over", 40.0, 1),
    Statement(4, "Section 4 (7B)", "IF and SM plateau after adding as little as 400"
              " non-English samples per language", "best_relative_budget", "about", 400, 0),
    Statement(11, "Section 4 (7B)", "IF and SM plateau after adding as little as 400"
              " non-English samples per language", "best_relative_budget", "about", 400, 0),
    Statement(18, "Section 4 (7B)", "MR requires roughly 13x more multilingual data [than 400]"
              " to reach peak performance", "best_relative_budget", "about", 5000, 0),
    Statement(9, "Section 5 (7B multi-task)", "IF and summarization results manage to reach an"
              " average of 90% performance relative to English", "peak_relative", "about", 0.9, 1),
    Statement(16, "Section 5 (7B multi-task)", "IF and summarization results manage to reach an"
              " average of 90% performance relative to English", "peak_relative", "about", 0.9, 1),
    Statement(23, "Section 5 (7B multi-task)", "MR ... reaching only a little over 60% relative"
              " performance", "peak_relative", "over", 0.6, 2,
              "papers.md P0.2: this caption may use the 8-language Avg. / English"),
    Statement(17, "Section 5 (35B multi-task)", "matching the peak accuracy obtained in the"
              " single-task setting (68%)", "peak_avg", "about", 0.68, 2,
              "papers.md P0.3: the 68% is not in Table 17; Table 22's Avg. at 1500 is 0.68"),
    Statement(8, "Section 5 (35B multi-task)", "unseen languages outperform seen ones for most"
              " runs (IF)", "share_unseen_above_seen", "over", 0.5),
    Statement(22, "Section 5 (35B multi-task)", "unseen languages outperform seen ones for most"
              " runs (MR)", "share_unseen_above_seen", "over", 0.5),
    Statement(18, "Section 6", "the original experiments (38.4%) [peak average performance]",
              "peak_non_english_mean", "about", 0.384, 3),
    Statement(19, "Section 6", "MR better learned when using Latin script data only"
              " (... 37.4%)", "peak_non_english_mean", "about", 0.374, 3),
    Statement(20, "Section 6", "[non-Latin script data] 36.6%", "peak_non_english_mean",
              "about", 0.366, 3),
]


def is_p0_table(entry: dict | None) -> bool:
  """Whether an index.json entry is one of the P0 tables these statements are about."""
  if not entry or entry.get("table") not in P0_TABLES:
    return False
  task, model, setting, languages = P0_TABLES[entry["table"]]
  return (entry.get("task"), entry.get("model"), entry.get("setting"),
          tuple(entry.get("training_languages") or ())) == (task, model, setting, languages)


def check(summary: dict, entry: dict | None) -> list[dict]:
  """Checks every P0 statement about the table of `entry` against its summary.

  Args:
    summary: `paper_tables.summarize`'s result for the table.
    entry: the table's index.json entry, or None.

  Returns:
    One dict per statement: `where`, `quote`, `quantity`, `relation`, `stated`, `values`
    (label -> value this table gives; the first label is the one judged), `agrees` (the
    first value holds), `agreeing` (labels whose value holds) and `context`. Empty when
    `entry` is not a P0 table.
  """
  if not is_p0_table(entry):
    return []
  results = []
  for statement in STATEMENTS:
    if statement.table != entry["table"]:
      continue
    values = QUANTITIES[statement.quantity][1](summary)
    results.append({
        "where": statement.where, "quote": statement.quote, "quantity": statement.quantity,
        "relation": statement.relation, "stated": statement.stated, "decimals": statement.decimals,
        "values": dict(values), "agrees": statement.holds(values[0][1]),
        "agreeing": [label for label, value in values if statement.holds(value)],
        "context": statement.context})
  return results


def describe(result: dict) -> str:
  """One sentence: the statement, what this table gives and the verdict."""
  relation = {"about": "", "over": "over ", "under": "under "}[result["relation"]]
  decimals = result["decimals"]
  # The table's values get one digit more than the statement, budgets none.
  given = ", ".join(f"{label} {_number(value, decimals + 1 if decimals else 0)}"
                    for label, value in result["values"].items())
  what = QUANTITIES[result["quantity"]][0]
  verdict = "agrees" if result["agrees"] else "DIFFERS"
  if not result["agrees"] and result["agreeing"]:
    verdict += (f" (only {', '.join(result['agreeing'])}"
                f" {'agrees' if len(result['agreeing']) == 1 else 'agree'})")
  text = (f"{result['where']}: \"{result['quote']}\" ({what} {relation}"
          f"{_number(result['stated'], decimals)}); this table: {given}: {verdict}.")
  return text + (f" {result['context']}." if result["context"] and not result["agrees"] else "")


def _number(value: float, decimals: int) -> str:
  return "n/a" if math.isnan(value) else f"{value:.{decimals}f}"
