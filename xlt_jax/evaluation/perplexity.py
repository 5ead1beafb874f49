"""Perplexity of held-out text, per language (P2: "perplexity on held-out instruction data").

Each item's text is its reference (the example's `targets`: for the Aya dataset the
human-written response), scored whole by the inference engine's rolling log-likelihood
(`InferenceEngine.rolling_windows`, the windows `loglikelihood_rolling` sums: lm-eval's
disjoint windows of max_length tokens, the first conditioned on the prefix token, as its
`loglikelihood_rolling` perplexity tasks such as wikitext score a document). The windows of
all items go to the engine in one call, so they are batched together.

Per item (`scores`): `nll` (minus the log-likelihood, in nats), `tokens` (the text's
tokens under the run's vocabulary), `words` and `bytes` (lm-eval's `count_words`,
`re.split(r"\\s+", text)`, and `count_bytes`, UTF-8), and the item's own `perplexity`,
exp(nll / tokens).

Per language (`aggregate`, which replaces the means of those scores): `perplexity` =
exp(total nll / total tokens), the token-level perplexity (exp of `transformers`' mean
loss over the same tokens); `word_perplexity` = exp(total nll / total words) and
`byte_perplexity` = exp(total nll / total bytes), lm-eval's `weighted_perplexity` of
(loglikelihood, words | bytes) pairs; `bits_per_byte` = total nll / total bytes / ln 2,
its `bits_per_byte`. A corpus-level value, not the mean of the items' perplexities; the
language's summary keeps the per-item means of nll, tokens, words and bytes beside them.

The text is scored alone, from the sequence start, as lm-eval scores a document; it is
not P2's training loss (the response given its templated instruction), which the
trainer's validation loss, and so checkpoint selection by validation perplexity, measures.
"""

import math
import re
from collections.abc import Iterable, Sequence

from xlt_jax.core.errors import UserInputError

METRIC = "perplexity"
AGGREGATES = ("perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte")


def count_words(text: str) -> int:
  """lm-eval's `PerplexityTask.count_words`."""
  return len(re.split(r"\s+", text))


def loglikelihoods(engine, token_lists: Sequence[Sequence[int]]) -> list[float]:
  """Each text's total log-likelihood, equal to `engine.loglikelihood_rolling` of it, with
  the windows of every text scored in one batched `engine.loglikelihood` call."""
  windows, owners = [], []
  for index, tokens in enumerate(token_lists):
    for window in engine.rolling_windows(tokens):
      windows.append(window)
      owners.append(index)
  totals = [0.0] * len(token_lists)
  for owner, result in zip(owners, engine.loglikelihood(windows) if windows else []):
    totals[owner] += result.logprob
  return totals


def score_items(engine, examples: Sequence[dict], task: str, language: str) -> list[dict]:
  """Per example (`batches.evaluation_examples`), its record with the scores above.

  Raises:
    UserInputError: an example whose reference text has no tokens (nothing to score).
  """
  token_lists = [list(engine.vocabulary.encode(example["target"])) for example in examples]
  for example, tokens in zip(examples, token_lists):
    if not tokens:
      raise UserInputError(f"item {example['id']}: its reference text is empty, so it has no"
                           " perplexity (the metric scores each item's `targets`)")
  items = []
  for example, tokens, logprob in zip(examples, token_lists, loglikelihoods(engine, token_lists)):
    text = example["target"]
    scores = {"nll": -logprob, "tokens": float(len(tokens)),
              "words": float(count_words(text)), "bytes": float(len(text.encode("utf-8"))),
              "perplexity": math.exp(-logprob / len(tokens))}
    items.append({"id": example["id"], "task": task, "language": language,
                  "prompt": example["prompt"], "prediction": None, "extracted": None,
                  "answer": example["answer"], "reference": text, "scores": scores,
                  "detected_language": None})
  return items


def aggregate(scored: Iterable[dict[str, float]]) -> dict[str, float]:
  """A language's corpus-level values from its items' scores (see the module docstring)."""
  totals = {"nll": 0.0, "tokens": 0.0, "words": 0.0, "bytes": 0.0}
  for scores in scored:
    for name in totals:
      totals[name] += scores[name]
  if not totals["tokens"]:
    return {}
  nll = totals["nll"]
  return {"perplexity": math.exp(nll / totals["tokens"]),
          "word_perplexity": math.exp(nll / totals["words"]),
          "byte_perplexity": math.exp(nll / totals["bytes"]),
          "bits_per_byte": nll / totals["bytes"] / math.log(2)}
