"""XQuAD (Artetxe et al., 2020): SQuAD v1.1 questions in 12 languages, parallel ids.

Layout, the official release files:

    DATA_DIR/xquad/xquad.<lang>.json

SQuAD format {"data": [{"title", "paragraphs": [{"context", "qas": [{"id",
"question", "answers": [{"text", "answer_start"}]}]}]}]}. An example's inputs
are the context, a blank line and the question; targets/answer the first
answer text. Ids "<task>:<qa id>": the same question has the same qa id in
every language.
"""

import json
import os

from tasks.formats import rows
from tasks.naming import task_name
from xlt_jax.core import paths
from xlt_jax.core.errors import DataFormatError

LICENCE = "CC BY-SA 4.0"
SOURCE_URL = "https://github.com/google-deepmind/xquad"
URL = "https://raw.githubusercontent.com/google-deepmind/xquad/master/xquad.{}.json"
METRIC = "squad_exact_match"
SPLITS = ("test",)
LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


def path(data_dir: str, language: str, split: str) -> str:
  del split
  return os.path.join(data_dir, "xquad", f"xquad.{language}.json")


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "XQuAD")
  try:
    with paths.open(source, encoding="utf-8") as file:
      content = json.load(file)
  except (UnicodeDecodeError, json.JSONDecodeError) as error:
    raise DataFormatError(f"{source}: not a UTF-8 JSON file ({error})") from None
  if not isinstance(content, dict) or not isinstance(content.get("data"), list):
    raise DataFormatError(f"{source}: expected SQuAD format {{\"data\": [...]}}")
  name = task_name("xquad", language, split)
  problems = rows.RowProblems(policy, source)
  examples = []
  for article_number, article in enumerate(content["data"]):
    for paragraph_number, paragraph in enumerate(article.get("paragraphs") or []):
      context = paragraph.get("context")
      for qa_number, qa in enumerate(paragraph.get("qas") or []):
        problems.seen()
        where = f"data[{article_number}].paragraphs[{paragraph_number}].qas[{qa_number}]"
        answers = qa.get("answers") if isinstance(qa, dict) else None
        if (not isinstance(context, str) or not isinstance(qa.get("question"), str)
            or not isinstance(qa.get("id"), str) or not answers
            or not isinstance(answers[0], dict) or not isinstance(answers[0].get("text"), str)):
          problems.report(source, where, "needs context, id, question and an answer text")
          continue
        answer = answers[0]["text"].strip()
        examples.append(rows.example(name, qa["id"], language,
                                     f"{context.strip()}\n\n{qa['question'].strip()}",
                                     answer, answer))
  return problems.result(examples, [source])
