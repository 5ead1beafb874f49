"""Training features through real seqio tasks: chat formatting with assistant-only loss,
the length policy and its counts, packing that leaves every example's loss unchanged."""

import dataclasses
import json

import jax
import numpy as np
import pytest
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

from tasks import datasets, registration
from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.models import chat_templates
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary
from xlt_jax.training import batches, features, sharding, trainer
from xlt_jax.training.train_step import OptimizerConfig, build, global_batch

CONTROL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEXT = ("The cat sat on the mat. El gato se sentó en la alfombra. What is two plus three? "
        "Two plus three is five. ¿Cuánto es dos más tres? Dos más tres son cinco. ") * 20
MODEL = ModelConfig(vocab_size=512, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                    head_dim=8, mlp_dim=64)

CONVERSATION = [
    {"role": "user", "content": "What is two plus three?"},
    {"role": "assistant", "content": "Two plus three is five."},
    {"role": "user", "content": "¿Y en español?"},
    {"role": "assistant", "content": "Dos más tres son cinco."},
    {"role": "user", "content": "Thanks!"},
    {"role": "assistant", "content": "You are welcome."},
]


@pytest.fixture(scope="module")
def vocabulary(tmp_path_factory) -> HuggingFaceVocabulary:
  """A byte-level BPE tokenizer.json with Qwen's control tokens, written by the test."""
  tokenizer = tokenizers.Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  tokenizer.train_from_iterator([TEXT], trainer=trainers.BpeTrainer(
      vocab_size=400, special_tokens=CONTROL_TOKENS,
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
  path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
  tokenizer.save(str(path))
  return HuggingFaceVocabulary.from_file(str(path), eos_token="<|im_end|>")


@pytest.fixture
def chat_data(tmp_path, monkeypatch):
  """A ShareGPT-like dataset ("conversation" as JSON, first turn as inputs/targets),
  registered as a dataset reading the JSON-lines files the test writes."""

  def path(data_dir, language, split):
    return f"{data_dir}/chat_test/{split}/{language}.jsonl"

  def read(data_dir, language, split):
    with open(path(data_dir, language, split), encoding="utf-8") as file:
      rows = [json.loads(line) for line in file]
    return [{"id": f"chat_test_{language}_{split}:{number}", "language": language,
             "inputs": row["messages"][0]["content"], "targets": row["messages"][1]["content"],
             "answer": "",
             # Single-turn rows carry no conversation: inputs/targets are the whole of it.
             **({"conversation": json.dumps(row["messages"])} if len(row["messages"]) > 2 else {})}
            for number, row in enumerate(rows, start=1)]

  monkeypatch.setitem(datasets.DATASETS, "chat_test", datasets.Dataset(
      "chat_test", ("en",), ("train", "validation"), "accuracy", path, read))

  def write(split, conversations):
    file = tmp_path / "chat_test" / split / "en.jsonl"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("".join(json.dumps({"messages": c}) + "\n" for c in conversations))

  return tmp_path, write


def _rows(task, lengths, pack, split="validation"):
  dataset = batches._task_examples(task, split, shuffle=False, num_epochs=1, seed=0)
  if pack:
    rows = features.example_rows(dataset, lengths.inputs, lengths.targets).as_numpy_iterator()
    return list(features.pack(rows, lengths.inputs + lengths.targets))
  return list(features.padded_rows(dataset, lengths.inputs, lengths.targets).as_numpy_iterator())


def _assistant_character_spans(text: str, family: str) -> list[tuple[int, int]]:
  spans, start = [], 0
  for segment in chat_templates.render(family, CONVERSATION):
    if segment.trainable:
      spans.append((start, start + len(segment.text)))
    start += len(segment.text)
  return spans


def test_loss_mask_is_exactly_the_assistant_turns_of_a_3_turn_conversation(vocabulary, chat_data):
  data_dir, write = chat_data
  write("validation", [CONVERSATION])
  task = registration.register_task("chat_test", str(data_dir), "en", "validation", vocabulary,
                                    chat_family="qwen")
  [row] = _rows(task, batches.FeatureLengths(96, 96), pack=False)
  real = row["decoder_segment_ids"] > 0
  targets, weights = row["decoder_target_tokens"][real], row["decoder_loss_weights"][real]
  # Independent oracle: a target token is trained iff its characters lie inside an
  # assistant turn's content + <|im_end|> in the official template's text.
  text = chat_templates.render_text("qwen", CONVERSATION)
  encoding = vocabulary.tokenizer.encode(text, add_special_tokens=False)
  assert [row["decoder_input_tokens"][0], *targets] == encoding.ids  # BOS-free Qwen: no 0 start
  spans = _assistant_character_spans(text, "qwen")
  expected = [int(any(lo <= start and end <= hi for lo, hi in spans))
              for start, end in encoding.offsets[1:]]
  assert weights.tolist() == expected
  # Three runs of trained tokens, each an assistant reply closed by its end-of-turn token.
  runs = np.split(targets, np.flatnonzero(np.diff(weights) != 0) + 1)
  trained = [run for run, weight in zip(runs, np.split(weights, np.flatnonzero(np.diff(weights) != 0)
                                                       + 1)) if weight[0] == 1]
  replies = [vocabulary.tokenizer.decode(run.tolist(), skip_special_tokens=False) for run in trained]
  assert replies == [m["content"] + "<|im_end|>" for m in CONVERSATION if m["role"] == "assistant"]
  # The padding after the conversation is untrained and isolated (segment 0).
  assert not row["decoder_loss_weights"][~real].any()


def test_single_turn_examples_become_one_user_and_one_assistant_turn(vocabulary, chat_data):
  data_dir, write = chat_data
  write("validation", [CONVERSATION[:2]])
  task = registration.register_task("chat_test", str(data_dir), "en", "validation", vocabulary,
                                    chat_family="gemma")
  [row] = _rows(task, batches.FeatureLengths(96, 96), pack=False)
  ids, mask = chat_templates.tokenize_conversation("gemma", CONVERSATION[:2], vocabulary.encode)
  real = row["decoder_segment_ids"] > 0
  assert row["decoder_target_tokens"][real].tolist() == ids[1:]
  assert row["decoder_loss_weights"][real].tolist() == mask[1:]


def test_length_policy_truncates_prompts_drops_long_targets_and_counts_both(vocabulary, chat_data):
  data_dir, write = chat_data
  short, long = "Two plus three?", " ".join(["What is two plus three?"] * 12)
  write("validation", [
      [{"role": "user", "content": short}, {"role": "assistant", "content": "Five."}],
      [{"role": "user", "content": long}, {"role": "assistant", "content": "Five."}],
      [{"role": "user", "content": short}, {"role": "assistant", "content": long}],
  ])
  task = registration.register_task("chat_test", str(data_dir), "en", "validation", vocabulary)
  lengths = batches.FeatureLengths(inputs=16, targets=8)
  assert batches.length_counts(task, "validation", lengths) == {
      task: {"examples": 3, "truncated": 1, "dropped": 1}}
  rows = _rows(task, lengths, pack=False)
  assert len(rows) == 2
  # The truncated prompt keeps its last 16 tokens: the end of the question and EOS.
  prompt = vocabulary.encode(long) + [vocabulary.eos_id]
  truncated = rows[1]
  assert truncated["decoder_input_tokens"][0] == 0
  assert truncated["decoder_target_tokens"][:16].tolist() == prompt[-16:]
  weighted = truncated["decoder_target_tokens"][truncated["decoder_loss_weights"] > 0]
  assert weighted.tolist() == vocabulary.encode("Five.") + [vocabulary.eos_id]


def test_chat_conversations_are_cut_after_the_last_whole_assistant_turn(vocabulary, chat_data):
  data_dir, write = chat_data
  long_reply = " ".join(["Two plus three is five."] * 60)
  first_exchange, _ = chat_templates.tokenize_conversation("qwen", CONVERSATION[:2],
                                                           vocabulary.encode)
  write("validation", [
      CONVERSATION[:2] + [{"role": "user", "content": "Again?"},
                          {"role": "assistant", "content": long_reply}],
      [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": long_reply}],
  ])
  task = registration.register_task("chat_test", str(data_dir), "en", "validation", vocabulary,
                                    chat_family="qwen")
  # Room for the first exchange and a little more, not for the long reply.
  lengths = batches.FeatureLengths(inputs=len(first_exchange), targets=8)
  assert len(vocabulary.encode(long_reply)) > 2 * len(first_exchange)
  assert batches.length_counts(task, "validation", lengths)[task] == {
      "examples": 2, "truncated": 1, "dropped": 1}
  [row] = _rows(task, lengths, pack=False)
  real = row["decoder_segment_ids"] > 0
  # Cut right after the first reply's <|im_end|> (the template's "\n" after it is not kept).
  assert row["decoder_target_tokens"][real].tolist() == first_exchange[1:-1]
  assert row["decoder_loss_weights"][real][-1] == 1


def test_malformed_conversation_names_the_example(vocabulary, chat_data):
  data_dir, write = chat_data
  write("validation", [[{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hi?"},
                        {"role": "assistant", "content": "Hello."}]])
  task = registration.register_task("chat_test", str(data_dir), "en", "validation", vocabulary,
                                    chat_family="qwen")
  with pytest.raises(DataFormatError, match=r"chat_test_en_validation:1: message 1 has role 'user'"):
    _rows(task, batches.FeatureLengths(16, 16), pack=False)


def _padded_to(rows, count):
  stacked = {key: np.stack([row[key] for row in rows]) for key in features.MODEL_FEATURES}
  return {key: np.pad(value, ((0, count - len(value)), (0, 0))) for key, value in stacked.items()}


def test_packed_rows_give_the_same_loss_as_unpacked_rows_on_8_devices(vocabulary, chat_data):
  data_dir, write = chat_data
  replies = ["Five.", "Dos más tres son cinco.", "The cat sat on the mat."]
  write("validation", [CONVERSATION[:2 * (1 + index % 3)] if index % 2 else
                       [{"role": "user", "content": "What is two plus three?"},
                        {"role": "assistant", "content": replies[index % 3]}]
                       for index in range(8)])
  task = registration.register_task("chat_test", str(data_dir), "en", "validation", vocabulary,
                                    chat_family="qwen")
  lengths = batches.FeatureLengths(inputs=192, targets=64)
  unpacked, packed = _rows(task, lengths, pack=False), _rows(task, lengths, pack=True)
  assert len(unpacked) == 8 and len(packed) < 8
  # Positions restart at 0 for every example of a packed row.
  for row in packed:
    for segment in set(row["decoder_segment_ids"].tolist()) - {0}:
      positions = row["decoder_positions"][row["decoder_segment_ids"] == segment]
      assert positions.tolist() == list(range(len(positions)))
  assert features.padding_efficiency(packed) > 1.5 * features.padding_efficiency(unpacked)

  functions = build(MODEL, OptimizerConfig(), sharding.make_mesh(sharding.MeshConfig(2, 2, 2)))
  params = functions.init(jax.random.key(0)).params
  results = []
  for rows in (unpacked, packed):
    total, weight = functions.validation_step(
        params, global_batch(_padded_to(rows, 8), functions.batch_sharding))
    results.append((float(total), float(weight)))
  (unpacked_total, unpacked_weight), (packed_total, packed_weight) = results
  assert packed_weight == unpacked_weight > 0
  np.testing.assert_allclose(packed_total / packed_weight, unpacked_total / unpacked_weight,
                             rtol=1e-5)


@pytest.mark.slow
def test_trainer_logs_padding_efficiency_and_writes_the_length_report(vocabulary, chat_data,
                                                                      tmp_path):
  import seqio

  data_dir, write = chat_data
  write("train", [CONVERSATION[:2 * (1 + index % 3)] for index in range(12)])
  write("validation", [CONVERSATION[:2]] * 4)
  train = registration.register_task("chat_test", str(data_dir), "en", "train", vocabulary,
                                     chat_family="qwen")
  validation = registration.register_task("chat_test", str(data_dir), "en", "validation",
                                          vocabulary, chat_family="qwen")
  seqio.MixtureRegistry.add("chat_test_mix", [(train, 1)])
  seqio.MixtureRegistry.add("chat_test_validation_mix", [(validation, 1)])
  config = trainer.TrainConfig(batch_size=8, inputs_length=96, targets_length=64, pack=True,
                               max_steps=2, log_every_steps=1, validation_every_steps=2,
                               chat_template="qwen")
  run_dir = tmp_path / "run"
  summary = trainer.train_run(
      run_dir=str(run_dir), run_name="packed", model_config=MODEL,
      optimizer_config=OptimizerConfig(), train_config=config,
      mesh=sharding.make_mesh(sharding.MeshConfig(1, 1, 1), jax.devices()[:1]),
      mixture="chat_test_mix",
      validation_mixture="chat_test_validation_mix", num_train_examples=12)
  lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
  efficiencies = [line["padding_efficiency"] for line in lines if "loss" in line]
  # Packed once, each epoch passes every packed row once: the 12 conversations fill a first
  # full batch, and the epoch's last batch is partly empty rows (loss weight 0).
  assert len(efficiencies) == 2 and 0.5 < efficiencies[0] <= 1.0
  assert 0.0 < efficiencies[1] < efficiencies[0]
  report = json.loads((run_dir / trainer.LENGTHS_FILE).read_text())
  # The 3-exchange conversations do not fit in 161 tokens: cut after a whole turn.
  assert report["train"][train] == {"examples": 12, "truncated": 4, "dropped": 0}
  assert summary["truncated_examples"] == 4 and summary["packed"] is True
  with pytest.raises(Exception, match="unknown TrainConfig.chat_template 'mistral'"):
    dataclasses.replace(config, chat_template="mistral")
  # Lengths at which nothing fits: a clear error instead of an endless, empty stream.
  tiny = dataclasses.replace(config, inputs_length=4, targets_length=2)
  with pytest.raises(UserInputError, match="every train example is dropped by the length policy"):
    trainer.train_run(
        run_dir=str(tmp_path / "too_short"), run_name="too_short", model_config=MODEL,
        optimizer_config=OptimizerConfig(), train_config=tiny,
        mesh=sharding.make_mesh(sharding.MeshConfig(1, 1, 1), jax.devices()[:1]),
        mixture="chat_test_mix",
        validation_mixture="chat_test_validation_mix", num_train_examples=12)


def test_packer_keeps_tokens_with_id_0_and_zero_weights_inside_examples():
  def example(tokens, weights):
    tokens = np.asarray(tokens, np.int32)
    return {"decoder_input_tokens": tokens, "decoder_target_tokens": tokens + 1,
            "decoder_loss_weights": np.asarray(weights, np.int32)}

  rows = list(features.pack([example([0, 5, 0], [0, 0, 1]), example([7] * 6, [1] * 6),
                             example([0, 0], [0, 1])], length=8, open_rows=2))
  assert [row["decoder_segment_ids"].tolist() for row in rows] == [
      [1, 1, 1, 2, 2, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0, 0]]
  assert rows[0]["decoder_input_tokens"].tolist() == [0, 5, 0, 0, 0, 0, 0, 0]
  assert rows[0]["decoder_loss_weights"].tolist() == [0, 0, 1, 0, 1, 0, 0, 0]
  assert rows[0]["decoder_positions"].tolist() == [0, 1, 2, 0, 1, 0, 0, 0]
