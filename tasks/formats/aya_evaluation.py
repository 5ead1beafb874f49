"""The Aya evaluation suite (Singh et al., 2024): open-ended prompts with references.

Layout, the official release files unchanged:

    DATA_DIR/aya_evaluation_suite/<subset>/test-00000-of-00001.parquet

for subset in `aya_human_annotated`, `dolly_human_edited`,
`dolly_machine_translated`; columns `id, inputs, targets, language, script`
with `language` an ISO 639-3 code ("arb", "spa", ...). Each subset is its own
dataset; a language's examples are the rows whose ISO 639-3 code maps to it
(ISO_639_3), in file order, with ids "<task>:<row>" (0-based parquet row). A
language no row's code maps to fails, naming the codes the file has.
"""

import os

import pyarrow

from tasks.formats import rows
from tasks.naming import task_name

LICENCE = "Apache-2.0"
SOURCE_URL = "https://huggingface.co/datasets/CohereForAI/aya_evaluation_suite"
HUB_REPO = "CohereForAI/aya_evaluation_suite"
METRIC = "llm_judge"
SPLITS = ("test",)
SUBSETS = ("aya_human_annotated", "dolly_human_edited", "dolly_machine_translated")
FILE_NAME = "test-00000-of-00001.parquet"
COLUMNS = ("id", "inputs", "targets", "language", "script")

# ISO 639-3 (as the suite writes it) -> our ISO 639-1 code.
ISO_639_3 = {
    "arb": "ar", "ara": "ar", "ben": "bn", "deu": "de", "eng": "en", "spa": "es",
    "fin": "fi", "fra": "fr", "gle": "ga", "hin": "hi", "jpn": "ja", "kor": "ko", "por": "pt", "rus": "ru",
    "srp": "sr", "swh": "sw", "swa": "sw", "tel": "te", "tha": "th", "tur": "tr",
    "zho": "zh", "cmn": "zh",
}
LANGUAGES = tuple(sorted(set(ISO_639_3.values())))
# The languages each subset holds (its dataset card), so that a design asking a subset
# for a language it lacks fails when it is planned, not when its file is read.
SUBSET_LANGUAGES = {
    "aya_human_annotated": ("ar", "en", "pt", "te", "tr", "zh"),  # and yor (unmapped)
    "dolly_human_edited": ("ar", "es", "fr", "hi", "ru", "sr"),
    "dolly_machine_translated": LANGUAGES,  # 101 languages (NLLB), every mapped one
}


def hub_file(subset: str) -> str:
  """The subset's file inside the Hub repository (and under DATA_DIR/aya_evaluation_suite)."""
  return f"{subset}/{FILE_NAME}"


def path_for(subset: str):
  """The `path(data_dir, language, split)` function of one subset."""
  def path(data_dir: str, language: str, split: str) -> str:
    del language, split  # one file per subset holds every language
    return os.path.join(data_dir, "aya_evaluation_suite", subset, FILE_NAME)
  return path


def read_table(source: str) -> pyarrow.Table:
  """The parquet table, or DataFormatError naming the file and what it lacks."""
  return rows.read_parquet(source, COLUMNS)


def load_for(subset: str):
  """The `load(data_dir, language, split, policy)` function of one subset."""
  path = path_for(subset)

  def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
    source = rows.require_file(path(data_dir, language, split), f"Aya evaluation suite {subset}")
    table = read_table(source).select(["inputs", "targets", "language"]).to_pylist()
    name = task_name(subset, language, split)
    problems = rows.RowProblems(policy, f"{source} ({language})")
    codes = rows.LanguageField(subset, source, "language", language)
    examples = []
    for row_number, row in enumerate(table):
      matched = ISO_639_3.get(row["language"]) == language
      codes.seen(row["language"], matched)
      if not matched:
        continue
      problems.seen()
      problem = rows.string_fields(row, ("inputs", "targets"))
      if problem:
        problems.report(source, f"row {row_number}", problem)
        continue
      examples.append(rows.example(name, row_number, language, row["inputs"].strip(),
                                   row["targets"].strip(), ""))
    result = problems.result(examples, [source])
    codes.check()  # after the malformed-row check: it names bad lines
    return result
  return load
