"""A run's vocabulary as a JSON record and back.

A study tokenizes with a SentencePiece model (trained for it or given) or with a
pretrained checkpoint's `tokenizer.json` and its special tokens. The launcher writes
the record into each run's `run.json`; `python -m xlt_jax.evaluate` rebuilds exactly
the vocabulary training used from it.
"""

import seqio

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary
from xlt_jax.models.tokenizer import load_vocabulary

SENTENCEPIECE, HUGGINGFACE = "sentencepiece", "huggingface"


def record(vocabulary: seqio.Vocabulary) -> dict:
  """{"kind": "sentencepiece", "path"} or {"kind": "huggingface", "path", special tokens}.

  Raises:
    UserInputError: a vocabulary of another kind.
  """
  if isinstance(vocabulary, HuggingFaceVocabulary):
    arguments = vocabulary.arguments()
    return {"kind": HUGGINGFACE, "path": arguments.pop("tokenizer_path"), **arguments}
  if isinstance(vocabulary, seqio.SentencePieceVocabulary):
    return {"kind": SENTENCEPIECE, "path": vocabulary.sentencepiece_model_file}
  raise UserInputError(f"cannot record a vocabulary of type {type(vocabulary).__name__}")


def load(vocabulary_record: dict) -> seqio.Vocabulary:
  """The vocabulary a `record` describes, its files read and its special tokens checked.

  Raises:
    UserInputError: an unknown kind, a missing file or a special token it lacks.
  """
  arguments = dict(vocabulary_record)
  kind, path = arguments.pop("kind", None), arguments.pop("path", None)
  if kind == SENTENCEPIECE:
    return load_vocabulary(path)
  if kind == HUGGINGFACE:
    return HuggingFaceVocabulary.from_file(path, **arguments)
  raise UserInputError(f"unknown vocabulary kind {kind!r} (known: {SENTENCEPIECE}, {HUGGINGFACE})")
