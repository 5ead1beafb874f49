"""The four judge protocols and the configuration that chooses one (a plain frozen dataclass
that gin binds at the binaries).

| protocol       | paper | kind      | scale | wrong-language rule (default)      |
|----------------|-------|-----------|-------|------------------------------------|
| `p0_pointwise` | P0    | pointwise | 1-5   | on: a failing response scores 1    |
| `p1_pairwise`  | P1    | pairwise  | 1/0.5/0 (win/tie/loss, both orders) | none (P1 argues against it) |
| `p2_pointwise` | P2    | pointwise | 1-5, summed over items | off (P2 applies none) |
| `p3_likert`    | P3    | pointwise | 1-6   | on: a failing response scores 1    |

The wrong-language check is the Language Confusion Benchmark's line-level pass for every
protocol that applies the rule (`language_rule`): P0 names it; P3 used OpenLID on the whole
response, which this code does not reimplement.

Request settings: P1 asks for greedy decoding (temperature 0) and one digit; P3's released
judge used temperature 0, seed 42 and JSON mode; P0 and P2 name none, so temperature 0 is
used (a judge's verdict should not be sampled). Each can be overridden in `JudgeConfig`.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation.judges import parsing, prompts

POINTWISE = "pointwise"
PAIRWISE = "pairwise"


@dataclasses.dataclass(frozen=True)
class Protocol:
  name: str
  kind: str  # POINTWISE or PAIRWISE
  prompt_version: str
  messages: Callable[..., list[dict[str, str]]]  # prompts.pN_messages
  params: dict[str, Any]  # request settings sent to the API
  switch_aware: bool  # the paper's own wrong-language rule
  scale: tuple[int, int] | None = None  # pointwise ratings
  # Pointwise: reply -> (rating, explanation) or None.
  parse: Callable[[str], tuple[float, str] | None] | None = None


def _bracket(scale: tuple[int, int]) -> Callable[[str], tuple[float, str] | None]:
  def parse(reply: str) -> tuple[float, str] | None:
    rating = parsing.bracket_rating(reply, scale)
    return None if rating is None else (rating, parsing.explanation(reply))
  return parse


def _likert(reply: str) -> tuple[float, str] | None:
  parsed = parsing.likert_json(reply)
  return None if parsed is None else (float(parsed[0]), parsed[1])


PROTOCOLS = {
    "p0_pointwise": Protocol("p0_pointwise", POINTWISE, prompts.P0_VERSION, prompts.p0_messages,
                             {"temperature": 0.0}, switch_aware=True, scale=(1, 5),
                             parse=_bracket((1, 5))),
    "p1_pairwise": Protocol("p1_pairwise", PAIRWISE, prompts.P1_VERSION, prompts.p1_messages,
                            {"temperature": 0.0, "max_tokens": 4}, switch_aware=False),
    "p2_pointwise": Protocol("p2_pointwise", POINTWISE, prompts.P2_VERSION, prompts.p2_messages,
                             {"temperature": 0.0}, switch_aware=False, scale=(1, 5),
                             parse=_bracket((1, 5))),
    "p3_likert": Protocol("p3_likert", POINTWISE, prompts.P3_VERSION, prompts.p3_messages,
                          {"temperature": 0.0, "seed": 42,
                           "response_format": {"type": "json_object"}},
                          switch_aware=True, scale=(1, 6), parse=_likert),
}


@dataclasses.dataclass(frozen=True)
class JudgeConfig:
  """Which judge protocol to run, and how."""
  protocol: str = "p0_pointwise"  # a key of PROTOCOLS
  switch_aware: bool | None = None  # None: the protocol's own rule (table above)
  reasks: int = 1  # an unparsable reply is asked again this many times, then counted
  temperature: float | None = None  # None: the protocol's setting
  max_tokens: int | None = None  # None: the protocol's setting (the server's default if none)


def resolve(judge: JudgeConfig) -> tuple[Protocol, bool, dict[str, Any]]:
  """The protocol, whether its wrong-language rule applies, and the request settings.

  Raises:
    UserInputError: an unknown protocol, or a wrong-language rule asked of the pairwise one.
  """
  if judge.protocol not in PROTOCOLS:
    raise UserInputError(f"JudgeConfig.protocol: unknown judge protocol {judge.protocol!r}; "
                         f"known: {', '.join(sorted(PROTOCOLS))}")
  protocol = PROTOCOLS[judge.protocol]
  switch_aware = protocol.switch_aware if judge.switch_aware is None else judge.switch_aware
  if switch_aware and protocol.kind == PAIRWISE:
    raise UserInputError("JudgeConfig.switch_aware: the wrong-language rule scores single "
                         f"responses; {judge.protocol} compares two")
  if judge.reasks < 0:
    raise UserInputError(f"JudgeConfig.reasks must be 0 or more, got {judge.reasks}")
  params = dict(protocol.params)
  if judge.temperature is not None:
    params["temperature"] = judge.temperature
  if judge.max_tokens is not None:
    params["max_tokens"] = judge.max_tokens
  return protocol, switch_aware, params
