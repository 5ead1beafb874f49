"""P1's side-by-side results: win rates, and train-language x eval-language heatmaps.

Reads the pairwise judge's verdicts (`run_files.pairwise_items`: each run's
eval/pairwise/<REFERENCE>/judge-p1_pairwise-<JUDGE>.jsonl). P1 scores a run D in
language L as IF_L(D) = S×S(D, D_L): D's responses against those of the run tuned
monolingually on L (the study's run whose training languages are exactly [L]); a win
counts 1, a tie 0.5, a loss 0, and the score is 100 x their mean over the scored items
(`judges.pairwise`). So:

- the win-rate table lists, per run, reference, judge and language, the wins, ties and
  losses and the S×S score with a bootstrap interval over the items;
- the heatmap against the monolingual runs (P1 Fig. 1) has a row per judged run and a
  column per evaluation language, the cell being IF_L(row); a monolingual run's own
  language is 50 by construction (P1: the diagonal is a self-comparison, never judged);
  `avg` is the mean over all columns, the diagonal included (P1's Appendix C rows);
- the heatmap against the base model (`base` reference, P1 Appendix F, Fig. 10) has the
  same layout, every cell judged (the diagonal too).

Unscored items (unparsable replies, failed requests) are counted, never averaged in.
"""

import math

from xlt_jax.core import paths
from xlt_jax.reporting import figures, html, outputs, statistics
from xlt_jax.reporting.results import StudyResults
from xlt_jax.reporting.run_files import PairwiseItems, pairwise_items

PINCH = "PinchDesign"
SELF_COMPARISON = 50.0  # P1: a model against itself is indistinguishable by construction
BASE_REFERENCE = "base"


def heatmap_rows(cells: dict[tuple[str, str], float], rows: list[str], columns: list[str],
                 diagonal: dict[str, str]) -> dict[str, list[float]]:
  """Row -> the S×S scores of each column, then `avg`.

  Args:
    cells: (row, column) -> score in percent; a missing cell is NaN.
    rows, columns: the order of the runs and evaluation languages.
    diagonal: row -> the column it is the reference of (a monolingual run's language),
      which holds SELF_COMPARISON whatever `cells` says.

  Returns:
    Per row the column scores and, last, their mean over every column (NaN when a cell is
    missing: an average never drops a language silently).
  """
  table = {}
  for row in rows:
    values = [SELF_COMPARISON if diagonal.get(row) == column
              else cells.get((row, column), math.nan) for column in columns]
    table[row] = values + [math.fsum(values) / len(values)]
  return table


def _monolingual(results: StudyResults) -> dict[str, str]:
  """Run name -> its one training language, for runs tuned on exactly one."""
  return {run["name"]: run["training_languages"][0] for run in results.study["runs"]
          if len(run.get("training_languages") or []) == 1}


def _percent_interval(scores: list[float], resamples: int, seed: int) -> statistics.Interval:
  interval = statistics.bootstrap([scores], statistics.mean_of_group_means, resamples, seed)
  return statistics.Interval(100 * interval.estimate, 100 * interval.low, 100 * interval.high,
                             interval.method)


def _win_lines(judged: list[PairwiseItems], resamples: int, seed: int) -> list[list]:
  lines = []
  for entry in judged:
    for language in sorted({*entry.scores, *entry.unscored}):
      scores = entry.scores.get(language, [])
      interval = _percent_interval(scores, resamples, seed)
      lines.append([entry.run, entry.reference, entry.judge_model, language,
                    len(scores) + entry.unscored.get(language, 0), scores.count(1.0),
                    scores.count(0.5), scores.count(0.0), entry.unscored.get(language, 0),
                    interval.estimate, interval.low, interval.high])
  return lines


def _heatmap_blocks(results: StudyResults, judged: list[PairwiseItems], reference_kind: str,
                    prefix: str, out_dir: str, written: dict[str, str]) -> list:
  monolingual = _monolingual(results)
  blocks = []
  for judge in sorted({entry.judge_model for entry in judged}):
    cells = {}
    for entry in judged:
      if entry.judge_model != judge:
        continue
      if reference_kind == BASE_REFERENCE and entry.reference == BASE_REFERENCE:
        cells.update({(entry.run, language): 100 * math.fsum(scores) / len(scores)
                      for language, scores in entry.scores.items() if scores})
      elif reference_kind != BASE_REFERENCE and entry.reference in monolingual:
        language = monolingual[entry.reference]  # IF_L: only L's items against D_L
        scores = entry.scores.get(language, [])
        if scores:
          cells[(entry.run, language)] = 100 * math.fsum(scores) / len(scores)
    if not cells:
      continue
    rows = [run["name"] for run in results.study["runs"]
            if any(row == run["name"] for row, _ in cells)]
    # The diagonal: the monolingual runs' own languages (against their own reference).
    diagonal = {row: monolingual[row] for row in rows
                if row in monolingual and reference_kind != BASE_REFERENCE}
    judged_columns = {column for _, column in cells} | set(diagonal.values())
    columns = [code for code in results.languages if code in judged_columns]
    table = heatmap_rows(cells, rows, columns, diagonal)
    what = ("against the base model" if reference_kind == BASE_REFERENCE else
            "against the model tuned monolingually on the evaluation language")
    short = ("against the base model" if reference_kind == BASE_REFERENCE else
             "against the monolingual run of each evaluation language")
    name = (f"{prefix}p1_sxs_{'base' if reference_kind == BASE_REFERENCE else 'monolingual'}_"
            f"{outputs.slug(judge)}")
    csv_name = outputs.write_csv(out_dir, name, ["run", *columns, "avg"],
                                 [[row, *values] for row, values in table.items()], written)
    files = figures.plot_heatmap(
        [values for values in table.values()], rows, [*columns, "avg"],
        paths.join(out_dir, name),
        f"{results.name}: S×S score (%), judge {judge}\n{short}",
        "training run", "evaluation language", "S×S score (%)")
    written[name + "_png"] = files["png"]
    blocks += [
        html.Heading(4, f"S×S heatmap {what} (judge {judge})"),
        html.Paragraph("Rows: runs; columns: evaluation languages; `avg`: the mean over all"
                       " columns, the diagonal included."
                       + (f" Diagonal ({', '.join(f'{row}: {code}' for row, code in diagonal.items())}):"
                          f" {SELF_COMPARISON:.0f} by construction (P1), not judged."
                          if diagonal else "")),
        html.Table(["run", *columns, "avg"],
                   [[row, *(outputs.format_value(value, 1) for value in values)]
                    for row, values in table.items()], csv_name),
        html.Figure(f"{results.name}: S×S score {what}", files["png"], files["svg"])]
  return blocks


def study_blocks(results: StudyResults, prefix: str, out_dir: str, written: dict[str, str],
                 resamples: int, seed: int) -> list:
  """P1's side-by-side section of one study; nothing when no run has pairwise judgments."""
  judged = pairwise_items(results)
  if not judged and results.study.get("design") == PINCH:
    return [html.Heading(3, "Side-by-side judgments (P1)"), html.Paragraph(
        "No pairwise judgments (RUN_DIR/eval/pairwise/<REFERENCE>/judge-p1_pairwise-*.jsonl):"
        " bind `EvaluationConfig.judge = @JudgeConfig()` with `JudgeConfig.protocol ="
        " 'p1_pairwise'` and a `judge_service` and launch the study again (it judges each run"
        " against the monolingual run of each language), or judge from Python with"
        " `judges.run.judge_predictions(join_reference(...), JudgeConfig('p1_pairwise'),"
        " client)` and `judges.run.write_results`.",
        emphasis=True)]
  if not judged:
    return []
  header = ["run", "reference", "judge", "language", "items", "wins", "ties", "losses",
            "unscored", "sxs_score", "low", "high"]
  lines = _win_lines(judged, resamples, seed)
  csv_name = outputs.write_csv(out_dir, f"{prefix}p1_win_rates", header, lines, written)
  blocks = [
      html.Heading(3, "Side-by-side judgments (P1)"),
      html.Paragraph("Each run's responses against a reference's, shown to the judge in both"
                     " orders: a win (chosen both times) 1, a tie 0.5, a loss 0; the S×S score"
                     " is 100 x their mean over the scored items, with a percentile bootstrap"
                     f" 95% interval over the items ({resamples} resamples, seed {seed})."),
      html.Table(header, [[*map(str, line[:9]), *(outputs.format_value(value, 1)
                                                  for value in line[9:])] for line in lines],
                 csv_name)]
  return (blocks + _heatmap_blocks(results, judged, "monolingual", prefix, out_dir, written)
          + _heatmap_blocks(results, judged, BASE_REFERENCE, prefix, out_dir, written))
