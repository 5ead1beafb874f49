"""Multiple-choice test sets (XNLI, X-CSQA, the MMLU family) scored by log-likelihood.

Each item's choices (the reader's JSON `choices` list: XNLI's three labels, X-CSQA's
letters A-E, MMLU's letters) are scored as continuations of the item's prompt with
`InferenceEngine.loglikelihood`, and judged with lm-evaluation-harness's definitions
(`multiple_choice.predictions`): `accuracy` is lm-eval's `acc` (the most likely choice
is the gold one), `accuracy_norm` its `acc_norm` (the most likely per character).

The context is the prompt as training rendered it (`evaluator.prompt_ids`: plain, the
prompt and its EOS; or the chat template's generation prompt) and each continuation is
the choice's own ids, as a training target is encoded apart from its prompt; so a
fine-tuned model is asked in the form it was trained on, rather than lm-eval's string
concatenation (`multiple_choice.encode_pair`), which assumes a plain base model.
"""

import json
from collections.abc import Sequence

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import multiple_choice
from xlt_jax.evaluation.engine import InferenceEngine

METRIC = "multiple_choice_accuracy"


def choices_of(example: dict) -> list[str]:
  """The example's choice strings, and the gold one among them.

  Raises:
    UserInputError: no JSON `choices` list, or an answer that is not one of them.
  """
  try:
    choices = json.loads(example.get("choices") or "null")
  except json.JSONDecodeError:
    choices = None
  if not isinstance(choices, list) or not choices or not all(
      isinstance(choice, str) for choice in choices):
    raise UserInputError(f"item {example['id']}: a {METRIC} test set needs a JSON list of"
                         " choice strings in `choices`")
  if example["answer"] not in choices:
    raise UserInputError(f"item {example['id']}: answer {example['answer']!r} is not one of its"
                         f" choices {choices}")
  return choices


def score_choices(engine: InferenceEngine, examples: Sequence[dict],
                  prompts: Sequence[Sequence[int]]) -> list[dict]:
  """Per example (in order): the choices, their log-likelihoods, the `acc` and `acc_norm`
  predictions and their scores.

  Returns:
    dicts with "choices", "loglikelihoods", "prediction" (the acc choice), "extracted"
    (the same) and "scores" {"accuracy", "accuracy_norm"} in 0/1.
  """
  requests, spans = [], []
  for example, prompt in zip(examples, prompts):
    choices = choices_of(example)
    spans.append((len(requests), choices))
    requests += [(list(prompt), list(engine.vocabulary.encode(choice))) for choice in choices]
  results = engine.loglikelihood(requests)
  scored = []
  for example, (start, choices) in zip(examples, spans):
    loglikelihoods = [result.logprob for result in results[start:start + len(choices)]]
    accuracy, normalised = multiple_choice.predictions(loglikelihoods, choices)
    gold = choices.index(example["answer"])
    scored.append({
        "choices": choices, "loglikelihoods": loglikelihoods,
        "prediction": choices[accuracy], "extracted": choices[accuracy],
        "scores": {"accuracy": float(accuracy == gold), "accuracy_norm": float(normalised == gold)},
    })
  return scored
