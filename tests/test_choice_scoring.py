"""Multiple-choice items scored by log-likelihood (`choice_scoring`): each choice's score is
log P(choice ids | prompt ids) from a full forward pass of the model (computed here
without the engine), and accuracy / accuracy_norm follow lm-eval's acc / acc_norm."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import choice_scoring, task_metrics
from xlt_jax.evaluation.engine import InferenceEngine
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary

CONFIG = ModelConfig(vocab_size=300, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                     head_dim=8, mlp_dim=64)
TEXTS = ["the cat sat on the mat", "entailment neutral contradiction", "A B C D E",
         "Le chat est sur le tapis.", "ein Hund lief im Park"] * 30
ITEMS = [  # XNLI's labels, X-CSQA's letters; choices of different lengths (acc_norm differs)
    ("the cat sat\non the mat", ["entailment", "neutral", "contradiction"], "entailment"),
    ("Le chat est sur", ["A", "B", "C", "D", "E"], "C"),
    ("ein Hund lief", ["entailment", "neutral", "contradiction"], "contradiction"),
    ("numbers", ["the cat", "a", "Park tapis chat"], "a"),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
  tokenizer = Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  tokenizer.train_from_iterator(TEXTS, trainer=trainers.BpeTrainer(
      vocab_size=300, special_tokens=["<eos>"], show_progress=False,
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
  path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
  tokenizer.save(str(path))
  vocabulary = HuggingFaceVocabulary.from_file(str(path), eos_token="<eos>")
  model = Decoder(CONFIG)
  params = nn.unbox(model.init(jax.random.key(5), jnp.zeros((1, 1), jnp.int32))["params"])
  params = jax.tree.map(lambda p: p * 3.0 if p.ndim >= 3 else p, params)  # sharper choices
  return model, params, vocabulary


def _reference_logprobs(model, params, pairs: list[tuple[list[int], list[int]]]) -> list[float]:
  """log P(continuation | context) from one forward pass over every pair, right-padded (a
  causal model's earlier positions do not see the padding)."""
  length = max(len(context) + len(continuation) for context, continuation in pairs)
  tokens = np.zeros((len(pairs), length), np.int32)
  for row, (context, continuation) in enumerate(pairs):
    tokens[row, :len(context) + len(continuation)] = context + continuation
  logits = model.apply({"params": params}, jnp.asarray(tokens))
  logits = logits[0] if isinstance(logits, tuple) else logits
  logprobs = jax.nn.log_softmax(np.asarray(logits, np.float64), axis=-1)
  return [float(sum(logprobs[row, len(context) - 1 + index, token]
                    for index, token in enumerate(continuation)))
          for row, (context, continuation) in enumerate(pairs)]


@pytest.mark.slow  # ~40 s on 2 shared cores: tokenizer, model init, two compilations
def test_choices_are_ranked_by_their_log_likelihood_as_lm_eval_does(setup):
  model, params, vocabulary = setup
  examples = [{"id": f"t:{index}", "answer": gold, "choices": json.dumps(choices)}
              for index, (_, choices, gold) in enumerate(ITEMS)]
  prompts = [[vocabulary.eos_id, *vocabulary.encode(prompt), vocabulary.eos_id]
             for prompt, _, _ in ITEMS]
  engine = InferenceEngine(model, params, vocabulary, stop_ids=(vocabulary.eos_id,),
                           batch_size=16, length_bucket=16)  # one batch, one compilation
  scored = choice_scoring.score_choices(engine, examples, prompts)
  pairs = [(prompt, vocabulary.encode(choice))
           for prompt, (_, choices, _) in zip(prompts, ITEMS) for choice in choices]
  everything, outcomes, start = _reference_logprobs(model, params, pairs), set(), 0
  for item, (_, choices, gold) in zip(scored, ITEMS):
    reference, start = everything[start:start + len(choices)], start + len(choices)
    np.testing.assert_allclose(item["loglikelihoods"], reference, atol=1e-4)
    acc = int(np.argmax(reference))  # lm-eval: acc = argmax(lls) == gold
    norm = int(np.argmax(np.asarray(reference) / [len(choice) for choice in choices]))
    assert item["prediction"] == choices[acc]
    assert item["scores"] == {"accuracy": float(choices[acc] == gold),
                              "accuracy_norm": float(choices[norm] == gold)}
    outcomes.add((acc, norm))
  assert len(outcomes) > 1  # the items do not all come out the same way


def test_bad_choices_are_named(setup):
  with pytest.raises(UserInputError, match="needs a JSON list of choice strings"):
    choice_scoring.choices_of({"id": "t:1", "answer": "A", "choices": "A B"})
  with pytest.raises(UserInputError, match="answer 'F' is not one of its choices"):
    choice_scoring.choices_of({"id": "t:1", "answer": "F", "choices": '["A", "B"]'})


def test_a_predictions_file_names_the_chosen_option():
  metric = task_metrics.get("multiple_choice_accuracy")
  assert metric.score(task_metrics.Item("en", "", " neutral\n", "neutral")) == (
      "neutral", {"accuracy": 1.0})
  assert metric.score(task_metrics.Item("en", "", "B", "C"))[1] == {"accuracy": 0.0}
