"""The switch-aware rule's language check: the Language Confusion Benchmark's line-level pass
of one response, computed by `xlt_jax.evaluation.language_confusion` (not reimplemented).

P0 "assign[s] responses that are in the wrong language a score of 1, by calculating the binary
pass rate for each completion (Marchisio et al., 2024)": a response passes when none of its
counted lines (at least 5 tokens) is identified as another language (fastText lid.176, top
label not the expected language or probability at most 0.3). A response with no counted
line is one LCB leaves unscored; it is not overridden here (`None`), since nothing shows it is
in the wrong language.
"""

from xlt_jax.evaluation import language_confusion


def line_level_pass(response: str, language: str) -> bool | None:
  """True when every counted line of `response` is in `language`, False when one is not,
  None when the response has no counted line."""
  lines = language_confusion.counted_lines(response, language)
  if not lines:
    return None
  return not any(language_confusion.line_is_wrong(line, language) for line, _ in lines)
