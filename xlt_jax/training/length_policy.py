"""What the length policy does to a run's data, counted before it trains: per task and
language, how many examples are truncated and dropped, and how many are kept (one epoch).

The policy itself is `xlt_jax.training.features`'; this module counts its decisions over
all hosts' data, writes them to LENGTHS_FILE in the run directory and refuses a split it
empties.
"""

import sys

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.training import batches

LENGTHS_FILE = "length_policy.json"  # per task and language: examples, truncated, dropped


def check_something_fits(run_name: str, report: dict, lengths: batches.FeatureLengths) -> None:
  """Raises UserInputError when the length policy drops every example of a split: the
  endless training stream would otherwise filter forever without yielding a batch."""
  for split in ("train", "validation"):
    counts = report[split].values()
    examples = sum(count["examples"] for count in counts)
    if examples and sum(count["dropped"] for count in counts) == examples:
      raise UserInputError(
          f"run {run_name}: every {split} example is dropped by the length policy (its target"
          f" alone is longer than TrainConfig.targets_length={lengths.targets}, or no assistant"
          f" turn fits in {lengths.inputs}+{lengths.targets} tokens); raise the lengths")


def length_report(mixture: str, validation_mixture: str, lengths: batches.FeatureLengths,
                  manifest: dict | None = None) -> dict:
  """What the length policy truncates and drops at these lengths, over all hosts' data:
  per split and task, and with the run's manifest (which names each task's language)
  per split and language; `kept_examples` is one epoch of training."""
  report = {
      "inputs_length": lengths.inputs,
      "targets_length": lengths.targets,
      "train": batches.length_counts(mixture, "train", lengths, batches.ALL_DATA),
      "validation": batches.length_counts(validation_mixture, "validation", lengths,
                                          batches.ALL_DATA),
  }
  report["kept_examples"] = sum(counts["examples"] - counts["dropped"]
                                for counts in report["train"].values())
  if manifest is not None:
    language_of = {entry["task"]: entry["language"]  # (a task without one: its own row)
                   for part in ("train", "validation") for entry in manifest.get(part, [])
                   if "language" in entry}
    report["by_language"] = {}
    for split in ("train", "validation"):
      totals = report["by_language"][split] = {}
      for task, counts in report[split].items():
        language = totals.setdefault(language_of.get(task, task),
                                     {"examples": 0, "truncated": 0, "dropped": 0})
        for key in language:
          language[key] += counts[key]
  return report


def write_length_report(run_dir: str, run_name: str, report: dict, stream) -> None:
  """Writes LENGTHS_FILE and prints one line per task that loses anything."""
  lengths = f"{report['inputs_length']}+{report['targets_length']}"
  atomic_io.write_json(paths.join(run_dir, LENGTHS_FILE), report)
  for split in ("train", "validation"):
    for task, counts in report[split].items():
      if counts["truncated"] or counts["dropped"]:
        print(f"[{run_name}] {task}: {counts['truncated']} of {counts['examples']} examples"
              f" truncated, {counts['dropped']} dropped (longer than {lengths} tokens)",
              file=stream or sys.stdout, flush=True)


def length_warnings(run_reports: dict[str, dict], threshold: float) -> list[str]:
  """One sentence per run whose length policy drops or truncates more than `threshold`
  of its training examples, with the counts per language that lose any."""
  warnings = []
  for run, report in run_reports.items():
    counts = report["train"].values()
    examples = sum(count["examples"] for count in counts)
    dropped = sum(count["dropped"] for count in counts)
    truncated = sum(count["truncated"] for count in counts)
    if not examples or (dropped + truncated) / examples <= threshold:
      continue
    by_language = report.get("by_language", {}).get("train", report["train"])
    details = ", ".join(f"{language} {count['dropped']} dropped / {count['truncated']} truncated"
                        f" of {count['examples']}" for language, count in by_language.items()
                        if count["dropped"] or count["truncated"])
    warnings.append(
        f"run {run}: the length policy drops {dropped} and truncates {truncated} of {examples}"
        f" training examples ({(dropped + truncated) / examples:.1%}, above"
        f" {threshold:.1%}) at {report['inputs_length']}+{report['targets_length']} tokens"
        f" ({details}); it trains on the {examples - dropped} kept")
  return warnings
