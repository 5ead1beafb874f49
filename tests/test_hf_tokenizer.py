"""Tests for xlt_jax.models.hf_tokenizer: a tokenizer.json as a seqio vocabulary."""

import json
import pathlib
import pickle

import numpy as np
import pytest
import seqio
import tensorflow as tf
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, processors, trainers

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Janet’s ducks lay 16 eggs per day.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "Mbweha mwepesi wa kahawia anaruka juu ya mbwa mvivu.",
    "敏捷的棕色狐狸跳过了懒狗。",
    "素早い茶色の狐がのろまな犬を飛び越える。",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "তাড়াতাড়ি বাদামী শিয়াল অলস কুকুরের উপর দিয়ে লাফ দেয়।",
    "เจ้าจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ",
    "తొందరగా గోధుమ రంగు నక్క సోమరి కుక్కపై దూకుతుంది.",
]
# Texts the tokenizer never saw, in several scripts: byte-level BPE must still
# round-trip them exactly.
UNSEEN = ["Hola, ¿cómo estás?", "안녕하세요 세계", "مرحبا بالعالم", "x = 12345 + 678", "emoji 🦊!"]


def _train_tokenizer(path: pathlib.Path) -> str:
  """Trains a small byte-level BPE with <pad>=0, </s>=1, <unk>=2 and saves tokenizer.json."""
  tokenizer = tokenizers.Tokenizer(models.BPE(unk_token="<unk>"))
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
      vocab_size=400, special_tokens=["<pad>", "</s>", "<unk>"],
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
  tokenizer.train_from_iterator(SENTENCES, trainer=trainer)
  tokenizer.save(str(path))
  return str(path)


@pytest.fixture
def tokenizer_file(tmp_path: pathlib.Path) -> str:
  return _train_tokenizer(tmp_path / "tokenizer.json")


@pytest.fixture
def vocabulary(tokenizer_file: str) -> HuggingFaceVocabulary:
  return HuggingFaceVocabulary.from_file(tokenizer_file, eos_token="</s>", pad_token="<pad>")


def test_special_ids_and_size(vocabulary: HuggingFaceVocabulary):
  assert (vocabulary.pad_id, vocabulary.eos_id, vocabulary.unk_id) == (0, 1, 2)
  assert vocabulary.vocab_size == vocabulary.tokenizer.get_vocab_size(with_added_tokens=True)
  assert vocabulary.vocab_size <= 400


def test_python_round_trip(vocabulary: HuggingFaceVocabulary):
  for text in SENTENCES + UNSEEN:
    ids = vocabulary.encode(text)
    assert ids and all(0 <= i < vocabulary.vocab_size for i in ids)
    assert vocabulary.decode(ids) == text


def test_decode_stops_at_eos_and_drops_padding(vocabulary: HuggingFaceVocabulary):
  ids = list(vocabulary.encode("Hola")) + [vocabulary.eos_id] + list(vocabulary.encode("bye"))
  assert vocabulary.decode(ids + [0, 0]) == "Hola"


def test_ids_match_transformers(tokenizer_file: str, vocabulary: HuggingFaceVocabulary):
  import transformers

  reference = transformers.PreTrainedTokenizerFast(tokenizer_file=tokenizer_file)
  for text in SENTENCES + UNSEEN:
    assert list(vocabulary.encode(text)) == reference.encode(text, add_special_tokens=False)
    ids = vocabulary.encode(text)
    assert vocabulary.decode(ids) == reference.decode(ids, skip_special_tokens=True)


def test_tf_round_trip(vocabulary: HuggingFaceVocabulary):
  for text in SENTENCES + UNSEEN:
    ids = vocabulary.encode_tf(tf.constant(text))
    assert ids.dtype == tf.int32 and ids.shape.rank == 1
    assert ids.numpy().tolist() == list(vocabulary.encode(text))
    decoded = vocabulary.decode_tf(ids)
    assert decoded.dtype == tf.string and decoded.shape.rank == 0
    assert decoded.numpy().decode("utf-8") == text


def test_tf_functions_in_graph_mode_keep_shapes(vocabulary: HuggingFaceVocabulary):
  texts = ["Hola, ¿cómo estás?", "安녕"]

  @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
  def encode(text):
    return vocabulary.encode_tf(text)

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
  def decode(ids):
    return vocabulary.decode_tf(ids)

  assert encode.get_concrete_function().structured_outputs.shape.as_list() == [None]
  assert decode.get_concrete_function().structured_outputs.shape.as_list() == [None]
  rows = [list(vocabulary.encode(text)) for text in texts]
  width = max(len(row) for row in rows)
  # Padding after the ids (and after EOS) must not show up in the text.
  padded = [row + [vocabulary.eos_id] + [0] * (width - len(row)) for row in rows]
  assert [encode(tf.constant(t)).numpy().tolist() for t in texts] == rows
  assert [t.decode("utf-8") for t in decode(tf.constant(padded)).numpy()] == texts


def test_encode_tf_on_a_vector_gives_ragged_ids(vocabulary: HuggingFaceVocabulary):
  ids = vocabulary.encode_tf(tf.constant(UNSEEN))
  assert isinstance(ids, tf.RaggedTensor)
  assert ids.to_list() == [list(vocabulary.encode(text)) for text in UNSEEN]


def test_seqio_task_tokenizes_with_the_vocabulary(vocabulary: HuggingFaceVocabulary):
  questions = ["Janet’s ducks lay 16 eggs per day.", "敏捷的棕色狐狸", "Mbweha mwepesi"]
  answers = ["18", "跳过了懒狗", "mbwa mvivu"]

  def dataset_fn(split: str, shuffle_files: bool, seed=None) -> tf.data.Dataset:
    del split, shuffle_files, seed
    return tf.data.Dataset.from_tensor_slices({"inputs": questions, "targets": answers})

  task = seqio.TaskRegistry.add(
      "test_hf_vocabulary_task",
      source=seqio.FunctionDataSource(dataset_fn=dataset_fn, splits=["train"]),
      preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos],
      output_features={
          "inputs": seqio.Feature(vocabulary, add_eos=False),
          "targets": seqio.Feature(vocabulary, add_eos=True),
      })
  examples = list(task.get_dataset(sequence_length=None, split="train", shuffle=False)
                  .as_numpy_iterator())
  assert len(examples) == 3
  for example, question, answer in zip(examples, questions, answers):
    assert example["inputs"].dtype == np.int32
    assert example["inputs"].tolist() == list(vocabulary.encode(question))
    assert example["targets"].tolist() == list(vocabulary.encode(answer)) + [vocabulary.eos_id]
    assert vocabulary.decode(example["targets"].tolist()) == answer


def test_equality_pickling_and_lazy_loading(tokenizer_file: str, tmp_path: pathlib.Path):
  first = HuggingFaceVocabulary(tokenizer_file, eos_token="</s>", pad_token="<pad>")
  assert "tokenizer" not in first.__dict__  # nothing read yet
  copy_path = tmp_path / "copy.json"
  copy_path.write_text(pathlib.Path(tokenizer_file).read_text())
  same_content = HuggingFaceVocabulary(str(copy_path), eos_token="</s>", pad_token="<pad>")
  assert first == same_content and hash(first) == hash(same_content)
  assert first != HuggingFaceVocabulary(tokenizer_file, eos_token="<unk>", pad_token="<pad>")
  assert first != HuggingFaceVocabulary(tokenizer_file, eos_token="</s>", pad_token="<pad>",
                                        extra_ids=3)
  restored = pickle.loads(pickle.dumps(first))
  assert restored == first
  assert list(restored.encode("Hund")) == list(first.encode("Hund"))


def test_pad_defaults_to_zero_and_unk_to_the_model(tokenizer_file: str):
  vocabulary = HuggingFaceVocabulary.from_file(tokenizer_file)
  assert (vocabulary.pad_id, vocabulary.eos_id, vocabulary.unk_id) == (0, None, 2)


def test_bad_input_is_a_user_input_error(tokenizer_file: str, tmp_path: pathlib.Path):
  with pytest.raises(UserInputError, match="does not exist"):
    HuggingFaceVocabulary.from_file(str(tmp_path / "missing.json"))
  broken = tmp_path / "broken.json"
  broken.write_text("{not json")
  with pytest.raises(UserInputError, match="not a valid tokenizer.json"):
    HuggingFaceVocabulary.from_file(str(broken))
  with pytest.raises(UserInputError, match="eos_token '<eos>'"):
    HuggingFaceVocabulary.from_file(tokenizer_file, eos_token="<eos>")


def test_prefix_ids_follow_the_post_processor_unless_add_bos_decides(tokenizer_file: str,
                                                                      tmp_path: pathlib.Path):
  plain = HuggingFaceVocabulary.from_file(tokenizer_file)
  assert (plain.bos_id, plain.prefix_ids) == (None, ())
  tokenizer = tokenizers.Tokenizer.from_file(tokenizer_file)
  tokenizer.post_processor = processors.TemplateProcessing(
      single="<unk> $A", special_tokens=[("<unk>", 2)])  # <unk> stands in for a BOS
  path = str(tmp_path / "with_bos.json")
  tokenizer.save(path)
  assert HuggingFaceVocabulary.from_file(path).prefix_ids == (2,)
  assert HuggingFaceVocabulary.from_file(path, bos_token="<unk>", add_bos=False).prefix_ids == ()
  forced = HuggingFaceVocabulary.from_file(tokenizer_file, bos_token="</s>", add_bos=True)
  assert (forced.bos_id, forced.prefix_ids) == (1, (1,))
  with pytest.raises(UserInputError, match="needs a bos_token"):
    HuggingFaceVocabulary.from_file(tokenizer_file, add_bos=True)
  with pytest.raises(UserInputError, match="bos_token '<s>'"):
    HuggingFaceVocabulary.from_file(tokenizer_file, bos_token="<s>")


def test_arguments_and_records_rebuild_an_equal_vocabulary(tokenizer_file: str):
  from xlt_jax.models import vocabularies

  vocabulary = HuggingFaceVocabulary.from_file(tokenizer_file, eos_token="</s>", bos_token="<pad>",
                                               add_bos=True)
  assert HuggingFaceVocabulary(**vocabulary.arguments()) == vocabulary
  record = vocabularies.record(vocabulary)
  assert record["kind"] == "huggingface" and record["path"] == tokenizer_file
  rebuilt = vocabularies.load(json.loads(json.dumps(record)))
  assert rebuilt == vocabulary and rebuilt.prefix_ids == (0,)
