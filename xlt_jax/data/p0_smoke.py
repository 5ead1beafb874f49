"""Generated stand-ins for P0's datasets, written in each release's own layout and format,
so that the multi-task study (`gin/smoke/p0_multi.gin`) runs end to end offline through
the same readers as the real data.

Content comes from the demo's templated word problems (`xlt_jax.data.demo`), in the
eight P0 languages:

- XLSum (`tasks/formats/xlsum.py`): an "article" of three problems, its "summary" the
  first one; `xlsum/<name>_<train|val|test>.jsonl` with `id, url, title, summary, text`.
- ShareGPT (`tasks/formats/sharegpt.py`): a problem and its answer sentence as one
  human/gpt exchange; `sharegpt/<split>/<lang>.json`.
- mCoT-MATH (`tasks/formats/mcot_math.py`): question and a chain of thought ending in the
  answer; `mcot_math/<train|validation>/<lang>.jsonl` with `question, answer, lang, index`.
- MGSM and P0's translated MGSM (`xlt_jax/evaluation/mgsm_format.py`,
  `tasks/formats/mgsm_translated.py`): `mgsm/mgsm_<lang>.tsv` for MGSM's languages,
  `mgsm_translated/mgsm_<pt|ko|ar>.tsv`, each directory with its `exemplars.json` (labels
  "Q:" and "A:" in every language, where MGSM's own are localised).
- Aya's Dolly-200, machine-translated copy (`tasks/formats/aya_evaluation.py`):
  `aya_evaluation_suite/dolly_machine_translated/test-00000-of-00001.parquet` with
  `id, inputs, targets, language (ISO 639-3), script`.
"""

import json

import pyarrow
import pyarrow.parquet

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo
from xlt_jax.evaluation import answers

LANGUAGES = ("en", "es", "fr", "ja", "zh", "ar", "ko", "pt")
# The datasets this module writes (MGSM's prompting styles read its MGSM files, and P4's
# mcot_math_trigger mCoT-MATH's); a study of these (and only these) needs no DATA_DIR.
DATASETS = ("xlsum", "sharegpt", "mcot_math", "mcot_math_trigger", "mgsm", "mgsm_translated",
            "mgsm_p0", "mgsm_5shot_cot", "mgsm_cot_trigger", "dolly_machine_translated")
MGSM_LANGUAGES = ("en", "es", "fr", "ja", "zh")  # of LANGUAGES, those MGSM itself has
EXEMPLARS = 8
_XLSUM_NAMES = {"en": "english", "es": "spanish", "fr": "french", "ja": "japanese",
                "zh": "chinese_simplified", "ar": "arabic", "ko": "korean", "pt": "portuguese"}
_ISO_639_3 = {"en": "eng", "es": "spa", "fr": "fra", "ja": "jpn", "zh": "zho", "ar": "arb",
              "ko": "kor", "pt": "por"}
_SCRIPT = {"en": "Latn", "es": "Latn", "fr": "Latn", "pt": "Latn", "ja": "Jpan", "zh": "Hans",
           "ar": "Arab", "ko": "Kore"}


def _exchange(language: str, question: str, answer: int) -> tuple[str, str]:
  return question, answers.answer_sentence(language, answer)


def _write_xlsum(data_dir: str, language: str, splits: dict[str, list]) -> None:
  for split, official in (("train", "train"), ("validation", "val"), ("test", "test")):
    problems = splits[split]
    rows = []
    for index in range(len(problems)):
      article = [problems[(index + offset) % len(problems)][0] for offset in range(3)]
      rows.append({"id": f"{language}-{split}-{index}", "url": f"https://example.org/{index}",
                   "title": article[0], "summary": article[0], "text": " ".join(article)})
    atomic_io.write_jsonl(
        paths.join(data_dir, "xlsum", f"{_XLSUM_NAMES[language]}_{official}.jsonl"), rows)


def _write_sharegpt(data_dir: str, language: str, splits: dict[str, list]) -> None:
  for split in ("train", "validation", "test"):
    records = []
    for index, (question, answer) in enumerate(splits[split]):
      human, gpt = _exchange(language, question, answer)
      records.append({"id": f"{language}_{split}_{index}", "conversations": [
          {"from": "human", "value": human}, {"from": "gpt", "value": gpt}]})
    atomic_io.write_text(paths.join(data_dir, "sharegpt", split, f"{language}.json"),
                         json.dumps(records, ensure_ascii=False))


def _write_mcot_math(data_dir: str, language: str, splits: dict[str, list]) -> None:
  for split in ("train", "validation"):
    rows = [{"question": question, "answer": answers.answer_sentence(language, answer),
             "lang": language, "index": index}
            for index, (question, answer) in enumerate(splits[split])]
    atomic_io.write_jsonl(paths.join(data_dir, "mcot_math", split, f"{language}.jsonl"), rows)


def _write_mgsm(directory: str, tests: dict[str, list], exemplars: dict[str, list]) -> None:
  for language, problems in tests.items():
    atomic_io.write_text(paths.join(directory, f"mgsm_{language}.tsv"),
                         "".join(f"{question}\t{answer}\n" for question, answer in problems))
  content = {"MGSM_EXEMPLARS": {
      language: {str(number): {"q": f"Q: {question}",
                               "a": f"A: {answers.answer_sentence(language, answer)}"}
                 for number, (question, answer) in enumerate(pairs, start=1)}
      for language, pairs in exemplars.items()}}
  atomic_io.write_json(paths.join(directory, "exemplars.json"), content)


def _write_dolly(data_dir: str, tests: dict[str, list]) -> None:
  columns = {name: [] for name in ("id", "inputs", "targets", "language", "script")}
  for language, problems in tests.items():
    for question, answer in problems:
      columns["id"].append(len(columns["id"]))
      columns["inputs"].append(question)
      columns["targets"].append(answers.answer_sentence(language, answer))
      columns["language"].append(_ISO_639_3[language])
      columns["script"].append(_SCRIPT[language])
  path = paths.join(data_dir, "aya_evaluation_suite", "dolly_machine_translated",
                    "test-00000-of-00001.parquet")

  def write(file) -> None:
    pyarrow.parquet.write_table(pyarrow.table(columns), file)

  atomic_io.write_atomically(path, write, mode="wb")


def write_p0_smoke_datasets(data_dir: str, sizes: dict[str, int], seed: int = 0) -> None:
  """Writes every dataset of DATASETS under `data_dir` for LANGUAGES.

  Args:
    sizes: items per language for "train", "validation" and "test" (test sets of every
      dataset; MGSM's 8 exemplars come on top, disjoint from the test items).

  Raises:
    UserInputError: a negative size, or more items than the demo templates produce.
  """
  if any(sizes.get(split, -1) < 0 for split in ("train", "validation", "test")):
    raise UserInputError(f"P0 smoke data sizes must be >= 0 for train, validation, test: {sizes}")
  tests, exemplars = {}, {}
  for language in LANGUAGES:
    total = sizes["train"] + sizes["validation"] + sizes["test"] + EXEMPLARS
    problems = demo.generate_problems(language, total, seed)
    splits = {"train": problems[:sizes["train"]]}
    splits["validation"] = problems[sizes["train"]:sizes["train"] + sizes["validation"]]
    splits["test"] = problems[sizes["train"] + sizes["validation"]:-EXEMPLARS]
    exemplars[language] = problems[-EXEMPLARS:]
    tests[language] = splits["test"]
    _write_xlsum(data_dir, language, splits)
    _write_sharegpt(data_dir, language, splits)
    _write_mcot_math(data_dir, language, splits)
  _write_mgsm(paths.join(data_dir, "mgsm"),
              {language: tests[language] for language in MGSM_LANGUAGES},
              {language: exemplars[language] for language in MGSM_LANGUAGES})
  translated = [language for language in LANGUAGES if language not in MGSM_LANGUAGES]
  _write_mgsm(paths.join(data_dir, "mgsm_translated"),
              {language: tests[language] for language in translated},
              {language: exemplars[language] for language in translated})
  _write_dolly(data_dir, tests)
