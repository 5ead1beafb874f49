"""P1's side-by-side judging: each response against a reference model's, shown in both orders.

The judge sees the instruction and two answers twice, once with ours as Answer1 and once as
Answer2 ("presenting both responses to the model twice, alternating the order"). Ours wins
when chosen in both orders, loses when chosen in neither, ties otherwise ("the model selects
a different response for each order"); a win scores 1, a tie 0.5, a loss 0 ("discounted
tie"). An order whose reply stays unparsable after the re-asks (or whose request failed)
leaves the item unscored and counted.

Each item: `id`, `language`, `status` (`scored`, `unparsable`, `request_failed`), `verdict`
(`win`, `tie`, `loss`), `score`, `choice_model_first` / `choice_model_second` (the digit the
judge wrote with ours shown first / second), `replies_model_first` / `replies_model_second`
(every raw reply) and `error`.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from xlt_jax.evaluation.judges import parsing
from xlt_jax.evaluation.judges.asking import ask_all
from xlt_jax.evaluation.judges.protocols import Protocol
from xlt_jax.services.chat_client import ChatClient

SCORES = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def verdict(choice_model_first: int, choice_model_second: int) -> str:
  """`win`, `tie` or `loss` of our response, from the judge's digit in each order."""
  chosen = (choice_model_first == 1) + (choice_model_second == 2)
  return ("loss", "tie", "win")[chosen]


def judge_pairwise(records: Sequence[Mapping[str, Any]], protocol: Protocol,
                   params: Mapping[str, Any], reasks: int, client: ChatClient) -> list[dict]:
  """One result per record (`id`, `language`, `prompt`, `prediction`,
  `reference_prediction`), in order."""
  conversations = []
  for record in records:
    ours, theirs = record["prediction"], record["reference_prediction"]
    conversations.append(protocol.messages(record["prompt"], ours, theirs))
    conversations.append(protocol.messages(record["prompt"], theirs, ours))
  asked = ask_all(client, conversations, params, protocol.prompt_version,
                  parsing.single_digit_choice, reasks)
  items = []
  for position, record in enumerate(records):
    first, second = asked[2 * position], asked[2 * position + 1]
    item = {"id": record["id"], "language": record["language"], "status": "scored",
            "verdict": None, "score": None, "choice_model_first": first.verdict,
            "choice_model_second": second.verdict, "replies_model_first": first.replies,
            "replies_model_second": second.replies, "error": first.error or second.error}
    if item["error"]:
      item["status"] = "request_failed"
    elif first.verdict is None or second.verdict is None:
      item["status"] = "unparsable"
    else:
      item["verdict"] = verdict(first.verdict, second.verdict)
      item["score"] = SCORES[item["verdict"]]
    items.append(item)
  return items
