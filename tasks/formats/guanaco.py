"""Guanaco (Dettmers et al., 2023): top-rated OASST conversations, per language (P3).

Layout, the official `timdettmers/openassistant-guanaco` files:

    DATA_DIR/guanaco/openassistant_best_replies_<train|eval>.jsonl

one {"text": "### Human: ...### Assistant: ...### Human: ..."} per line. Our splits:
train, test (= the release's eval).

P3's release (github.com/ZurichNLP/multilingual-instruction-tuning) adds two things
this reader accepts:

- a per-conversation language label `lang`, an OpenLID code such as "spa_Latn",
  "zho_Hans" or "eng_Latn" (assign_guanaco_langs.py writes `text`, `lang`, `id`;
  its data/guanaco/guanaco_train_mono_1k_en.json carries ISO codes, "lang": "en").
  A label counts for its base language (tasks/formats/language_codes.py), so
  "spa_Latn" is `es`;
- translated conversations whose turns are marked `<S1>` (user) and `<S2>`
  (assistant) instead of "### Human:" / "### Assistant:" (e.g.
  data/guanaco/guanaco_train_mono_1k_es.json: `{"text": "<S1> ¿Es normal ...? <S2>
  Un anillo ..."}`), with or without a space around the markers.

Conversations may end on a user turn in both the official files and P3's (the user's
last question went unanswered); that trailing turn is dropped, and the number of
conversations so trimmed is in the provenance tags. A conversation with no assistant
reply left is malformed.

A conversation belongs to language L when its label is of L (py3langid's guess on the
first user turn when unlabelled) and py3langid gives L a probability of at least
`ReadPolicy.min_language_confidence` on that turn; the others are counted in
`filtered` (`other_language`, `low_language_confidence`). A language no conversation
is labelled with fails, naming the labels the file has (py3langid's guesses for the
unlabelled ones as "py3langid:<code>").

inputs/targets are the first exchange; `conversation` is the whole dialogue
as JSON [{"role": "user"|"assistant", "content"}]. Ids "<task>:<line>".

Translated copies (tasks/variants.py) use the same format plus an optional
`parallel_id` per line: the line number, in the official file, of the English
conversation the line translates.
"""

import dataclasses
import json
import os
import re

from tasks.formats import language_codes, language_id, rows
from tasks.naming import task_name

LICENCE = "Apache-2.0"
SOURCE_URL = "https://huggingface.co/datasets/timdettmers/openassistant-guanaco"
HUB_REPO = "timdettmers/openassistant-guanaco"
METRIC = "llm_judge"
SPLITS = ("train", "test")
LANGUAGES = ("en", "es", "ru", "de", "zh", "fr", "ca", "th", "pt", "it", "uk", "eu", "ja")
_OFFICIAL_SPLIT = {"train": "train", "test": "eval"}
# The turn markers: the official "### Human:" / "### Assistant:" and P3's "<S1>" / "<S2>".
_TURN = re.compile(r"(### Human:|### Assistant:|<S1>|<S2>)")
_ROLE = {"### Human:": "user", "<S1>": "user", "### Assistant:": "assistant", "<S2>": "assistant"}


def path(data_dir: str, language: str, split: str) -> str:
  del language
  return os.path.join(data_dir, "guanaco", f"openassistant_best_replies_{_OFFICIAL_SPLIT[split]}.jsonl")


def parse_text(text: str) -> list[dict[str, str]] | str:
  """The turns of a Guanaco `text`, or what is wrong with it.

  A trailing user turn (a question left unanswered) is dropped: the turns returned
  always end with an assistant reply. See `trailing_user_turn` to tell whether one was.
  """
  pieces = _TURN.split(text)
  if pieces[0].strip():
    return "text before the first turn marker ('### Human:' or '<S1>')"
  turns = [{"role": _ROLE[marker], "content": content.strip()}
           for marker, content in zip(pieces[1::2], pieces[2::2])]
  if turns and turns[-1]["role"] == "user":
    turns = turns[:-1]
  roles = [turn["role"] for turn in turns]
  if not turns or roles[0] != "user":
    return "not a user-first conversation with an assistant reply"
  if any(first == second for first, second in zip(roles, roles[1:])):
    return "two turns of the same speaker in a row"
  if any(not turn["content"] for turn in turns):
    return "an empty turn"
  return turns


def trailing_user_turn(text: str) -> bool:
  """Whether a Guanaco `text` ends on a user turn (which `parse_text` drops)."""
  markers = _TURN.findall(text)
  return bool(markers) and _ROLE[markers[-1]] == "user"


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "Guanaco")
  name = task_name("guanaco", language, split)
  problems = rows.RowProblems(policy, source)
  labels = rows.LanguageField("guanaco", source, "lang", language)
  examples = []
  filtered = {"other_language": 0, "low_language_confidence": 0}
  trimmed = 0
  for line_number, row in rows.read_jsonl(source, problems):
    if not isinstance(row.get("text"), str):
      problems.report(source, line_number, "no string 'text'")
      continue
    turns = parse_text(row["text"])
    parallel = rows.parallel_id(row)
    if isinstance(turns, str) or isinstance(parallel, str):
      problems.report(source, line_number, turns if isinstance(turns, str) else parallel)
      continue
    guess, probability = language_id.identify(turns[0]["content"])
    labelled = isinstance(row.get("lang"), str)
    label = row["lang"] if labelled else guess
    matched = language_codes.base_language(label) == language
    labels.seen(label if labelled else f"py3langid:{guess}", matched)
    if not matched:
      filtered["other_language"] += 1
      continue
    confidence = probability if guess == language else 0.0
    if confidence < policy.min_language_confidence:
      filtered["low_language_confidence"] += 1
      continue
    trimmed += trailing_user_turn(row["text"])
    examples.append(rows.example(name, line_number, language, turns[0]["content"],
                                 turns[1]["content"],
                                 conversation=json.dumps(turns, ensure_ascii=False), **parallel))
  result = problems.result(examples, [source],
                           {"low_language_confidence": filtered["low_language_confidence"]})
  labels.check()  # after the malformed-row check, which names the bad lines
  # rows_read counts this language's rows (and the malformed ones, whose language
  # is unknown), so rows_read = kept + malformed + filtered holds per task.
  return dataclasses.replace(result, rows_read=result.rows_read - filtered["other_language"],
                             tags={"other_language_rows": str(filtered["other_language"]),
                                   "trailing_user_turns_dropped": str(trimmed)})
