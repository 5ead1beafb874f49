"""Rebuilds tests/data/ from a copy of the original files (the project's read-only data).

Usage, from the repository root:

    python tests/data/make_slices.py /path/to/shared/data

Copies whole files the tests read (MGSM, two LCB monolingual Dolly prompt files, the
Post-trainer's Guide tables, the LCB English word list, the licences), and cuts the
Language Confusion Benchmark outputs: for each model CSV, the first ROWS_PER_GROUP rows
of every (task, source, language) group, in file order. Rows are read and written with
Python's csv module with its defaults (QUOTE_MINIMAL, CRLF line ends), which re-writes
the original files byte for byte, so every slice row is byte-identical to its original.
"""

import collections
import csv
import pathlib
import shutil
import sys

ROWS_PER_GROUP = 5
HEADER = ["id", "model", "completion", "task", "source", "language"]
MODELS = ["command-r", "command-r-plus", "gpt-3.5-turbo", "llama-3-instruct", "mistral-8x7b"]
MGSM_LANGUAGES = ["bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"]
WHOLE_FILES = (
    ["mgsm/LICENSE", "mgsm/exemplars.json"]
    + [f"mgsm/mgsm_{language}.tsv" for language in MGSM_LANGUAGES]
    + ["language_confusion/LICENSE", "language_confusion/words"]
    + [f"language_confusion/test_sets/monolingual/dolly/{language}.csv" for language in ("ar", "es")]
)
PAPER_TABLES = "paper_tables/post_trainers_guide"


def slice_outputs(source: pathlib.Path, target: pathlib.Path) -> int:
  """Writes the first ROWS_PER_GROUP rows of each (task, source, language); returns rows."""
  csv.field_size_limit(sys.maxsize)  # some completions are long
  with open(source, encoding="utf-8", newline="") as file:
    reader = csv.reader(file)
    header = next(reader)
    assert header == HEADER, (source, header)
    taken = collections.Counter()
    rows = []
    for row in reader:
      group = tuple(row[3:6])
      if taken[group] < ROWS_PER_GROUP:
        taken[group] += 1
        rows.append(row)
  target.parent.mkdir(parents=True, exist_ok=True)
  with open(target, "w", encoding="utf-8", newline="") as file:
    writer = csv.writer(file)
    writer.writerow(header)
    writer.writerows(rows)
  return len(rows)


def main(shared_data: str) -> None:
  source = pathlib.Path(shared_data)
  here = pathlib.Path(__file__).resolve().parent
  for name in WHOLE_FILES:
    (here / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / name, here / name)
  shutil.copytree(source / PAPER_TABLES, here / PAPER_TABLES, dirs_exist_ok=True)
  for model in MODELS:
    name = f"language_confusion/outputs/{model}.csv"
    print(name, slice_outputs(source / name, here / name), "rows")


if __name__ == "__main__":
  if len(sys.argv) != 2:
    sys.exit("usage: python tests/data/make_slices.py SOURCE_DATA_DIR")
  main(sys.argv[1])
