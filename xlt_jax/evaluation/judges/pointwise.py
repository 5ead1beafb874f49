"""Pointwise judging (P0, P2, P3): one rating per response, with the wrong-language rule.

Per item, in order: when the rule is on and the response fails the language check
(`language_rule`), its score is 1 and the judge is not asked (P0: "if language-pass ==
False, score := 1, else score := judge rating"; no money is spent on a verdict that cannot
count). Otherwise the judge is asked; an unparsable reply is asked again (`reasks`), and
if still unparsable the item is counted as such and never scored.

Each item: `id`, `language`, `status` (`scored`, `wrong_language`, `unparsable`,
`request_failed`), `rating` (the judge's), `score` (what counts: the rating, or 1 under the
rule; None when not scored), `language_pass` (True / False / None, None also when the rule is
off), `explanation`, `replies` (every raw reply) and `error`.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from xlt_jax.evaluation.judges import language_rule
from xlt_jax.evaluation.judges.asking import ask_all
from xlt_jax.evaluation.judges.protocols import Protocol
from xlt_jax.services.chat_client import ChatClient

WRONG_LANGUAGE_SCORE = 1.0


def judge_pointwise(records: Sequence[Mapping[str, Any]], protocol: Protocol, switch_aware: bool,
                    params: Mapping[str, Any], reasks: int, client: ChatClient) -> list[dict]:
  """One result per record (`id`, `language`, `prompt`, `prediction`), in order."""
  items = []
  to_ask = []  # indexes of items the judge rates
  for record in records:
    language_pass = (language_rule.line_level_pass(record["prediction"], record["language"])
                     if switch_aware else None)
    item = {"id": record["id"], "language": record["language"], "status": None,
            "rating": None, "score": None, "language_pass": language_pass,
            "explanation": None, "replies": [], "error": None}
    if language_pass is False:
      item.update(status="wrong_language", score=WRONG_LANGUAGE_SCORE)
    else:
      to_ask.append(len(items))
    items.append(item)
  conversations = [protocol.messages(records[index]["prompt"], records[index]["prediction"])
                   for index in to_ask]
  asked = ask_all(client, conversations, params, protocol.prompt_version, protocol.parse, reasks)
  for index, answer in zip(to_ask, asked, strict=True):
    item = items[index]
    item.update(replies=answer.replies, error=answer.error)
    if answer.verdict is not None:
      rating, explanation = answer.verdict
      item.update(status="scored", rating=rating, score=rating, explanation=explanation)
    else:
      item["status"] = "request_failed" if answer.error else "unparsable"
  return items
