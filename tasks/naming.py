"""The single naming function for seqio tasks (task names may not contain '-')."""

import re


def task_name(dataset: str, language: str, split: str, count: int | None = None) -> str:
  """E.g. ("demo_arith", "es", "train") -> "demo_arith_es_train"; with count 200 -> "..._n200"."""
  name = f"{dataset}_{language}_{split}" + ("" if count is None else f"_n{count}")
  name = name.replace("-", "_")
  assert re.fullmatch(r"[A-Za-z0-9_.]+", name), name
  return name
