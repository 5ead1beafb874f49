"""The Post-trainer's Guide appendix tables (P0, Tables 3-23) kept in tests/data/.

Read with the csv module only, so these checks hold whatever the report code does: the
index names every TSV, each TSV is a language x budget table of printed scores, and each
`Avg.` row is the mean of the eight language rows within the rounding of the printed digits.
"""

import csv
import decimal
import json
import re

import pytest

EVALUATION_LANGUAGES = ("en", "es", "fr", "ja", "zh", "ar", "ko", "pt")
AVERAGE_ROW = "Avg."
TABLES = range(3, 24)
LAST_BUDGET = {"single_task": 5000, "multi_task": 7000}
SCORE_RANGE = {"switch_aware_judge_rating_1_5": (1, 5), "rougeL": (0, 1),
               "mgsm_8shot_accuracy": (0, 1)}
# (file, budget) cells whose printed Avg. is more than half a unit of the last digit from
# the mean of the printed language rows: not the Avg.'s own rounding alone, but still
# within one unit, which the language rows' rounding (up to half a unit each) explains.
AVG_OFF_BY_MORE_THAN_HALF_A_UNIT = {
    ("table_06.tsv", 200), ("table_09.tsv", 3000), ("table_09.tsv", 6500),
    ("table_16.tsv", 0), ("table_16.tsv", 1000), ("table_16.tsv", 7000),
    ("table_21.tsv", 100), ("table_23.tsv", 100)}


@pytest.fixture
def directory(test_data):
  return test_data / "paper_tables" / "post_trainers_guide"


@pytest.fixture
def index(directory):
  return json.loads((directory / "index.json").read_text(encoding="utf-8"))


def _read(directory, file_name):
  """(budgets, rows as language -> printed cells, unit of the last printed digit)."""
  with open(directory / file_name, encoding="utf-8", newline="") as file:
    header, *lines = csv.reader(file, delimiter="\t")
  assert header[0] == "language", file_name
  rows = {line[0]: line[1:] for line in lines}
  assert len(rows) == len(lines), f"{file_name}: a row name repeats"
  decimals = {len(cell.partition(".")[2]) for cells in rows.values() for cell in cells}
  assert len(decimals) == 1, f"{file_name}: cells printed with {decimals} decimals"
  return [int(budget) for budget in header[1:]], rows, decimal.Decimal(1).scaleb(-decimals.pop())


def _entry(index, table):
  [entry] = [entry for entry in index if entry["table"] == table]
  return entry


def test_index_names_each_table_file_once(directory, index):
  assert sorted(entry["table"] for entry in index) == list(TABLES)
  assert {entry["file"] for entry in index} == {path.name for path in directory.glob("*.tsv")}
  for entry in index:
    assert entry["file"] == f"table_{entry['table']:02d}.tsv"
    assert entry["setting"] in LAST_BUDGET and entry["metric"] in SCORE_RANGE, entry
    assert entry["training_languages"][0] == "en", entry
    assert set(entry["training_languages"]) < set(EVALUATION_LANGUAGES), entry
    assert entry["task"] and entry["model"] and entry["caption"], entry


@pytest.mark.parametrize("table", TABLES)
def test_table_is_languages_by_budgets_of_scores(directory, index, table):
  entry = _entry(index, table)
  budgets, rows, _ = _read(directory, entry["file"])
  assert budgets[0] == 0 and budgets == sorted(set(budgets))
  assert budgets[-1] == LAST_BUDGET[entry["setting"]]
  assert sorted(rows) == sorted([*EVALUATION_LANGUAGES, AVERAGE_ROW])
  assert list(rows)[-1] == AVERAGE_ROW
  low, high = SCORE_RANGE[entry["metric"]]
  for language, cells in rows.items():
    assert len(cells) == len(budgets), language
    for cell in cells:
      assert re.fullmatch(r"\d+\.\d+", cell), (language, cell)
      assert low <= float(cell) <= high, (language, cell)


@pytest.mark.parametrize("table", TABLES)
def test_avg_row_is_the_mean_of_the_language_rows_within_rounding(directory, index, table):
  """Each printed cell is within half a unit of its exact value, so |mean - Avg.| <= 1 unit."""
  file_name = _entry(index, table)["file"]
  budgets, rows, unit = _read(directory, file_name)
  for column, budget in enumerate(budgets):
    mean = sum(decimal.Decimal(rows[language][column]) for language in EVALUATION_LANGUAGES)
    mean /= len(EVALUATION_LANGUAGES)
    printed = decimal.Decimal(rows[AVERAGE_ROW][column])
    assert abs(mean - printed) <= unit, (file_name, budget, mean, printed)


def test_avg_cells_beyond_their_own_rounding_are_the_known_ones(directory, index):
  beyond = set()
  for entry in index:
    budgets, rows, unit = _read(directory, entry["file"])
    for column, budget in enumerate(budgets):
      mean = sum(decimal.Decimal(rows[language][column]) for language in EVALUATION_LANGUAGES)
      mean /= len(EVALUATION_LANGUAGES)
      if abs(mean - decimal.Decimal(rows[AVERAGE_ROW][column])) > unit / 2:
        beyond.add((entry["file"], budget))
  assert beyond == AVG_OFF_BY_MORE_THAN_HALF_A_UNIT
