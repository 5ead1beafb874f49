"""Asking a judge for many verdicts: an unparsable reply is asked again (a new cache entry,
`attempt` + 1) up to `reasks` times, every raw reply is kept, and a request that failed for
good (the client already retried it) is recorded, not asked again. Identical conversations
are asked once and share the reply (P1's self-comparison shows the same two answers in both
orders; a prediction set may repeat an item)."""

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from xlt_jax.services.chat_client import ChatClient, ChatRequest, ChatServiceError


@dataclasses.dataclass
class Asked:
  verdict: Any | None = None  # the parsed verdict; None when unparsable or failed
  replies: list[str] = dataclasses.field(default_factory=list)  # every raw reply, in order
  error: str | None = None  # why the request failed for good, when it did


def ask_all(client: ChatClient, conversations: Sequence[list[dict[str, str]]],
            params: Mapping[str, Any], prompt_version: str, parse: Callable[[str], Any],
            reasks: int) -> list[Asked]:
  """One `Asked` per conversation, in order; see the module docstring."""
  first_of = {}  # conversation as canonical JSON -> the first index holding it
  copies = [first_of.setdefault(json.dumps(conversation, sort_keys=True), index)
            for index, conversation in enumerate(conversations)]
  results = [Asked() for _ in conversations]
  pending = sorted(set(copies))
  for attempt in range(reasks + 1):
    if not pending:
      break
    replies = client.complete_many([ChatRequest(conversations[index], params, prompt_version,
                                                attempt) for index in pending])
    unparsed = []
    for index, reply in zip(pending, replies, strict=True):
      if isinstance(reply, ChatServiceError):
        results[index].error = str(reply)
        continue
      results[index].replies.append(reply.content)
      verdict = parse(reply.content)
      if verdict is None:
        unparsed.append(index)
      else:
        results[index].verdict = verdict
    pending = unparsed
  return [dataclasses.replace(results[first], replies=list(results[first].replies))
          for first in copies]
