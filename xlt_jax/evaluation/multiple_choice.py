"""Multiple choice by log-likelihood, with lm-evaluation-harness's definitions.

Read in EleutherAI/lm-evaluation-harness 0.4.13 (the installed package):
- `lm_eval/api/model.py` `TemplateLM.loglikelihood` and `_encode_pair` (causal models):
  trailing spaces of the context move to the continuation; the continuation's ids are
  those of `encode(context + continuation)` after the first `len(encode(context))`; an
  empty context becomes the prefix token (BOS, else EOS), unless the continuation
  already starts with it, in which case that first id is the context.
- `lm_eval/api/task.py` `ConfigurableTask.process_results` (output type
  "multiple_choice"): `acc` is right when `argmax(lls)` is the gold index; `acc_norm`
  when `argmax(lls / completion_len)` is, with `completion_len` the number of
  characters of each choice string (`len(choice)`; the byte count is `acc_bytes`).
  `np.argmax` takes the first of equal maxima; so does this module.
"""

from collections.abc import Callable, Sequence

import numpy as np

from xlt_jax.core.errors import UserInputError


def encode_pair(encode: Callable[[str], Sequence[int]], context: str, continuation: str,
                prefix_id: int) -> tuple[list[int], list[int]]:
  """(context ids, continuation ids) of one candidate, as lm-eval's causal `hf` model
  builds them; `encode` adds no special tokens."""
  if not context:
    continuation_ids = list(encode(continuation))
    if continuation_ids and continuation_ids[0] == prefix_id:
      return continuation_ids[:1], continuation_ids[1:]
    return [prefix_id], continuation_ids
  spaces = len(context) - len(context.rstrip())
  if spaces:
    context, continuation = context[:-spaces], context[-spaces:] + continuation
  whole = list(encode(context + continuation))
  return list(encode(context)), whole[len(encode(context)):]


def predictions(loglikelihoods: Sequence[float], choices: Sequence[str]) -> tuple[int, int]:
  """(the `acc` prediction, the `acc_norm` prediction): the index of the largest
  log-likelihood, and of the largest log-likelihood per character of the choice.

  Raises:
    UserInputError: no choices, a count mismatch, or an empty choice string.
  """
  if not choices or len(loglikelihoods) != len(choices):
    raise UserInputError(f"multiple choice: {len(loglikelihoods)} log-likelihoods for "
                         f"{len(choices)} choices")
  if any(not choice for choice in choices):
    raise UserInputError("multiple choice: an empty choice string has no per-character score")
  lengths = np.asarray([float(len(choice)) for choice in choices])
  scores = np.asarray(loglikelihoods, np.float64)
  return int(np.argmax(scores)), int(np.argmax(scores / lengths))
