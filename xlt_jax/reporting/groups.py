"""Language groups a report averages over: script (Latin vs non-Latin) and the study's own.

P0 groups its evaluation languages, English excluded, by script: Latin = es, fr, pt and
non-Latin = ja, zh, ko, ar (papers.md P0.1). The script comes from
`xlt_jax.core.languages` (ISO 15924, `Latn`), so any study's languages group the same
way. A study may define further groups (P4's resource levels) as
`"language_groups": {"high": ["es", "ja"], "low": ["bn", "sw"]}` in study.json.
"""

import math

from xlt_jax.core import languages
from xlt_jax.core.errors import UserInputError

LATIN = "Latin"
NON_LATIN = "non-Latin"


def script_groups(codes: list[str], english: str) -> dict[str, list[str]]:
  """{"Latin": [...], "non-Latin": [...]} over `codes` without English, each in the given
  order; a group with no language is left out."""
  others = [code for code in codes if code != english]
  found = {LATIN: [code for code in others if languages.script_of(code) == "Latn"],
           NON_LATIN: [code for code in others if languages.script_of(code) != "Latn"]}
  return {name: members for name, members in found.items() if members}


def study_groups(study: dict, source: str = "study.json") -> dict[str, list[str]]:
  """The script groups of the study's languages, then the groups study.json defines.

  Raises:
    UserInputError: `language_groups` is not an object of language lists, or names a
      language the study does not evaluate.
  """
  evaluated = [study["english"], *study["seen_languages"], *study["unseen_languages"]]
  groups = script_groups(evaluated, study["english"])
  defined = study.get("language_groups", {})
  if not isinstance(defined, dict):
    raise UserInputError(f"{source}: language_groups must map a group name to languages")
  for name, members in defined.items():
    if not (isinstance(members, list) and members and set(members) <= set(evaluated)):
      raise UserInputError(f"{source}: language group {name!r} must list languages the study"
                           f" evaluates ({', '.join(evaluated)}); got {members!r}")
    groups[str(name)] = list(members)
  return groups


def group_means(rows: dict[str, list[float]], groups: dict[str, list[str]]) -> dict[str, list[float]]:
  """Per group, per column, the unweighted mean of its languages' rows (NaN propagates)."""
  width = len(next(iter(rows.values())))
  return {name: [math.fsum(rows[code][column] for code in members) / len(members)
                 for column in range(width)] for name, members in groups.items()}
