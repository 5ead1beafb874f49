"""P1's human ratings: items for annotators as a CSV, their choices read back, and the
agreement between a judge and a human (or two humans).

Export (`export_for_annotators`): one CSV row per item with `id`, `language`, `instruction`,
`response_1`, `response_2` and an empty `choice` column for the annotator (`1`, `2` or
`tie`). Which response is ours is drawn at random per item (seeded) so annotators cannot
learn a position; the draw is recorded in a key file beside the CSV (`<csv>.key.json`), which
annotators do not need to see. `read_choices` turns a filled-in CSV back into, per item id,
`model` (ours preferred), `reference` or `tie`; `judge_choices` does the same for the
pairwise judge's verdicts (win / loss / tie).

Agreement per item follows P1 (after LIMA, Zhou et al. 2023): 1 when both chose the same,
0.5 when exactly one of them chose a tie, 0 otherwise; reported per language as a percentage
of the items both rated (P1's Table 3).
"""

import collections
import csv
import io
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import DataFormatError, UserInputError

COLUMNS = ("id", "language", "instruction", "response_1", "response_2", "choice")
MODEL, REFERENCE, TIE = "model", "reference", "tie"


def key_path(csv_path: str) -> str:
  return csv_path + ".key.json"


def export_for_annotators(items: Sequence[Mapping[str, Any]], csv_path: str, seed: int) -> None:
  """Writes the annotation CSV and its key file (see the module docstring), atomically.

  Args:
    items: records with `id`, `language`, `prompt`, `prediction` (ours) and
      `reference_prediction`.
    csv_path: where the CSV goes; the key goes to `key_path(csv_path)`.
    seed: seeds the per-item order, so an export can be repeated exactly.
  """
  rng = random.Random(seed)
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(COLUMNS)
  positions = {}
  for item in items:
    model_position = rng.choice((1, 2))
    first, second = ((item["prediction"], item["reference_prediction"]) if model_position == 1
                     else (item["reference_prediction"], item["prediction"]))
    writer.writerow([item["id"], item["language"], item["prompt"], first, second, ""])
    positions[item["id"]] = model_position
  atomic_io.write_text(csv_path, buffer.getvalue())
  atomic_io.write_json(key_path(csv_path), {"seed": seed, "model_position": positions})


def read_choices(csv_path: str) -> dict[str, str]:
  """Per item id, `model`, `reference` or `tie`, from a filled-in annotation CSV and its key.

  Raises:
    DataFormatError: a missing column, a choice other than 1 / 2 / tie (named with file and
      line), or an id the key does not know.
  """
  positions = json.loads(paths.read_text(key_path(csv_path)))["model_position"]
  with paths.open(csv_path, encoding="utf-8", newline="") as file:
    reader = csv.DictReader(file)
    if reader.fieldnames is None or not set(COLUMNS) <= set(reader.fieldnames):
      raise DataFormatError(f"{csv_path}: expected the columns {', '.join(COLUMNS)}, "
                            f"got {reader.fieldnames}")
    choices = {}
    for row in reader:
      where = f"{csv_path}:{reader.line_num}"
      if row["id"] not in positions:
        raise DataFormatError(f"{where}: item {row['id']!r} is not in {key_path(csv_path)}")
      choice = row["choice"].strip().lower()
      if choice == TIE:
        choices[row["id"]] = TIE
      elif choice in ("1", "2"):
        choices[row["id"]] = MODEL if int(choice) == positions[row["id"]] else REFERENCE
      else:
        raise DataFormatError(f"{where}: choice must be 1, 2 or tie, got {row['choice']!r}")
  return choices


def judge_choices(pairwise_items: Sequence[Mapping[str, Any]]) -> dict[str, str]:
  """Per scored item id, the pairwise judge's preference: `model`, `reference` or `tie`."""
  preference = {"win": MODEL, "loss": REFERENCE, "tie": TIE}
  return {item["id"]: preference[item["verdict"]] for item in pairwise_items
          if item["verdict"] is not None}


def agreement(first: str, second: str) -> float:
  """1 if the two choices agree, 0.5 if exactly one of them is a tie, 0 otherwise."""
  if first == second:
    return 1.0
  return 0.5 if TIE in (first, second) else 0.0


def agreement_by_language(first: Mapping[str, str], second: Mapping[str, str],
                          languages: Mapping[str, str]) -> dict[str, dict[str, float]]:
  """Per language: `items` both rated and `agreement_percent` (mean `agreement` x 100).

  Raises:
    UserInputError: the two sets of choices share no item, or an item has no language.
  """
  shared = sorted(set(first) & set(second))
  if not shared:
    raise UserInputError("the two sets of choices share no item id")
  values = collections.defaultdict(list)
  for item_id in shared:
    if item_id not in languages:
      raise UserInputError(f"item {item_id!r} has no language")
    values[languages[item_id]].append(agreement(first[item_id], second[item_id]))
  return {language: {"items": len(group), "agreement_percent": 100 * sum(group) / len(group)}
          for language, group in sorted(values.items())}
