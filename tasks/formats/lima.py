"""LIMA (Zhou et al., 2023) first-turn pairs and their translations (P1).

Layout (the official `GAIR/lima` files; translations in the same format,
line-parallel to the English file so ids align across languages):

    DATA_DIR/lima/<train|test>.jsonl                      English (official)
    DATA_DIR/lima/translated/<lang>/<train|test>.jsonl    translations

one {"conversations": [str, str, ...], "source": str} per line. The example is
the first turn: inputs = conversations[0], targets = conversations[1] (the
test split has prompts only: targets ""). Ids "<task>:<line>".
"""

import os

from tasks.formats import rows
from tasks.naming import task_name

LICENCE = "mixed-source licence (see the GAIR/lima card; gated)"
SOURCE_URL = "https://huggingface.co/datasets/GAIR/lima"
HUB_REPO = "GAIR/lima"
METRIC = "llm_judge"
SPLITS = ("train", "test")
LANGUAGES = ("en", "es", "fr", "de", "ru", "zh", "ja", "ar", "ko", "pt", "bn", "te", "sw", "th")


def path(data_dir: str, language: str, split: str) -> str:
  if language == "en":
    return os.path.join(data_dir, "lima", f"{split}.jsonl")
  return os.path.join(data_dir, "lima", "translated", language, f"{split}.jsonl")


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "LIMA")
  name = task_name("lima", language, split)
  problems = rows.RowProblems(policy, source)
  examples = []
  for line_number, row in rows.read_jsonl(source, problems):
    turns = row.get("conversations")
    needed = 2 if split == "train" else 1
    if (not isinstance(turns, list) or len(turns) < needed
        or not all(isinstance(turn, str) and turn.strip() for turn in turns[:needed])):
      problems.report(source, line_number, f"'conversations' is not a list of at least"
                      f" {needed} non-empty strings")
      continue
    examples.append(rows.example(name, line_number, language, turns[0].strip(),
                                 turns[1].strip() if len(turns) > 1 else ""))
  return problems.result(examples, [source])
