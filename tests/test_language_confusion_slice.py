"""The Language Confusion Benchmark outputs slice in tests/data/ is in LCB's own format.

tests/data/make_slices.py cut it from the five released model CSVs: the first 5 rows of
every (task, source, language) group. The groups below are all those of the originals.
"""

import collections
import csv
import sys

import pytest

HEADER = ["id", "model", "completion", "task", "source", "language"]
MODELS = ("command-r", "command-r-plus", "gpt-3.5-turbo", "llama-3-instruct", "mistral-8x7b")
ROWS_PER_GROUP = 5
CROSSLINGUAL = ("ar", "de", "es", "fr", "hi", "id", "it", "ja", "ko", "pt", "ru", "tr", "vi",
                "zh")
LANGUAGES = {
    ("crosslingual", "complex_prompts"): CROSSLINGUAL,
    ("crosslingual", "okapi"): CROSSLINGUAL,
    ("crosslingual", "sharegpt"): CROSSLINGUAL,
    ("monolingual", "aya_human_annotated"): ("ar", "en", "pt", "tr", "zh"),
    ("monolingual", "dolly_human_edited"): ("ar", "es", "fr", "hi", "ru"),
    ("monolingual", "native_prompts"): ("es", "fr", "ja", "ko"),
    ("monolingual", "okapi"): ("ar", "de", "en", "es", "fr", "id", "it", "pt", "vi", "zh"),
}
GROUPS = {(task, source, language)
          for (task, source), languages in LANGUAGES.items() for language in languages}


def _read(path):
  csv.field_size_limit(sys.maxsize)  # LCB completions can be long
  with open(path, encoding="utf-8", newline="") as file:
    header, *rows = csv.reader(file)
  return header, rows


@pytest.mark.parametrize("model", MODELS)
def test_outputs_slice_has_lcb_columns_and_every_group(test_data, model):
  header, rows = _read(test_data / "language_confusion" / "outputs" / f"{model}.csv")
  assert header == HEADER
  assert len(GROUPS) == 66
  assert all(len(row) == len(HEADER) for row in rows)
  assert {row[1] for row in rows} == {model}
  ids = collections.defaultdict(list)  # an id numbers the prompt within its group
  for row in rows:
    ids[tuple(row[3:6])].append(row[0])
  assert set(ids) == GROUPS
  first = [str(number) for number in range(ROWS_PER_GROUP)]
  assert all(group_ids == first for group_ids in ids.values())  # the first rows, in order
  assert sum(bool(row[2].strip()) for row in rows) > 0.9 * len(rows)  # real completions


def test_outputs_slice_files_are_exactly_the_five_models(test_data):
  names = {path.name for path in (test_data / "language_confusion" / "outputs").iterdir()}
  assert names == {f"{model}.csv" for model in MODELS}


def test_words_is_the_english_word_list(test_data):
  words = (test_data / "language_confusion" / "words").read_text(encoding="utf-8").splitlines()
  assert len(words) > 90_000 and all(word == word.strip() and word for word in words)
  assert {"house", "language", "confusion", "water"} <= set(words)


def test_licences_travel_with_the_data(test_data):
  assert "Apache License" in (test_data / "language_confusion" / "LICENSE").read_text()
  assert "Attribution 4.0" in (test_data / "mgsm" / "LICENSE").read_text()
  assert (test_data / "README.md").is_file()
