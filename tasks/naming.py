"""The single naming function for seqio tasks (task names may not contain '-')."""

import re


def task_name(dataset: str, language: str, split: str, count: int | None = None,
              selection: str | None = None) -> str:
  """E.g. ("demo_arith", "es", "train") -> "demo_arith_es_train"; with count 200 -> "..._n200".

  `selection` names how a subset was drawn when it is not the plain seeded prefix
  ("heldout", "p1_o386"): ("lima_oasst", "es", "train", 386, "p1_o386") ->
  "lima_oasst_es_train_p1_o386_n386".
  """
  name = f"{dataset}_{language}_{split}"
  name += ("" if selection is None else f"_{selection}") + ("" if count is None else f"_n{count}")
  name = name.replace("-", "_")
  assert re.fullmatch(r"[A-Za-z0-9_.]+", name), name
  return name
