"""`complete sharegpt`: the assistant turns of ShareGPT conversations, from any chat model.

P0 trains on ShareGPT prompts answered by Command R+, whose completions were never
released. This asks an OpenAI-compatible model (`xlt_jax.services.ChatClient`) for the
answer to every human turn of `DATA_DIR/sharegpt/<split>/<lang>.json` and writes
`<lang>.completions.jsonl` beside it, the file tasks/formats/sharegpt.py joins:
one {"id", "turn", "completion", "model"} per human turn (`turn` 0-based), where `model` is
the model asked (and `served_model` the name the server answered with, when it differs).
The reader checks only `id`, `turn` and `completion`, so the extra fields are tolerated.

Turn k is asked with the conversation so far: the system turn (if any), then each earlier
human turn followed by the *generated* answer to it (never the original gpt turn, which
the reader replaces too), then human turn k. Conversations are asked concurrently, the
turns of one in order. Every reply is cached when it arrives, so a rerun, or a run killed
halfway, asks only for what was never answered; the file is written atomically once a
language is complete.
"""

import concurrent.futures
from collections.abc import Sequence

from tasks.formats import rows
from tasks.formats import sharegpt as sharegpt_format
from xlt_jax.core import atomic_io
from xlt_jax.core.errors import UserInputError
from xlt_jax.services.chat_client import ChatClient, ChatRequest, ChatServiceError

PROMPT_VERSION = "sharegpt-completion-v1"  # the conversation as given, no added instruction


class CompletionsFailed(Exception):
  """Some turns got no completion (their requests failed for good); the rest are cached."""


def _conversations(data_dir: str, language: str, split: str) -> list[tuple[str, list[dict]]]:
  source = rows.require_file(sharegpt_format.path(data_dir, language, split), "ShareGPT")
  found = []
  for position, record in enumerate(rows.read_json_list(source, "conversations"), start=1):
    parsed = sharegpt_format.parse_turns(record)
    if isinstance(parsed, str):
      raise UserInputError(f"{source}: conversation {position}: {parsed}")
    found.append(parsed)
  return found


def _complete_one(client: ChatClient, turns: list[dict], params: dict) -> list[tuple[str, str]]:
  """(completion, served model) for each human turn of one conversation, in order."""
  history, answers = [], []
  for turn in turns:
    if turn["role"] == "assistant":
      continue
    history.append(turn)
    if turn["role"] != "user":
      continue
    reply = client.complete(ChatRequest(list(history), params, PROMPT_VERSION))
    history.append({"role": "assistant", "content": reply.content})
    answers.append((reply.content, reply.model or ""))
  return answers


def complete_sharegpt(client: ChatClient, data_dir: str, languages: Sequence[str],
                      split: str, params: dict | None = None) -> dict[str, int]:
  """Writes `<lang>.completions.jsonl` for each language; returns completions per language.

  Raises:
    UserInputError: a missing or malformed conversations file.
    CompletionsFailed: some requests failed for good (the others' replies are cached).
  """
  params = {"temperature": 0, **(params or {})}
  model = client.config.model
  counts, failures = {}, []
  for language in languages:
    conversations = _conversations(data_dir, language, split)

    def one(item: tuple[str, list[dict]]) -> list[tuple[str, str]] | ChatServiceError:
      try:
        return _complete_one(client, item[1], params)
      except ChatServiceError as error:
        return error

    with concurrent.futures.ThreadPoolExecutor(client.config.max_concurrency) as pool:
      results = list(pool.map(one, conversations))
    lines = []
    for (conversation_id, _), result in zip(conversations, results):
      if isinstance(result, ChatServiceError):
        failures.append(f"{language} conversation {conversation_id!r}: {result}")
        continue
      for turn, (completion, served) in enumerate(result):
        line = {"id": conversation_id, "turn": turn, "completion": completion, "model": model}
        if served and served != model:
          line["served_model"] = served
        lines.append(line)
    if failures:
      raise CompletionsFailed(f"{len(failures)} conversations got no completion (first:"
                              f" {failures[0]}); rerun to ask for them again")
    atomic_io.write_jsonl(sharegpt_format.completions_path(data_dir, language, split), lines)
    counts[language] = len(lines)
  return counts

