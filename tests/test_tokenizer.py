"""The project's SentencePiece tokenizer: every script round-trips, training is deterministic."""

import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.tokenizer import EOS_ID, PAD_ID, load_vocabulary, train_sentencepiece

TEXTS = ["Ana tiene 3 manzanas.", "太郎はりんごを3個持っています。", "لدى أحمد 3 تفاحات.",
         "민수는 사과 3개를 가지고 있습니다.", "小明有3个苹果。"] * 40


def test_every_script_round_trips_even_unseen_characters(tmp_path):
  vocabulary = load_vocabulary(train_sentencepiece(TEXTS, str(tmp_path / "spm.model"), 512))
  assert (vocabulary.pad_id, vocabulary.eos_id) == (PAD_ID, EOS_ID)
  for text in TEXTS[:5] + ["Ελληνικά 😀 नमस्ते\nline  two", "ＡＢ１ full-width"]:
    assert vocabulary.decode(vocabulary.encode(text)) == text
  assert len(vocabulary.encode("3")) == 2  # "▁" + digit: digits are split one by one


def test_training_is_deterministic(tmp_path):
  first = train_sentencepiece(TEXTS, str(tmp_path / "a.model"), 512)
  second = train_sentencepiece(TEXTS, str(tmp_path / "b.model"), 512)
  assert open(first, "rb").read() == open(second, "rb").read()


def test_missing_model_file(tmp_path):
  with pytest.raises(UserInputError, match="does not exist"):
    load_vocabulary(str(tmp_path / "none.model"))


def test_vocabulary_record_round_trips(tmp_path):
  from xlt_jax.models import vocabularies

  vocabulary = load_vocabulary(train_sentencepiece(TEXTS, str(tmp_path / "spm.model"), 512))
  record = vocabularies.record(vocabulary)
  assert record == {"kind": "sentencepiece", "path": str(tmp_path / "spm.model")}
  assert vocabularies.load(record).encode("小明有3个苹果。") == vocabulary.encode("小明有3个苹果。")
  with pytest.raises(UserInputError, match="unknown vocabulary kind 'bpe'"):
    vocabularies.load({"kind": "bpe", "path": "x"})
