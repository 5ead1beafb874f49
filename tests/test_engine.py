"""The inference engine's generation: greedy equals the existing KV-cache decoder and
`transformers`' `generate`; sampling is reproducible from its seeds; the logits
processors follow vLLM's definitions (checked against hand computations); stop ids,
stop strings and n samples; the same completions under an 8-device mesh."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import sampling
from xlt_jax.evaluation.decoding import greedy_generate, left_pad
from xlt_jax.evaluation.engine import InferenceEngine, SamplingParams
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary
from xlt_jax.training import sharding

VOCAB = 300
CONFIG = ModelConfig(vocab_size=VOCAB, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                     head_dim=8, mlp_dim=64)
NEW = 12  # new tokens in every generation test: one compilation per batch shape
TEXTS = ["the cat sat on the mat", "a dog ran in the park", "numbers: 12 345 6789",
         "Le chat est sur le tapis.", "stop here. then go on", "ein Hund lief im Park"] * 30


@pytest.fixture(scope="module")
def vocabulary(tmp_path_factory) -> HuggingFaceVocabulary:
  """A real byte-level BPE `tokenizer.json` of VOCAB ids, trained here, EOS <eos> = 0."""
  tokenizer = Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  tokenizer.train_from_iterator(TEXTS, trainer=trainers.BpeTrainer(
      vocab_size=VOCAB, special_tokens=["<eos>"], show_progress=False,
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
  path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
  tokenizer.save(str(path))
  return HuggingFaceVocabulary.from_file(str(path), eos_token="<eos>")


@pytest.fixture(scope="module")
def model_and_params():
  model = Decoder(CONFIG)
  params = nn.unbox(model.init(jax.random.key(3), jnp.zeros((1, 1), jnp.int32))["params"])
  # Sharpen the random model so that its greedy choices vary from step to step.
  return model, jax.tree.map(lambda p: p * 3.0 if p.ndim >= 3 else p, params)


def _prompts(vocabulary, count=7):
  texts = ["the cat", "a dog ran in the park and", "12", "Le chat est", "stop here.",
           "ein Hund lief im Park, the cat sat on the mat", "numbers"]
  return [vocabulary.encode(text) for text in texts[:count]]


def _engine(model_and_params, vocabulary, **kwargs):
  model, params = model_and_params
  options = {"stop_ids": (vocabulary.eos_id,), "batch_size": 4, "length_bucket": 8} | kwargs
  return InferenceEngine(model, params, vocabulary, **options)


def test_greedy_equals_greedy_generate_for_every_prompt_and_stop_id(model_and_params, vocabulary):
  model, params = model_and_params
  prompts = _prompts(vocabulary)  # 7 prompts in batches of 4: the last batch is padded
  free = _engine(model_and_params, vocabulary, stop_ids=()).generate(
      prompts, SamplingParams(max_new_tokens=NEW))
  # Declare a token the third prompt generates an end-of-turn id: its row stops there.
  end_of_turn = free[2][0].token_ids[4]
  engine = _engine(model_and_params, vocabulary, stop_ids=(vocabulary.eos_id, end_of_turn))
  completions = engine.generate(prompts, SamplingParams(max_new_tokens=NEW))
  # The existing decoder, all prompts in one batch (the engine sorts them into two).
  tokens, mask = left_pad(prompts)
  rows = np.asarray(greedy_generate(model, params, tokens, mask, max_new_tokens=NEW,
                                    eos_id=(vocabulary.eos_id, end_of_turn))).tolist()
  distinct = set()
  for row, (completion,) in zip(rows, completions):
    ends = [index for index, token in enumerate(row) if token in (vocabulary.eos_id, end_of_turn)]
    expected = row[:ends[0]] if ends else row
    assert list(completion.token_ids) == expected
    assert completion.finish_reason == ("stop" if ends else "length")
    assert completion.text == vocabulary.decode(expected)
    distinct.update(expected)
  assert completions[2][0].finish_reason == "stop"
  assert completions[2][0].token_ids == free[2][0].token_ids[:free[2][0].token_ids.index(end_of_turn)]
  assert len(distinct) > 10  # the test would be vacuous if the model repeated one token


def test_sampling_is_reproducible_from_its_seed_and_independent_of_batching(
    model_and_params, vocabulary):
  engine = _engine(model_and_params, vocabulary)
  prompts = _prompts(vocabulary)
  settings = SamplingParams(max_new_tokens=NEW, temperature=1.0, n=3, seed=7)
  first, again = engine.generate(prompts, settings), engine.generate(prompts, settings)
  assert first == again
  assert all(len(completions) == 3 for completions in first)
  # Sample i draws with seed + i: alone in another batch it comes out the same.
  alone = engine.generate(prompts[5:6], SamplingParams(max_new_tokens=NEW, temperature=1.0,
                                                       seed=9))
  assert alone[0][0] == first[5][2]
  samples = {completion.token_ids for completion in first[5]}
  assert len(samples) == 3  # different seeds differ
  other_seed = engine.generate(prompts, SamplingParams(max_new_tokens=NEW, temperature=1.0,
                                                       n=3, seed=8))
  assert other_seed[5][0] == first[5][1]
  assert [c.token_ids for c in other_seed[0]] != [c.token_ids for c in first[0]]


@pytest.mark.parametrize("settings", [{"temperature": 1e-4}, {"temperature": 1.0, "top_k": 1},
                                      {"temperature": 2.0, "top_p": 1e-6}],
                         ids=["temperature_to_0", "top_k_1", "top_p_to_0"])
def test_sampling_degenerates_to_greedy(model_and_params, vocabulary, settings):
  engine = _engine(model_and_params, vocabulary)
  prompts = _prompts(vocabulary)
  greedy = engine.generate(prompts, SamplingParams(max_new_tokens=NEW))
  sampled = engine.generate(prompts, SamplingParams(max_new_tokens=NEW, n=2, **settings))
  assert all(samples == [expected[0]] * 2 for samples, expected in zip(sampled, greedy))


def _nucleus_by_hand(probabilities, p):
  """The smallest set of most likely tokens whose probability reaches p."""
  kept, total = set(), 0.0
  for index in np.argsort(-probabilities, kind="stable"):
    kept.add(int(index))
    total += probabilities[index]
    if total >= p:
      break
  return kept


@pytest.mark.parametrize("p", [0.45, 0.6, 0.8, 0.97, 1.0])
def test_top_p_keeps_exactly_the_nucleus(p):
  probabilities = np.asarray([0.15, 0.05, 0.5, 0.1, 0.2])
  logits = jnp.log(jnp.asarray([probabilities, probabilities[::-1]], jnp.float32))
  filtered = np.asarray(sampling.apply_top_p(logits, jnp.float32(p)))
  for row, row_probabilities in zip(filtered, [probabilities, probabilities[::-1]]):
    assert set(np.flatnonzero(np.isfinite(row))) == _nucleus_by_hand(row_probabilities, p)
    kept = np.isfinite(row)
    np.testing.assert_allclose(row[kept], np.log(row_probabilities[kept]), rtol=1e-6)


def test_top_k_keeps_the_k_largest_and_their_ties():
  logits = jnp.asarray([[1.0, 3.0, 3.0, 2.0, 0.0]])
  kept = {k: set(np.flatnonzero(np.isfinite(np.asarray(sampling.apply_top_k(logits, k)[0]))))
          for k in (0, 1, 2, 3, 5, 9)}
  assert kept == {0: {0, 1, 2, 3, 4}, 1: {1, 2}, 2: {1, 2}, 3: {1, 2, 3}, 5: {0, 1, 2, 3, 4},
                  9: {0, 1, 2, 3, 4}}


def test_penalties_subtract_frequency_times_count_and_presence():
  logits = jnp.asarray([[1.0, 2.0, 3.0, 4.0]])
  counts = jnp.asarray([[0, 2, 1, 0]])
  penalised = sampling.apply_penalties(logits, counts, jnp.float32(0.5), jnp.float32(0.25))
  np.testing.assert_allclose(np.asarray(penalised), [[1.0, 2.0 - 1.0 - 0.25, 3.0 - 0.5 - 0.25,
                                                      4.0]])


def test_penalised_greedy_equals_a_recomputing_reference(model_and_params, vocabulary):
  """Penalties count the generated tokens only (not the prompt), step by step."""
  model, params = model_and_params
  prompt = _prompts(vocabulary)[5]
  frequency, presence = 0.7, 0.3
  # Right-padded to one length (one compilation); causal attention keeps the padding
  # from affecting the positions read.
  apply = jax.jit(lambda t: model.apply({"params": params}, t)[0])
  tokens, counts, expected = list(prompt), np.zeros(VOCAB), []
  for _ in range(NEW):
    padded = jnp.asarray([tokens + [0] * (len(prompt) + NEW - len(tokens))], jnp.int32)
    logits = np.asarray(apply(padded))[0, len(tokens) - 1]
    token = int(np.argmax(logits - frequency * counts - presence * (counts > 0)))
    expected.append(token)
    tokens.append(token)
    counts[token] += 1
  engine = _engine(model_and_params, vocabulary, stop_ids=())
  plain = engine.generate([prompt], SamplingParams(max_new_tokens=NEW))[0][0].token_ids
  assert len(set(plain)) < len(plain)  # unpenalised, the model repeats itself
  penalised = engine.generate([prompt], SamplingParams(
      max_new_tokens=NEW, frequency_penalty=frequency, presence_penalty=presence))
  assert list(penalised[0][0].token_ids) == expected != list(plain)


def test_stop_strings_cut_the_text_and_keep_the_tokens_that_complete_them(
    model_and_params, vocabulary):
  engine = _engine(model_and_params, vocabulary, stop_ids=())
  prompts = _prompts(vocabulary, 3)
  free = engine.generate(prompts, SamplingParams(max_new_tokens=NEW))
  text = free[1][0].text
  stop = text[len(text) // 2:len(text) // 2 + 2]  # a piece from the middle of the text
  never = "\u2603never"
  stopped = engine.generate(prompts, SamplingParams(max_new_tokens=NEW, stop=(never, stop)))
  for (plain,), (cut,) in zip(free, stopped):
    if stop not in plain.text:
      assert cut == plain
      continue
    assert cut.text == plain.text[:plain.text.index(stop)]
    assert cut.finish_reason == "stop"
    ids = cut.token_ids
    assert ids == plain.token_ids[:len(ids)]
    assert stop in vocabulary.decode(list(ids)) and stop not in vocabulary.decode(list(ids[:-1]))
  assert stopped[1][0].text != free[1][0].text
  # Two stop strings: the one that starts first cuts the text, even though the other
  # (inside it, seen nowhere earlier) is complete no later; the tokens
  # run up to the end of the first.
  start = next(index for index in range(1, len(text) - 5) if text[index + 1] not in text[:index + 1])
  first, inner = text[start:start + 5], text[start + 1]
  (overlapping,) = engine.generate(prompts[1:2], SamplingParams(max_new_tokens=NEW,
                                                                stop=(inner, first)))[0]
  assert overlapping.text == text[:start]
  assert vocabulary.decode(list(overlapping.token_ids)).startswith(text[:start + 5])
  assert not vocabulary.decode(list(overlapping.token_ids[:-1])).startswith(text[:start + 5])


def test_bad_settings_and_prompts_are_named(model_and_params, vocabulary):
  engine = _engine(model_and_params, vocabulary, max_length=32)
  for settings, message in [(SamplingParams(top_p=0.0), "top_p"),
                            (SamplingParams(n=0), "n must"),
                            (SamplingParams(stop=("",)), "stop strings"),
                            (SamplingParams(temperature=-1.0), "temperature")]:
    with pytest.raises(UserInputError, match=message):
      engine.generate([[5]], settings)
  with pytest.raises(UserInputError, match="prompt 1 is empty"):
    engine.generate([[5], []], SamplingParams(max_new_tokens=4))
  with pytest.raises(UserInputError, match="prompt 0 has 30 tokens"):
    engine.generate([[5] * 30], SamplingParams(max_new_tokens=4))
  with pytest.raises(UserInputError, match="batch shards"):
    _engine(model_and_params, vocabulary, batch_size=6,
            mesh=sharding.make_mesh(sharding.MeshConfig(data=2, fsdp=2, tensor=2)))


def test_bad_log_likelihood_requests_are_named(model_and_params, vocabulary):
  engine = _engine(model_and_params, vocabulary, max_length=8)
  with pytest.raises(UserInputError, match="request 1 has an empty context"):
    engine.loglikelihood([([5], [6]), ([], [6])])
  with pytest.raises(UserInputError, match="request 0 has an empty continuation"):
    engine.loglikelihood([([5], [])])
  with pytest.raises(UserInputError, match="continuation has 9 tokens"):
    engine.loglikelihood([([5], [6] * 9)])
  assert engine.loglikelihood_rolling([]) == 0.0


def test_same_completions_under_the_training_mesh(model_and_params, vocabulary):
  model, params = model_and_params
  mesh = sharding.make_mesh(sharding.MeshConfig(data=2, fsdp=2, tensor=2))
  boxed = model.init(jax.random.key(3), jnp.zeros((1, 1), jnp.int32))["params"]
  shardings = sharding.logical_to_sharding(nn.get_partition_spec(boxed), mesh)
  sharded = jax.device_put(params, shardings)
  prompts = _prompts(vocabulary)
  # Sampled with top-p: the whole loop, processors included, runs sharded.
  settings = SamplingParams(max_new_tokens=NEW, temperature=0.8, top_p=0.9, n=2)
  on_mesh = InferenceEngine(model, sharded, vocabulary, stop_ids=(vocabulary.eos_id,),
                            mesh=mesh, batch_size=8, length_bucket=8)
  single = _engine(model_and_params, vocabulary, batch_size=8)
  completions = on_mesh.generate(prompts, settings)
  assert completions == single.generate(prompts, settings)
  assert len({completion.token_ids for per_prompt in completions for completion in per_prompt}) > 10
  requests = [(prompt, list(per_prompt[0].token_ids)) for prompt, per_prompt
              in zip(prompts, completions)]
  for sharded_score, score in zip(on_mesh.loglikelihood(requests), single.loglikelihood(requests)):
    assert sharded_score.logprob == pytest.approx(score.logprob, abs=1e-4)
    assert sharded_score.is_greedy == score.is_greedy
