"""Generated stand-ins for P2's datasets (Chen et al.: native / translated / round-trip
tuning on the Aya dataset) that `p0_smoke` (MGSM) and `paper_smoke` (XQuAD) do not cover,
each in its release's layout and format, so that `gin/smoke/p2.gin` runs end to end
offline through the same readers as real data. Each layout is the one its reader's
module documents, from the release it cites:

- The Aya dataset (`tasks/formats/aya_dataset.py`, Hub CohereForAI/aya_dataset):
  `aya_dataset/data/<train|test>-00000-of-00001.parquet` with `inputs, targets, language,
  language_code (ISO 639-3), annotation_type, user_id`, every language in one file. The
  test file holds validation + test items per language (P2 validates on held-out
  instruction data, ConditionDesign.validation_split = "test", and scores its perplexity).
- Its variants (`tasks/variants.py`): `variants/<translated|rtt>_<google|cohere>/
  aya_dataset/data/...` in the same schema. A translated file has, for each non-English
  language, one row per English row of the official file with `parallel_id` its row
  number there; a round-trip file one row per native row, without `parallel_id`.
- Okapi's MMLU (`tasks/formats/okapi_mmlu.py`): `okapi_mmlu/<lang>_<dev|test>.json`, JSON
  lists of `{instruction, option_a, ..., option_d, answer}` (a letter); five dev records.
- MMMLU (`tasks/formats/mmmlu.py`, Hub openai/MMMLU): `mmmlu/test/mmlu_<LOCALE>.csv` with
  `Question, A, B, C, D, Answer, Subject`; one subject of SHOTS + test rows, as the
  few-shot exemplars are the subject's first other rows.
- CMMLU (`tasks/formats/cmmlu.py`, haonan-li/cmmlu's archive): `cmmlu/<dev|test>/<subject>
  .csv` for all 67 subjects, header `,Question,A,B,C,D,Answer` (a row index first); five
  dev rows per subject, the test rows dealt round the subjects in order.
- C-Eval (`tasks/formats/ceval.py`, Hub ceval/ceval-exam): `ceval/<subject>/<dev|val>
  .parquet` for all 52 subjects with `id, question, A, B, C, D, answer, explanation`; five
  dev rows per subject (the 5-shot pool), the scored rows dealt round the subjects' val
  files. The release's test split hides its labels and `prepare ceval` does not copy it,
  so no test file is written.
- The human-translated OASST questions (`tasks/formats/oasst_human_translated.py`):
  `oasst_human_translated/test_<lang>.jsonl`, `{"id", "prompt"}`, ids parallel.
- TyDi QA GoldP (`tasks/formats/tydiqa.py`): `tydiqa/tydiqa-goldp-v1.1-<train|dev>.json` in
  SQuAD format, every language in one file, qa ids "<language name>-<n>"; the train file
  is the 1-shot exemplar pool (five questions per language).

A multiple-choice item is a demo word problem whose options are its answer and three
other numbers, the answer under letter A-D in turn.
"""

import csv
import io

import pyarrow
import pyarrow.parquet

from tasks.formats import ceval, mmmlu, tydiqa
from tasks.formats.chinese_exam_subjects import CEVAL_SUBJECTS, CMMLU_SUBJECTS
from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo
from xlt_jax.data.p0_smoke import _ISO_639_3
from xlt_jax.evaluation import answers

# What this module writes; with p0_smoke's and paper_smoke's, a study of these needs no
# DATA_DIR.
VARIANTS = ("translated_google", "translated_cohere", "rtt_google", "rtt_cohere")
DATASETS = ("aya_dataset", *(f"aya_dataset_{variant}" for variant in VARIANTS), "okapi_mmlu",
            "mmmlu", "cmmlu", "ceval", "oasst_human_translated", "tydiqa")
SPLITS = ("train", "validation", "test")
AYA_LANGUAGES = demo.DEMO_LANGUAGES
# The demo languages each test set has (P2's es / ru / zh where the demo has them).
OKAPI_LANGUAGES = ("es", "fr", "zh", "ar", "pt")
MMMLU_LANGUAGES = ("es", "fr", "ja", "zh", "ar", "ko", "pt")
OASST_LANGUAGES = ("en", "es", "fr", "zh")
TYDIQA_LANGUAGES = ("en", "ar", "ko")
SHOTS = 5
_LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "fr": "French", "ja": "Japanese",
                   "zh": "Chinese", "ar": "Standard Arabic", "ko": "Korean", "pt": "Portuguese"}
_AYA_COLUMNS = ("inputs", "targets", "language", "language_code", "annotation_type", "user_id")
_LETTERS = ("A", "B", "C", "D")


def _choice(index: int, answer: int) -> tuple[list[str], str]:
  """Four distinct numbers, the answer under letter A, B, C, D as `index` goes round."""
  others = [str(answer + offset) for offset in (1, 2, 3)]
  position = index % 4
  return others[:position] + [str(answer)] + others[position:], _LETTERS[position]


def _write_parquet(path: str, rows: list[dict], columns: tuple[str, ...]) -> None:
  table = pyarrow.table({name: [row.get(name) for row in rows] for name in columns})
  atomic_io.write_atomically(path, lambda file: pyarrow.parquet.write_table(table, file),
                             mode="wb")


def _aya_row(language: str, question: str, answer: int, user: int, **extra) -> dict:
  return {"inputs": question, "targets": answers.answer_sentence(language, answer),
          "language": _LANGUAGE_NAMES[language], "language_code": _ISO_639_3[language],
          "annotation_type": "original-annotations", "user_id": f"user{user:04d}", **extra}


def _write_aya(data_dir: str, splits: dict[str, dict[str, list]]) -> None:
  """The official files and the four variants' (see the module docstring)."""
  file = "aya_dataset/data/{}-00000-of-00001.parquet"
  for split, problems in splits.items():
    official = [_aya_row(language, *problem, index) for language in AYA_LANGUAGES
                for index, problem in enumerate(problems[language])]
    _write_parquet(paths.join(data_dir, file.format(split)), official, _AYA_COLUMNS)
    english_rows = [number for number, row in enumerate(official) if row["language_code"] == "eng"]
    others = [language for language in AYA_LANGUAGES if language != "en"]
    # Translations of every English row: problem k of a language stands in for row k's.
    translated = [_aya_row(language, *problems[language][index], index, parallel_id=number)
                  for language in others for index, number in enumerate(english_rows)]
    round_trip = [row for row in official if row["language_code"] != "eng"]
    for variant in VARIANTS:
      rows, columns = ((translated, _AYA_COLUMNS + ("parallel_id",))
                       if variant.startswith("translated") else (round_trip, _AYA_COLUMNS))
      _write_parquet(paths.join(data_dir, "variants", variant, file.format(split)), rows, columns)


def _write_okapi(data_dir: str, language: str, dev: list, test: list) -> None:
  for name, problems in (("dev", dev), ("test", test)):
    records = []
    for index, (question, answer) in enumerate(problems):
      options, letter = _choice(index, answer)
      records.append({"instruction": question, **dict(zip(
          ("option_a", "option_b", "option_c", "option_d"), options)), "answer": letter})
    atomic_io.write_json(paths.join(data_dir, "okapi_mmlu", f"{language}_{name}.json"), records)


def _csv_text(header: tuple[str, ...], rows: list[tuple]) -> str:
  text = io.StringIO()
  writer = csv.writer(text, lineterminator="\n")
  writer.writerow(header)
  writer.writerows(rows)
  return text.getvalue()


def _mc_rows(problems: list) -> list[tuple]:
  """(question, A, B, C, D, answer letter) per problem."""
  return [(question, *options, letter) for index, (question, answer) in enumerate(problems)
          for options, letter in [_choice(index, answer)]]


def _write_mmmlu(data_dir: str, language: str, problems: list) -> None:
  rows = [(*row, "elementary_mathematics") for row in _mc_rows(problems)]
  atomic_io.write_text(paths.join(data_dir, "mmmlu", mmmlu.hub_file(language)),
                       _csv_text(mmmlu.COLUMNS, rows))


def _write_cmmlu(data_dir: str, dev: list, test: list) -> None:
  subjects = list(CMMLU_SUBJECTS)
  header = ("", "Question", "A", "B", "C", "D", "Answer")
  test_rows = _mc_rows(test)
  for number, subject in enumerate(subjects):
    shots = _mc_rows(dev[number * SHOTS:(number + 1) * SHOTS])
    mine = test_rows[number::len(subjects)]
    for folder, rows in (("dev", shots), ("test", mine)):
      atomic_io.write_text(paths.join(data_dir, "cmmlu", folder, f"{subject}.csv"),
                           _csv_text(header, [(index, *row) for index, row in enumerate(rows)]))


def _write_ceval(data_dir: str, dev: list, val: list) -> None:
  columns = ceval.COLUMNS + ("explanation",)
  val_rows = _mc_rows(val)
  for number, subject in enumerate(CEVAL_SUBJECTS):
    shots = _mc_rows(dev[number * SHOTS:(number + 1) * SHOTS])
    for split, chosen in (("dev", shots), ("val", val_rows[number::len(CEVAL_SUBJECTS)])):
      # ids count from 0 in each file, as the release's do; dev rows carry an explanation.
      records = [dict(zip(columns, (index, *row, "demo" if split == "dev" else "")))
                 for index, row in enumerate(chosen)]
      table = pyarrow.table({name: pyarrow.array([record[name] for record in records],
                                                 pyarrow.int32() if name == "id"
                                                 else pyarrow.string())
                             for name in columns})
      atomic_io.write_atomically(ceval.subject_path(data_dir, subject, split),
                                 lambda file, table=table: pyarrow.parquet.write_table(table, file),
                                 mode="wb")


def _write_oasst(data_dir: str, tests: dict[str, list]) -> None:
  for language in OASST_LANGUAGES:
    atomic_io.write_jsonl(
        paths.join(data_dir, "oasst_human_translated", f"test_{language}.jsonl"),
        [{"id": f"00000000-0000-4000-8000-{index:012d}", "prompt": question}
         for index, (question, _) in enumerate(tests[language])])


def _write_tydiqa(data_dir: str, splits: dict[str, dict[str, list]]) -> None:
  for split, release in (("train", "train"), ("test", "dev")):
    paragraphs = []
    for language in TYDIQA_LANGUAGES:
      for index, (question, answer) in enumerate(splits[split][language]):
        context = f"{question} {answers.answer_sentence(language, answer)}"
        paragraphs.append({"context": context, "qas": [{
            "id": f"{tydiqa.ID_PREFIXES[language]}-{split}-{index}", "question": question,
            "answers": [{"text": str(answer), "answer_start": context.rindex(str(answer))}]}]})
    atomic_io.write_json(paths.join(data_dir, "tydiqa", tydiqa.file_name(release)),
                         {"data": [{"title": "demo", "paragraphs": paragraphs}], "version": "1.1"})


def write_p2_smoke_datasets(data_dir: str, sizes: dict[str, int], seed: int = 0) -> None:
  """Writes every dataset of DATASETS under `data_dir` in the languages above.

  Args:
    sizes: items per language for "train", "validation" and "test" (test sets; few-shot
      pools, and TyDi QA's five-question train file, come on top, disjoint from them).

  Raises:
    UserInputError: a negative size, or more items than the demo templates produce.
  """
  if any(sizes.get(split, -1) < 0 for split in SPLITS):
    raise UserInputError(f"P2 smoke data sizes must be >= 0 for {', '.join(SPLITS)}: {sizes}")
  train, held_out, test = sizes["train"], sizes["validation"] + sizes["test"], sizes["test"]
  pool = SHOTS * len(CMMLU_SUBJECTS)  # few-shot exemplars beyond the items
  problems = {language: demo.generate_problems(language, train + held_out + pool, seed)
              for language in AYA_LANGUAGES}
  aya = {"train": {language: found[:train] for language, found in problems.items()},
         "test": {language: found[train:train + held_out] for language, found in problems.items()}}
  _write_aya(data_dir, aya)
  tests = {language: found[train + held_out - test:train + held_out]
           for language, found in problems.items()}
  shots = {language: found[train + held_out:] for language, found in problems.items()}
  for language in OKAPI_LANGUAGES:
    _write_okapi(data_dir, language, shots[language][:SHOTS], tests[language])
  for language in MMMLU_LANGUAGES:
    _write_mmmlu(data_dir, language, shots[language][:SHOTS] + tests[language])
  _write_cmmlu(data_dir, shots["zh"], tests["zh"])
  _write_ceval(data_dir, shots["zh"], tests["zh"])
  _write_oasst(data_dir, tests)
  _write_tydiqa(data_dir, {"train": {language: shots[language][:SHOTS]
                                     for language in TYDIQA_LANGUAGES}, "test": tests})
