"""SentencePiece tokenizers trained by the project, served as seqio vocabularies.

Byte fallback is on, so text in any script round-trips exactly, even characters
the model never saw while training the tokenizer.
"""

import io
import tempfile
from typing import Iterable

import sentencepiece
import seqio
from sentencepiece import sentencepiece_model_pb2

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError

# seqio's (T5's) convention: pad 0 (also the decoder's start token), EOS 1, UNK 2.
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2


def train_sentencepiece(texts: Iterable[str], model_path: str, vocab_size: int) -> str:
  """Trains a unigram SentencePiece model with byte fallback and writes it to model_path.

  Training is single-threaded and seeded by the input order, so the same texts
  give the same model file. The only normalisation removes byte-order marks
  (U+FEFF), so decode(encode(t)) == t for any text without one. (A non-empty rule
  also keeps tf-text from logging "precompiled_charsmap is empty" on every load.)

  Returns:
    model_path.
  """
  model = io.BytesIO()
  with tempfile.NamedTemporaryFile("w", suffix=".tsv") as rules:
    rules.write("FEFF\t\n")  # source code points TAB replacement (none)
    rules.flush()
    _train(texts, model, vocab_size, rules.name)
  # The model records the rule file's temporary path; clear it so that equal inputs
  # give byte-identical model files.
  proto = sentencepiece_model_pb2.ModelProto.FromString(model.getvalue())
  proto.normalizer_spec.ClearField("normalization_rule_tsv")
  atomic_io.write_atomically(model_path, lambda file: file.write(proto.SerializeToString()),
                             mode="wb")
  return model_path


def _train(texts: Iterable[str], model: io.BytesIO, vocab_size: int, rules_path: str) -> None:
  sentencepiece.SentencePieceTrainer.train(
      sentence_iterator=iter(list(texts)),
      model_writer=model,
      vocab_size=vocab_size,
      model_type="unigram",
      byte_fallback=True,
      character_coverage=0.9995,
      normalization_rule_tsv=rules_path,
      remove_extra_whitespaces=False,
      split_digits=True,  # digits one by one: arithmetic generalises across numbers
      pad_id=PAD_ID,
      eos_id=EOS_ID,
      unk_id=UNK_ID,
      bos_id=-1,
      hard_vocab_limit=False,
      num_threads=1,
      minloglevel=2,
  )


def load_vocabulary(model_path: str) -> seqio.SentencePieceVocabulary:
  """The seqio vocabulary of a SentencePiece model file (no extra ids); a gs:// path is
  read by seqio itself (tf.io.gfile), so no local copy is needed."""
  if not paths.isfile(model_path):
    raise UserInputError(f"tokenizer model {model_path} does not exist")
  return seqio.SentencePieceVocabulary(model_path)
