"""OpenAssistant (OASST1) first turns: a root prompt and its best-ranked reply (P1, P2).

Layout, the official `OpenAssistant/oasst1` message table unchanged:

    DATA_DIR/oasst1/<train|validation>.parquet

one row per message with `message_id, parent_id, text, role ("prompter" |
"assistant"), lang, rank` (the card's feature list:
https://huggingface.co/datasets/OpenAssistant/oasst1). A language's examples are
its root prompts (parent_id null, role prompter) whose `lang` is of the language,
paired with their rank-0 assistant reply; prompts without a ranked reply are
counted as filtered. Ids are "<task>:<message_id of the prompt>".

`lang` holds BCP-47 tags, some with a region: "pt-BR" and "uk-UA" next to "en",
"es", "zh" (see tasks/formats/language_codes.py for where that is documented). A
tag counts for its base language, so `pt` reads the "pt-BR" prompts; a language
none of whose root prompts carries such a tag fails with the tags the file has.
"""

import os

from tasks.formats import language_codes, rows
from tasks.naming import task_name

LICENCE = "Apache-2.0"
SOURCE_URL = "https://huggingface.co/datasets/OpenAssistant/oasst1"
HUB_REPO = "OpenAssistant/oasst1"
METRIC = "llm_judge"
SPLITS = ("train", "validation")
LANGUAGES = ("en", "es", "ru", "de", "zh", "fr", "ca", "th", "pt", "it", "uk", "eu", "ja")
COLUMNS = ("message_id", "parent_id", "text", "role", "lang", "rank")


def hub_file(split: str) -> str:
  return f"{split}.parquet"


def path(data_dir: str, language: str, split: str) -> str:
  del language
  return os.path.join(data_dir, "oasst1", hub_file(split))


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "OASST1")
  table = rows.read_parquet(source, COLUMNS)
  messages = table.select(list(COLUMNS)).to_pylist()
  best_reply: dict[str, tuple[float, str]] = {}
  for message in messages:
    if message["role"] == "assistant" and message["rank"] is not None and message["parent_id"]:
      current = best_reply.get(message["parent_id"])
      if current is None or message["rank"] < current[0]:
        best_reply[message["parent_id"]] = (message["rank"], message["text"])
  name = task_name("oasst", language, split)
  problems = rows.RowProblems(policy, f"{source} ({language})")
  tags = rows.LanguageField("oasst1", source, "lang", language)
  examples, unanswered = [], 0
  for row_number, message in enumerate(messages):
    if message["parent_id"] is not None or message["role"] != "prompter":
      continue
    matched = language_codes.base_language(message["lang"]) == language
    tags.seen(message["lang"], matched)
    if not matched:
      continue
    problems.seen()
    if not isinstance(message["text"], str) or not message["text"].strip():
      problems.report(source, f"row {row_number}", "root prompt without text")
      continue
    reply = best_reply.get(message["message_id"])
    if reply is None or not reply[1].strip():
      unanswered += 1
      continue
    examples.append(rows.example(name, message["message_id"], language,
                                 message["text"].strip(), reply[1].strip()))
  result = problems.result(examples, [source], {"no_ranked_reply": unanswered})
  tags.check()  # after the malformed-row check: it names bad lines
  return result
