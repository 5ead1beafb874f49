"""The inference engine against outside references, on one tiny random Hugging Face
Llama saved with `save_pretrained` and a real `tokenizer.json` trained here:
- greedy generation equals `transformers`' `generate(do_sample=False)`;
- log-likelihoods of multiple-choice candidates equal lm-evaluation-harness's own `hf`
  backend (`HFLM.loglikelihood` on the `Instance`s an lm-eval multiple-choice task
  builds) to 1e-4, and `acc` / `acc_norm` equal that task's `process_results`;
- rolling log-likelihood (perplexity) equals `HFLM.loglikelihood_rolling`, windows
  included (a text of several windows, the last one short); the perplexity metric's
  aggregates equal lm-eval's and exp of transformers' loss.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
lm_eval_huggingface = pytest.importorskip("lm_eval.models.huggingface")

import datasets
from lm_eval.api.task import ConfigurableTask
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from xlt_jax.evaluation import multiple_choice, perplexity, task_metrics
from xlt_jax.evaluation.engine import InferenceEngine, SamplingParams
from xlt_jax.models import conversion
from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary

VOCAB = 320
MAX_LENGTH = 24  # small, so that truncation and several rolling windows happen
TEXTS = ["the cat sat on the mat", "a dog ran in the park", "numbers: 12 345 6789",
         "Le chat est sur le tapis.", "Question: where is the cat? Answer:",
         "ein Hund lief im Park"] * 30
DOCS = [
    {"question": "Question: where is the cat? Answer:", "choices": [" on the mat", " in the park",
                                                                     " 12"], "gold": 0},
    {"question": "Le chat est sur le ", "choices": ["tapis.", "Park", "mat"], "gold": 1},
    # Longer than MAX_LENGTH with its answer: lm-eval cuts the context from the left.
    {"question": "a dog ran in the park " * 4 + "and the cat sat", "choices": [" on the mat",
                                                                              " 345"], "gold": 1},
    {"question": "numbers:", "choices": [" 12", " 345 6789", " the"], "gold": 2},
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
  """A directory with a random Llama's `save_pretrained` files and its tokenizer."""
  directory = tmp_path_factory.mktemp("llama")
  tokenizer = Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  tokenizer.train_from_iterator(TEXTS, trainer=trainers.BpeTrainer(
      vocab_size=VOCAB, special_tokens=["<s>", "</s>"], show_progress=False,
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
  transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>",
                                       eos_token="</s>").save_pretrained(directory)
  torch.manual_seed(0)
  config = transformers.LlamaConfig(
      vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
      initializer_range=0.3, tie_word_embeddings=False, bos_token_id=0, eos_token_id=1)
  model = transformers.AutoModelForCausalLM.from_config(config).eval()
  with torch.no_grad():  # random norm weights: a misplaced norm changes every logit
    for name, parameter in model.named_parameters():
      if "norm" in name:
        parameter.normal_(1.0, 0.5)
  model.save_pretrained(directory)
  return directory


@pytest.fixture(scope="module")
def engine(checkpoint) -> InferenceEngine:
  model, params = conversion.from_hf(str(checkpoint))
  vocabulary = HuggingFaceVocabulary.from_file(str(checkpoint / "tokenizer.json"),
                                               eos_token="</s>", bos_token="<s>")
  return InferenceEngine(model, params, vocabulary, stop_ids=(vocabulary.eos_id,),
                         batch_size=4, length_bucket=8, max_length=MAX_LENGTH)


@pytest.fixture(scope="module")
def harness(checkpoint):
  return lm_eval_huggingface.HFLM(pretrained=str(checkpoint), device="cpu", dtype="float32",
                                  batch_size=4, max_length=MAX_LENGTH)


def test_greedy_equals_transformers_generate(checkpoint, engine):
  reference = transformers.AutoModelForCausalLM.from_pretrained(str(checkpoint)).eval()
  prompts = [engine.vocabulary.encode(text) for text in
             ["the cat", "a dog ran in the park and", "Le chat est", "12"]]
  completions = engine.generate(prompts, SamplingParams(max_new_tokens=10))
  distinct = set()
  for prompt, (completion,) in zip(prompts, completions):
    with torch.no_grad():
      output = reference.generate(torch.tensor([prompt]), attention_mask=torch.ones(
          1, len(prompt), dtype=torch.long), do_sample=False, max_new_tokens=10,
          eos_token_id=1, pad_token_id=1)
    expected = output[0, len(prompt):].tolist()
    if 1 in expected:
      expected = expected[:expected.index(1)]
    assert list(completion.token_ids) == expected
    distinct.update(expected)
  assert len(distinct) > 8  # the comparison would be weak on a model that repeats one token


def _task() -> ConfigurableTask:
  """An lm-eval multiple-choice task over DOCS, scored with acc and acc_norm."""
  return ConfigurableTask(config={
      "task": "engine_check", "output_type": "multiple_choice", "test_split": "test",
      "custom_dataset": lambda **_: {"test": datasets.Dataset.from_list(DOCS)},
      "doc_to_text": "{{question}}", "doc_to_choice": "{{choices}}", "doc_to_target": "{{gold}}",
      "target_delimiter": "",
      "metric_list": [{"metric": "acc", "higher_is_better": True},
                      {"metric": "acc_norm", "higher_is_better": True}]})


def test_multiple_choice_loglikelihoods_and_accuracies_equal_lm_eval(engine, harness):
  task = _task()
  documents = list(task.dataset["test"])
  instances = [task.construct_requests(document, task.doc_to_text(document),
                                       metadata=("engine_check", index, 1))
               for index, document in enumerate(documents)]
  flat = [instance for per_document in instances for instance in per_document]
  expected = harness.loglikelihood(flat)
  pairs = [multiple_choice.encode_pair(engine.vocabulary.encode, *instance.args,
                                       engine.prefix_id()) for instance in flat]
  assert pairs == [harness._encode_pair(*instance.args) for instance in flat]
  assert max(len(context) + len(continuation) for context, continuation in pairs) > MAX_LENGTH
  results = engine.loglikelihood(pairs)
  for result, (logprob, is_greedy) in zip(results, expected):
    assert result.logprob == pytest.approx(logprob, abs=1e-4)
    assert result.is_greedy == is_greedy
    assert sum(result.token_logprobs) == pytest.approx(result.logprob, abs=1e-6)
  start, accuracies = 0, []
  for document, per_document in zip(documents, instances):
    scores = results[start:start + len(per_document)]
    reference = task.process_results(document, expected[start:start + len(per_document)])
    prediction, normalised = multiple_choice.predictions([score.logprob for score in scores],
                                                         document["choices"])
    assert (float(prediction == document["gold"]), float(normalised == document["gold"])) == (
        reference["acc"], reference["acc_norm"])
    accuracies.append((reference["acc"], reference["acc_norm"]))
    start += len(per_document)
  # acc and acc_norm disagree somewhere, so the per-character division is exercised.
  assert any(acc != acc_norm for acc, acc_norm in accuracies)


def test_greedy_continuation_is_greedy_as_in_lm_eval(engine, harness):
  context = "the cat sat on the"
  (completion,) = engine.generate([engine.vocabulary.encode(context)],
                                  SamplingParams(max_new_tokens=3))[0]
  request = (engine.vocabulary.encode(context), list(completion.token_ids))
  (result,) = engine.loglikelihood([request])
  assert result.is_greedy
  # lm-eval's token-level entry point (what its loglikelihood calls after encoding), so
  # that the ids are exactly the generated ones.
  ((logprob, is_greedy),) = harness._loglikelihood_tokens([((context, completion.text),
                                                             *request)])
  assert is_greedy and logprob == pytest.approx(result.logprob, abs=1e-4)


@pytest.mark.parametrize("text", ["the cat sat on the mat", "a dog ran in the park " * 8 + "the cat sat"],
                         ids=["one_window", "three_windows"])
def test_rolling_loglikelihood_equals_lm_eval(engine, harness, text):
  from lm_eval.api.instance import Instance

  tokens = engine.vocabulary.encode(text)
  assert len(tokens) < MAX_LENGTH or len(tokens) % MAX_LENGTH  # the last window is short
  (expected,) = harness.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (text,), 0)])
  assert engine.loglikelihood_rolling(tokens) == pytest.approx(expected, abs=1e-4)
  assert np.isfinite(expected)


def test_perplexity_equals_lm_eval_aggregations_and_transformers_loss(checkpoint, engine, harness):
  """The perplexity metric's per-language values: the windows of every text scored in one
  batch give each text lm-eval's rolling log-likelihood; word / byte perplexity and bits
  per byte are lm-eval's PerplexityTask aggregations of them; token perplexity is exp of
  transformers' mean loss over the same tokens."""
  from lm_eval.api import metrics as lm_metrics
  from lm_eval.api.instance import Instance
  from lm_eval.api.task import PerplexityTask

  texts = ["the cat sat on the mat", "a dog ran in the park " * 8 + "the cat sat",
           "Le chat est sur le tapis.", "numbers: 12 345 6789"]
  examples = [{"id": f"held_out:{index}", "prompt": "", "answer": "", "target": text}
              for index, text in enumerate(texts)]
  items = perplexity.score_items(engine, examples, "held_out", "en")
  expected = harness.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (text,), 0)
                                            for text in texts])
  for item, loglikelihood in zip(items, expected):
    assert -item["scores"]["nll"] == pytest.approx(loglikelihood, abs=1e-4)
  values = task_metrics.language_scores(task_metrics.get("perplexity"),
                                        [item["scores"] for item in items])
  words = [(ll, PerplexityTask.count_words(text)) for ll, text in zip(expected, texts)]
  bytes_ = [(ll, PerplexityTask.count_bytes(text)) for ll, text in zip(expected, texts)]
  assert values["word_perplexity"] == pytest.approx(lm_metrics.weighted_perplexity(words),
                                                    rel=1e-5)
  assert values["byte_perplexity"] == pytest.approx(lm_metrics.weighted_perplexity(bytes_),
                                                    rel=1e-5)
  assert values["bits_per_byte"] == pytest.approx(lm_metrics.bits_per_byte(bytes_), rel=1e-5)
  # A corpus value: total NLL over total tokens, not the mean of the items' perplexities.
  assert values["perplexity"] != pytest.approx(np.mean([item["scores"]["perplexity"]
                                                        for item in items]))
  # transformers: each one-window text's mean loss after BOS, weighted by its tokens.
  reference = transformers.AutoModelForCausalLM.from_pretrained(str(checkpoint)).eval()
  short = [item for item in items if item["scores"]["tokens"] < MAX_LENGTH]
  assert len(short) == 3
  total_loss = 0.0
  for item in short:
    ids = torch.tensor([[0, *engine.vocabulary.encode(item["reference"])]])
    with torch.no_grad():
      total_loss += float(reference(ids, labels=ids).loss) * item["scores"]["tokens"]
  ours = task_metrics.language_scores(task_metrics.get("perplexity"),
                                      [item["scores"] for item in short])
  tokens = sum(item["scores"]["tokens"] for item in short)
  assert ours["perplexity"] == pytest.approx(np.exp(total_loss / tokens), rel=1e-4)
