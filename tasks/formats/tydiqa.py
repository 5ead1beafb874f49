"""TyDi QA GoldP (Clark et al., 2020): native extractive QA in 9 languages, 1-shot (P2: ru).

Layout, the official Gold Passage release files unchanged:

    DATA_DIR/tydiqa/tydiqa-goldp-v1.1-<train|dev>.json

downloaded from https://storage.googleapis.com/tydiqa/v1.1/ (the URLs of
allenai/open-instruct scripts/prepare_eval_data.sh; google-research-datasets/tydiqa
gold_passage_baseline/README.md: GoldP is SQuAD-1.1-compatible, only the gold passage,
unanswerable questions dropped, Thai and Japanese removed). SQuAD format {"data":
[{"paragraphs": [{"context", "qas": [{"id", "question", "answers": [{"text",
"answer_start"}]}]}]}]}; a question's language is its id's prefix before the first "-"
("russian-...": allenai/open-instruct eval/tydiqa/run_eval.py, `qa["id"].split("-")[0]`,
as lm-evaluation-harness's tydiqa_goldp tasks filter too).

Our split: validation (= dev), scored like XQuAD (SQuAD exact match / F1). The prompt is
open-instruct's 1-shot TyDi QA prompt with the gold passage (run_eval.py,
`encoding_templates_with_context`, n_shot 1, no chat format): the language's instruction,
a blank line, the exemplar's "<passage label> <context>\\n<question label> <question>\\n<answer
label> <first answer>", a blank line, then the item's passage and question and the answer
label. The exemplar is one question of the language's train split drawn with
random.Random(42) (open-instruct draws with `random.sample` after `random.seed(42)`; its
draw also depends on set iteration order, so it is not reproduced exactly). Unlike
open-instruct, passages are not cut to 512 tokens here (that depends on the model's
tokenizer). targets/answer are the first answer text. Ids "<task>:<qa id>".
"""

import json
import os
import random

from tasks.formats import rows
from tasks.naming import task_name
from xlt_jax.core import paths
from xlt_jax.core.errors import DataFormatError

LICENCE = "Apache-2.0"
SOURCE_URL = "https://github.com/google-research-datasets/tydiqa"
URL = "https://storage.googleapis.com/tydiqa/v1.1/{}"
METRIC = "squad_exact_match"
SPLITS = ("validation",)
# Our code -> the id prefix the release uses.
ID_PREFIXES = {"ar": "arabic", "bn": "bengali", "en": "english", "fi": "finnish",
               "id": "indonesian", "ko": "korean", "ru": "russian", "sw": "swahili",
               "te": "telugu"}
LANGUAGES = tuple(ID_PREFIXES)
SHOTS = 1  # P2: TyDi QA 1-shot
SEED = 42
# open-instruct's (instruction, passage, question, answer) labels per language, verbatim.
TEMPLATES = {
    "en": ("Answer the following question based on the information in the given passage.",
           "Passage:", "Question:", "Answer:"),
    "ar": ("أجب على السؤال التالي بناءً على المعلومات في المقطع المعطى.", "المقطع:", "السؤال:",
           "الإجابة:"),
    "bn": ("প্রদত্ত অধ্যায়ের তথ্যের উপর ভিত্তি করে নিম্নলিখিত প্রশ্নের উত্তর দিন।", "অধ্যায়:",
           "প্রশ্ন:", "উত্তর:"),
    "fi": ("Vastaa seuraavaan kysymykseen annetun kappaleen tiedon perusteella.", "Kappale:",
           "Kysymys:", "Vastaus:"),
    "id": ("Jawab pertanyaan berikut berdasarkan informasi di bagian yang diberikan.",
           "Bagian:", "Pertanyaan:", "Jawaban:"),
    "ko": ("주어진 문단의 정보에 기반하여 다음 질문에 답하십시오.", "문단:", "질문:", "답변:"),
    "ru": ("Ответьте на следующий вопрос на основе информации в данном отрывке.", "Отрывок:",
           "Вопрос:", "Ответ:"),
    "sw": ("Jibu swali lifuatalo kulingana na habari kwenye kifungu kilichotolewa.",
           "Kifungu:", "Swali:", "Jibu:"),
    "te": ("ఇచ్చిన పేరాలోని సమాచారం ఆధారంగా కింది ప్రశ్నకు సమాధానం ఇవ్వండి.", "పేరా:",
           "ప్రశ్న:", "సమాధానం:"),
}
_RELEASE_SPLIT = {"train": "train", "validation": "dev"}


def file_name(release_split: str) -> str:
  return f"tydiqa-goldp-v1.1-{release_split}.json"


def release_path(data_dir: str, split: str) -> str:
  """The file of `split` ("train" or "validation")."""
  return os.path.join(data_dir, "tydiqa", file_name(_RELEASE_SPLIT[split]))


def path(data_dir: str, language: str, split: str) -> str:
  del language
  return release_path(data_dir, split)


def _questions(source: str, language: str, problems: rows.RowProblems) -> list[dict]:
  """The language's {id, context, question, answer} of one SQuAD-format file, in order."""
  try:
    with paths.open(source, encoding="utf-8") as file:
      content = json.load(file)
  except (UnicodeDecodeError, json.JSONDecodeError) as error:
    raise DataFormatError(f"{source}: not a UTF-8 JSON file ({error})") from None
  if not isinstance(content, dict) or not isinstance(content.get("data"), list):
    raise DataFormatError(f"{source}: expected SQuAD format {{\"data\": [...]}}")
  prefixes = rows.LanguageField("tydiqa", source, "id prefix", ID_PREFIXES[language])
  found = []
  for article_number, article in enumerate(content["data"]):
    for paragraph_number, paragraph in enumerate((article or {}).get("paragraphs") or []):
      for qa_number, qa in enumerate(paragraph.get("qas") or []):
        where = f"data[{article_number}].paragraphs[{paragraph_number}].qas[{qa_number}]"
        qa_id = qa.get("id") if isinstance(qa, dict) else None
        prefix = qa_id.split("-")[0] if isinstance(qa_id, str) else None
        prefixes.seen(prefix, prefix == ID_PREFIXES[language])
        if prefix != ID_PREFIXES[language]:
          continue
        problems.seen()
        answers = qa.get("answers")
        if (not isinstance(paragraph.get("context"), str) or not isinstance(qa.get("question"), str)
            or not answers or not isinstance(answers[0], dict)
            or not isinstance(answers[0].get("text"), str) or not answers[0]["text"].strip()):
          problems.report(source, where, "needs context, question and an answer text")
          continue
        found.append({"id": qa_id, "context": paragraph["context"].strip(),
                      "question": qa["question"].strip(), "answer": answers[0]["text"].strip()})
  prefixes.check()
  return found


def exemplars(pool: list[dict], shots: int = SHOTS, seed: int = SEED) -> list[dict]:
  """`shots` questions of `pool` drawn with random.Random(seed) (the same for every item)."""
  if len(pool) < shots:
    raise DataFormatError(f"TyDi QA: {len(pool)} train questions, need {shots} exemplars")
  return random.Random(seed).sample(pool, shots)


def prompt(language: str, shots: list[dict], item: dict) -> str:
  """open-instruct's TyDi QA prompt with the gold passage and `shots` answered exemplars."""
  instruction, passage, question, answer = TEMPLATES[language]
  text = instruction + "\n\n"
  if shots:
    text += "\n\n".join(f"{passage} {shot['context']}\n{question} {shot['question']}\n"
                        f"{answer} {shot['answer']}" for shot in shots) + "\n\n"
  return text + f"{passage} {item['context']}\n{question} {item['question']}\n{answer}"


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(release_path(data_dir, split), "TyDi QA GoldP")
  train = rows.require_file(release_path(data_dir, "train"), "TyDi QA GoldP train (exemplars)")
  # The train split is only the exemplar pool: its rows are counted apart from this split's.
  train_problems = rows.RowProblems(policy, f"{train} ({language})")
  pool = _questions(train, language, train_problems)
  train_problems.check()
  shots = exemplars(pool)
  name = task_name("tydiqa", language, split)
  problems = rows.RowProblems(policy, f"{source} ({language})")
  examples = [rows.example(name, item["id"], language, prompt(language, shots, item),
                           item["answer"], item["answer"])
              for item in _questions(source, language, problems)]
  return problems.result(examples, [source, train])
