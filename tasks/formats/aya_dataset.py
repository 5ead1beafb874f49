"""The Aya dataset (Singh et al., 2024): native human-written prompt/completion pairs.

Layout, the official release files unchanged:

    DATA_DIR/aya_dataset/data/<train|test>-00000-of-00001.parquet

columns `inputs, targets, language, language_code, annotation_type, user_id`
(`language_code` ISO 639-3). A language's examples are the rows whose code maps
to it (aya_evaluation.ISO_639_3), in file order; ids "<task>:<row>" (0-based). A
language no row's code maps to fails, naming the codes the file has.
P2 trains on the native es, ru, zh, de splits and on the English split.

Translated copies (tasks/variants.py) use the same schema plus an optional column
`parallel_id`: the row number, in the official file, of the English row a row
translates (null where a row translates nothing in that file).
"""

import os

from tasks.formats import rows
from tasks.formats.aya_evaluation import ISO_639_3
from tasks.naming import task_name

LICENCE = "Apache-2.0"
SOURCE_URL = "https://huggingface.co/datasets/CohereForAI/aya_dataset"
HUB_REPO = "CohereForAI/aya_dataset"
METRIC = "llm_judge"
SPLITS = ("train", "test")
LANGUAGES = tuple(sorted(set(ISO_639_3.values())))
COLUMNS = ("inputs", "targets", "language", "language_code", "annotation_type", "user_id")


def hub_file(split: str) -> str:
  return f"data/{split}-00000-of-00001.parquet"


def path(data_dir: str, language: str, split: str) -> str:
  del language  # one file per split holds every language
  return os.path.join(data_dir, "aya_dataset", hub_file(split))


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "Aya dataset")
  table = rows.read_parquet(source, COLUMNS)
  name = task_name("aya_dataset", language, split)
  problems = rows.RowProblems(policy, f"{source} ({language})")
  codes = rows.LanguageField("aya_dataset", source, "language_code", language)
  examples = []
  wanted = ["inputs", "targets", "language_code"]
  wanted += ["parallel_id"] if "parallel_id" in table.column_names else []
  columns = table.select(wanted).to_pylist()
  for row_number, row in enumerate(columns):
    matched = ISO_639_3.get(row["language_code"]) == language
    codes.seen(row["language_code"], matched)
    if not matched:
      continue
    problems.seen()
    problem = rows.string_fields(row, ("inputs", "targets"))
    parallel = rows.parallel_id(row)
    if problem or isinstance(parallel, str):
      problems.report(source, f"row {row_number}", problem or parallel)
      continue
    examples.append(rows.example(name, row_number, language, row["inputs"].strip(),
                                 row["targets"].strip(), **parallel))
  result = problems.result(examples, [source])
  codes.check()  # after the malformed-row check: it names bad lines
  return result
