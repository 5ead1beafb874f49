"""Generated stand-ins for P1-P4's datasets that P0's (`xlt_jax.data.p0_smoke`) do not cover,
written in each dataset's layout and format so that the paper designs' smoke studies
(`gin/smoke/p4_*.gin`) run end to end offline through the same readers as real data.

Content comes from the demo's templated word problems (`xlt_jax.data.demo`), in the demo
languages the dataset has:

- mAPICall-Bank (`tasks/formats/api_calling.py`; P4 releases regeneration scripts, so the
  layout is the reader's): `api_calling/<train|validation|test>/<lang>.jsonl`, one
  `{"id", "utterance", "apis": [{"name", "description", "parameters"}], "target": {"name",
  "arguments"}}` per line. The utterance asks for a problem's answer to be submitted; the
  target calls `SubmitAnswer(value=<answer>)` among three candidate APIs whose names and
  parameter keys stay English, as in P4. Item `i` of a split has id `<split>-<i>` in every
  language (a parallel item: the pools of `tasks/selection.py` join languages by it).
"""

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo

# The demo's languages that mAPICall-Bank has (it has no ar, ko, pt).
LANGUAGES = ("en", "es", "fr", "ja", "zh")
DATASETS = ("api_calling",)  # what this module writes; with p0_smoke's, no DATA_DIR needed
SPLITS = ("train", "validation", "test")
# Candidate APIs of every item (API-Bank's shape: name, description, parameters with types).
APIS = (
    {"name": "SubmitAnswer", "description": "Submit the numeric answer to a word problem.",
     "parameters": {"value": {"type": "int", "description": "The answer."}}},
    {"name": "Calculator", "description": "Evaluate an arithmetic formula.",
     "parameters": {"formula": {"type": "str", "description": "e.g. (1+2)*3"}}},
    {"name": "GetWeather", "description": "Today's weather in a city.",
     "parameters": {"city": {"type": "str", "description": "The city's name."}}},
)


def _api_rows(split: str, problems: list[tuple[str, int]]) -> list[dict]:
  return [{"id": f"{split}-{index}", "utterance": question, "apis": list(APIS),
           "target": {"name": "SubmitAnswer", "arguments": {"value": answer}}}
          for index, (question, answer) in enumerate(problems)]


def write_paper_smoke_datasets(data_dir: str, sizes: dict[str, int], seed: int = 0) -> None:
  """Writes every dataset of DATASETS under `data_dir` for LANGUAGES.

  Args:
    sizes: items per language for "train", "validation" and "test".

  Raises:
    UserInputError: a negative size, or more items than the demo templates produce.
  """
  if any(sizes.get(split, -1) < 0 for split in SPLITS):
    raise UserInputError(f"paper smoke data sizes must be >= 0 for {', '.join(SPLITS)}: {sizes}")
  for language in LANGUAGES:
    problems = demo.generate_problems(language, sum(sizes[split] for split in SPLITS), seed)
    start = 0
    for split in SPLITS:
      chunk = problems[start:start + sizes[split]]
      start += sizes[split]
      atomic_io.write_jsonl(paths.join(data_dir, "api_calling", split, f"{language}.jsonl"),
                            _api_rows(split, chunk))
