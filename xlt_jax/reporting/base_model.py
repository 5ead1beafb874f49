"""A budget sweep against the un-fine-tuned base model it started from.

P0 asks whether English-only fine-tuning already carries over to the other languages;
that is a change against the base model, not against a model trained from scratch. When
a run of the study has the base model's scores (RUN_DIR/eval/base/metrics.json, written
by `python -m xlt_jax.evaluate --checkpoint=base`, or by the launcher when
`Experiment.evaluate_base` is bound), the report adds, per task and metric of a budget
sweep, a table of each language and of the seen / unseen / non-English means: the base
model's score, the English-only run's (budget 0) and the largest budget's, and both runs'
change against the base. (P4's mixtures get their own heatmap against the base model,
`parallel.change_blocks`.)
"""

from xlt_jax.reporting import html, outputs, tables
from xlt_jax.reporting.analysis import TaskAnalysis, is_budget_sweep


def _mean(scores: dict[str, float], languages: list[str]) -> float | None:
  values = [scores[code] for code in languages if code in scores]
  return sum(values) / len(values) if values and len(values) == len(languages) else None


def _signed(value: float | None) -> str:
  if value is None:
    return "n/a"
  rounded = round(value, 2)
  return f"{rounded if rounded else 0.0:+.2f}"  # never "-0.00"


def blocks(item: TaskAnalysis, base: dict, base_path: str | None, study: dict) -> list:
  """The section for `item`, or nothing: not a budget sweep with budget 0, or no base
  scores for its (task, metric) (`base` is `run_files.base_scores`' dict)."""
  scores = base.get((item.task, item.metric))
  budgets = item.budgets
  if not scores or not budgets or not is_budget_sweep(budgets) or 0 not in budgets:
    return []
  english = study["english"]
  columns = [0] + ([max(budgets)] if max(budgets) > 0 else [])
  languages = [code for code in item.rows if code != tables.AVERAGE_ROW]
  groups = [("seen mean", list(study["seen_languages"])),
            ("unseen mean", list(study["unseen_languages"])),
            ("non-English mean", [code for code in languages if code != english])]
  run = {budget: {code: item.rows[code][budgets.index(budget)] for code in languages}
         for budget in columns}
  lines, values = [], {}
  for name, members in [(code, [code]) for code in languages] + groups:
    if not members:
      continue
    base_value = _mean(scores, members)
    cells = [outputs.format_value(base_value) if base_value is not None else "n/a"]
    for budget in columns:
      value = _mean(run[budget], members)
      change = None if value is None or base_value is None else value - base_value
      values[(name, budget)] = change
      cells += [outputs.format_value(value) if value is not None else "n/a", _signed(change)]
    lines.append([name, *cells])
  header = ["language", "base model"]
  for budget in columns:
    header += [f"budget {budget}", f"budget {budget} - base"]
  english_change, others_change = values.get((english, 0)), values.get(("non-English mean", 0))
  sentences = []
  if english_change is not None and others_change is not None:
    sentences.append(f"English-only fine-tuning (budget 0) changes English by"
                     f" {_signed(english_change)} and the non-English mean by"
                     f" {_signed(others_change)} against the base model.")
  if len(columns) == 2 and values.get(("unseen mean", columns[1])) is not None:
    sentences.append(f"At budget {columns[1]} the unseen languages, which no run trains on,"
                     f" are {_signed(values[('unseen mean', columns[1])])} from the base model"
                     f" ({_signed(values.get(('unseen mean', 0)))} at budget 0).")
  return [html.Heading(4, "Against the base model"),
          html.Paragraph(f"The un-fine-tuned base model's scores (`{base_path}`) beside the"
                         " English-only run and the largest budget. " + " ".join(sentences)),
          html.Table(header, lines)]
