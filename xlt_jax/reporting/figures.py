"""The report's figures, in the style of P0 Figs. 2-8, written as PNG and SVG.

- `plot_by_budget`: score (or score relative to English) against budget per language
  group (English, seen, unseen, Latin, non-Latin, the study's groups), one panel per task
  and study. The budget axis is symmetric-log, so the English-only run (budget 0) sits on
  the axis and is marked; every panel has a title, axis labels and a legend.
- `plot_heatmap`: a matrix of scores with labelled rows and columns (P1's train language
  x eval language, P4's change against the base model), each cell annotated.
- `plot_lines`: score against the number of training languages (P1 §3.4, P3), per group.
- `plot_diagonal`: P4 Fig. 4's zero-shot against direct-exposure scatter, with y = x.

Each figure is written twice, `<stem>.png` and `<stem>.svg`, atomically; matplotlib runs
on the Agg backend (no display on training hosts).
"""

import io
import math

from xlt_jax.core import atomic_io

GROUP_STYLES = {"English": ("black", "-", 2.6), "seen": ("tab:blue", "-", 1.8),
                "unseen": ("tab:orange", "--", 1.8), "Latin": ("tab:green", ":", 1.6),
                "non-Latin": ("tab:purple", ":", 1.6)}
OTHER_COLOURS = ["tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:red", "tab:gray"]


def _pyplot():
  import matplotlib
  matplotlib.use("Agg")
  matplotlib.rcParams["svg.hashsalt"] = "xlt-jax"
  from matplotlib import pyplot
  return pyplot


def save(figure, stem: str) -> dict[str, str]:
  """Writes `stem.png` and `stem.svg`; returns {"png": path, "svg": path}."""
  written = {}
  for kind in ("png", "svg"):
    buffer = io.BytesIO()
    # No date in the SVG (and a fixed id salt, see _pyplot): the same figure, the same bytes.
    figure.savefig(buffer, format=kind, dpi=110, metadata={"Date": None} if kind == "svg" else {})
    written[kind] = f"{stem}.{kind}"
    data = buffer.getvalue()
    atomic_io.write_atomically(written[kind], lambda file, data=data: file.write(data), mode="wb")
  _pyplot().close(figure)
  return written


def _lines(analysis, relative: bool) -> dict[str, list[float]]:
  summary = analysis.summary
  english = summary["english_scores"]
  lines = {"English": english, "seen": summary["seen_mean"], "unseen": summary["unseen_mean"]}
  lines.update(analysis.group_means)
  if relative:
    lines = {name: [value / base if base else math.nan for value, base in zip(values, english)]
             for name, values in lines.items() if name != "English"}
  return lines


def plot_by_budget(analyses: list, stem: str, relative: bool = False) -> dict[str, str]:
  """One panel per analysis (task x study): its language-group means against budget.

  Args:
    analyses: `analysis.TaskAnalysis` objects, one panel each, in order.
    stem: the output path without extension.
    relative: plot each group's mean divided by English's score (1.0 = English's level).
  """
  pyplot = _pyplot()
  columns = min(3, len(analyses))
  rows = math.ceil(len(analyses) / columns)
  figure, axes_grid = pyplot.subplots(rows, columns, figsize=(4.6 * columns, 3.7 * rows),
                                      squeeze=False)
  for axes, analysis in zip(axes_grid.flat, analyses):
    budgets = analysis.budgets
    numeric = all(isinstance(budget, int) for budget in budgets)
    # Mixtures (P1-P4 designs) have no order or scale: evenly spaced, labelled.
    positions = budgets if numeric else list(range(len(budgets)))
    for index, (name, values) in enumerate(_lines(analysis, relative).items()):
      colour, style, width = GROUP_STYLES.get(
          name, (OTHER_COLOURS[index % len(OTHER_COLOURS)], "-.", 1.4))
      axes.plot(positions, values, style, marker="o", color=colour, linewidth=width,
                label=f"{name} ({', '.join(analysis.groups[name])})" if name in analysis.groups
                else name)
    positive = [budget for budget in budgets if numeric and budget > 0]
    if numeric:
      axes.set_xscale("symlog", linthresh=min(positive) if positive else 1)
    if numeric and 0 in budgets:
      axes.axvline(0, color="grey", linestyle=":", linewidth=1)
      axes.annotate("English only", (0, 0.02), xycoords=("data", "axes fraction"),
                    rotation=90, fontsize="x-small", color="grey")
    if relative:
      axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set(xticks=positions, xticklabels=[str(budget) for budget in budgets],
             xlabel="examples per seen language (symlog)" if numeric else "training mixture",
             ylabel=f"{analysis.metric} / English" if relative else analysis.metric,
             title=f"{analysis.study}: {analysis.task}")
    axes.legend(fontsize="x-small")
  for axes in list(axes_grid.flat)[len(analyses):]:
    axes.set_visible(False)
  figure.suptitle("Score relative to English by budget" if relative else "Score by budget")
  figure.tight_layout()
  return save(figure, stem)


def plot_heatmap(matrix: list[list[float]], row_labels: list[str], column_labels: list[str],
                 stem: str, title: str, row_title: str, column_title: str,
                 value_title: str, diverging: bool = False) -> dict[str, str]:
  """A heatmap with every cell annotated (NaN cells blank). `diverging` centres a
  red-blue scale on 0, for changes against a baseline."""
  import numpy as np

  pyplot = _pyplot()
  values = np.asarray(matrix, dtype=float)
  figure, axes = pyplot.subplots(figsize=(max(5.0, 1.8 + 0.7 * len(column_labels)),
                                          1.6 + 0.45 * len(row_labels)))
  limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
  image = axes.imshow(values, aspect="auto", cmap="RdBu" if diverging else "viridis",
                      **({"vmin": -(limit or 1.0), "vmax": limit or 1.0} if diverging else {}))
  for (row, column), value in np.ndenumerate(values):
    if not math.isnan(value):
      dark = abs(value) > 0.6 * limit if diverging else value < np.nanmean(values)
      axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize="x-small",
                color="white" if dark else "black")
  axes.set(xticks=range(len(column_labels)), xticklabels=column_labels,
           yticks=range(len(row_labels)), yticklabels=row_labels, xlabel=column_title,
           ylabel=row_title)
  axes.set_title(title, fontsize="small")
  figure.colorbar(image, ax=axes, label=value_title)
  figure.tight_layout()
  return save(figure, stem)


def plot_lines(panels: list[tuple[str, str, str, dict[str, tuple[list, list[float]]]]],
               stem: str, suptitle: str) -> dict[str, str]:
  """One panel per (title, x label, y label, series -> (xs, ys)), each line marked and
  labelled in a legend: P1's and P3's score against the number of training languages."""
  pyplot = _pyplot()
  columns = min(3, len(panels))
  rows = math.ceil(len(panels) / columns)
  figure, axes_grid = pyplot.subplots(rows, columns, figsize=(4.6 * columns, 3.7 * rows),
                                      squeeze=False)
  for axes, (title, x_label, y_label, series) in zip(axes_grid.flat, panels):
    for index, (name, (xs, ys)) in enumerate(series.items()):
      colour, style, width = GROUP_STYLES.get(
          name, (OTHER_COLOURS[index % len(OTHER_COLOURS)], "-.", 1.4))
      axes.plot(xs, ys, style, marker="o", color=colour, linewidth=width, label=name)
    ticks = sorted({x for xs, _ in series.values() for x in xs})
    axes.set(xticks=ticks, xlabel=x_label, ylabel=y_label, title=title)
    axes.legend(fontsize="x-small")
  for axes in list(axes_grid.flat)[len(panels):]:
    axes.set_visible(False)
  figure.suptitle(suptitle)
  figure.tight_layout()
  return save(figure, stem)


def plot_diagonal(points: dict[str, tuple[list[float], list[float]]], stem: str, title: str,
                  x_label: str, y_label: str,
                  labels: dict[str, list[str]] | None = None) -> dict[str, str]:
  """A scatter of (x, y) per series with the line y = x: P4 Fig. 4's zero-shot accuracy
  against direct exposure (above the line: zero-shot does better); `labels` names each
  point beside it."""
  pyplot = _pyplot()
  figure, axes = pyplot.subplots(figsize=(5.2, 4.6))
  values = [value for xs, ys in points.values() for value in (*xs, *ys)
            if not math.isnan(value)]
  low, high = (min(values), max(values)) if values else (0.0, 1.0)
  margin = 0.05 * ((high - low) or 1.0)
  axes.plot([low - margin, high + margin], [low - margin, high + margin], color="grey",
            linestyle="--", linewidth=1, label="y = x")
  for index, (name, (xs, ys)) in enumerate(points.items()):
    axes.scatter(xs, ys, color=OTHER_COLOURS[index % len(OTHER_COLOURS)], label=name)
    for x, y, text in zip(xs, ys, (labels or {}).get(name, [])):
      axes.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="x-small")
  axes.set(xlabel=x_label, ylabel=y_label, title=title)
  axes.legend(fontsize="x-small")
  figure.tight_layout()
  return save(figure, stem)
