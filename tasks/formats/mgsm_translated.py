"""MGSM test sets machine-translated from English (P0: pt, ko, ar by Google Translate).

Layout, the official MGSM format (see xlt_jax/evaluation/mgsm_format.py):

    DATA_DIR/mgsm_translated/mgsm_<lang>.tsv      question TAB answer, no header
    DATA_DIR/mgsm_translated/exemplars.json       the 8 exemplars of each language,
                                                  {"MGSM_EXEMPLARS": {lang: {"1".."8": {q, a}}}}
    DATA_DIR/mgsm_translated/TRANSLATION          optional: one line naming the
                                                  translator (recorded in provenance)

Every example is tagged `translated`: its provenance says so and names the
translator; its id is "mgsm_translated_<lang>_test:<line>", so it never collides
with a human-translated MGSM item.
"""

import os

from tasks.formats import rows
from tasks.naming import task_name
from xlt_jax.core import paths
from xlt_jax.evaluation import answers, mgsm_format

LICENCE = "CC BY-SA 4.0 (MGSM; machine translation by the user)"
SOURCE_URL = "https://github.com/google-research/url-nlp/tree/main/mgsm"
METRIC = "accuracy"
SPLITS = ("test",)
LANGUAGES = ("pt", "ko", "ar")
DEFAULT_TRANSLATOR = "Google Translate (P0), from mgsm_en.tsv"


def path(data_dir: str, language: str, split: str) -> str:
  del split  # test only
  return os.path.join(data_dir, "mgsm_translated", f"mgsm_{language}.tsv")


def translator(data_dir: str) -> str:
  """The translator named in DATA_DIR/mgsm_translated/TRANSLATION, or P0's default."""
  note = os.path.join(data_dir, "mgsm_translated", "TRANSLATION")
  if paths.isfile(note):
    with paths.open(note, encoding="utf-8") as file:
      return file.read().strip() or DEFAULT_TRANSLATOR
  return DEFAULT_TRANSLATOR


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """The translated questions with the language's 8-shot prompt (as MGSM).

  The TSV reader is strict (any malformed line is a DataFormatError naming it):
  a 250-row test set tolerates no bad row under any sensible policy.
  """
  del policy
  exemplar_path = rows.require_file(
      os.path.join(data_dir, "mgsm_translated", "exemplars.json"), "MGSM translated exemplars")
  exemplars = mgsm_format.read_exemplars(exemplar_path)[language]
  source = path(data_dir, language, split)
  name = task_name("mgsm_translated", language, split)
  examples = [
      rows.example(name, row.line_number, language,
                   mgsm_format.few_shot_prompt(exemplars, row.question),
                   answers.answer_sentence(language, row.answer), row.answer)
      for row in mgsm_format.read_mgsm_tsv(source)
  ]
  return rows.LoadResult(examples, [source, exemplar_path], len(examples),
                         tags={"translation": translator(data_dir)})
