"""A Hugging Face `tokenizer.json` served as a seqio vocabulary.

Pretrained checkpoints (Llama 3, Qwen, Gemma, Command/Aya) ship their tokenizer as a
`tokenizer.json` for the Rust `tokenizers` library. `HuggingFaceVocabulary` wraps one
so that seqio tasks can tokenize with exactly the ids the checkpoint was trained on.
Only `tokenizers` is needed at run time (no `transformers`).
"""

import functools
import os
from typing import Iterable, Optional, Sequence

import numpy as np
import seqio
import tensorflow as tf
import tokenizers

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError


def _as_text(value: bytes | np.ndarray) -> str:
  """The Python string inside what tf.numpy_function passes for a tf.string scalar."""
  if isinstance(value, np.ndarray):  # eager mode passes a 0-d object array
    value = value.item()
  return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class HuggingFaceVocabulary(seqio.Vocabulary):
  """A seqio vocabulary backed by a Hugging Face `tokenizers` tokenizer file.

  Encoding never adds special tokens (no BOS, no EOS): seqio appends EOS itself
  when a feature asks for it, and chat formatting writes BOS and turn markers as
  text (see `xlt_jax.models.chat_templates`), which the tokenizer turns into their ids
  because they are registered as added tokens. `prefix_ids` says which ids the
  tokenizer itself puts before a text (its BOS, where it adds one), so that plain
  sequences can begin as the model saw them in pretraining. Decoding drops special
  tokens, so padding and EOS never show up in decoded text.

  The file is read on first use, not in the constructor, so building a task
  registry that names many vocabularies stays cheap.
  """

  def __init__(self, tokenizer_path: str, eos_token: Optional[str] = None,
               pad_token: Optional[str] = None, unk_token: Optional[str] = None,
               extra_ids: int = 0, bos_token: Optional[str] = None,
               add_bos: Optional[bool] = None):
    """Remembers where the tokenizer lives and which tokens play which role.

    Args:
      tokenizer_path: path of a `tokenizer.json` file.
      eos_token: the token that ends a sequence (e.g. "<|eot_id|>"); None means
        the vocabulary has no EOS and seqio cannot append one.
      pad_token: the padding token; None means id 0, seqio's convention (its
        feature converters pad with 0 whatever the vocabulary says).
      unk_token: the unknown token; None means the tokenizer model's own unknown
        token if it has one, else none.
      extra_ids: seqio extra ids (sentinels) added after the base vocabulary.
      bos_token: the token that begins a sequence (e.g. "<|begin_of_text|>"); None
        means the vocabulary names none (`bos_id` is None).
      add_bos: whether a text begins with bos_token (`prefix_ids`); None means
        whatever the tokenizer's post-processor puts before a text, as the Rust
        tokenizer does (`tokenizer.json`'s TemplateProcessing). True needs bos_token.
    """
    super().__init__(extra_ids=extra_ids)
    self._tokenizer_path = os.fspath(tokenizer_path)
    self._eos_token = eos_token
    self._pad_token = pad_token
    self._unk_token = unk_token
    self._bos_token = bos_token
    self._add_bos = add_bos

  @classmethod
  def from_file(cls, tokenizer_path: str, eos_token: Optional[str] = None,
                pad_token: Optional[str] = None, unk_token: Optional[str] = None,
                extra_ids: int = 0, bos_token: Optional[str] = None,
                add_bos: Optional[bool] = None) -> "HuggingFaceVocabulary":
    """Loads and checks a `tokenizer.json` now, so mistakes surface at once.

    Returns:
      A vocabulary whose file parsed and whose named special tokens all exist.

    Raises:
      UserInputError: the file is missing or unreadable, a named token is not in
        its vocabulary, or add_bos is True without a bos_token.
    """
    vocabulary = cls(tokenizer_path, eos_token=eos_token, pad_token=pad_token,
                     unk_token=unk_token, extra_ids=extra_ids, bos_token=bos_token,
                     add_bos=add_bos)
    vocabulary._special_ids  # pylint: disable=pointless-statement  (forces the checks)
    vocabulary.bos_id  # pylint: disable=pointless-statement
    vocabulary.prefix_ids  # pylint: disable=pointless-statement
    return vocabulary

  @functools.cached_property
  def tokenizer(self) -> tokenizers.Tokenizer:
    """The underlying `tokenizers.Tokenizer`, read from disk once."""
    if not paths.isfile(self._tokenizer_path):
      raise UserInputError(f"tokenizer file {self._tokenizer_path} does not exist")
    try:
      # from_str, not from_file: the Rust reader opens local files only.
      return tokenizers.Tokenizer.from_str(paths.read_text(self._tokenizer_path))
    except Exception as error:  # The Rust side raises bare Exceptions.
      raise UserInputError(
          f"tokenizer file {self._tokenizer_path} is not a valid tokenizer.json: {error}"
      ) from error

  @functools.cached_property
  def _special_ids(self) -> tuple[Optional[int], int, Optional[int]]:
    """(eos, pad, unk) ids, each checked to exist in the tokenizer."""
    eos_id = self._token_id(self._eos_token, "eos_token")
    pad_id = self._token_id(self._pad_token, "pad_token")
    unk_token = self._unk_token
    if unk_token is None:
      # BPE and WordLevel models name their unknown token; others have none.
      unk_token = getattr(self.tokenizer.model, "unk_token", None)
    unk_id = self._token_id(unk_token, "unk_token")
    return eos_id, (0 if pad_id is None else pad_id), unk_id

  def _token_id(self, token: Optional[str], role: str) -> Optional[int]:
    if token is None:
      return None
    token_id = self.tokenizer.token_to_id(token)
    if token_id is None:
      raise UserInputError(
          f"{role} {token!r} is not in the vocabulary of {self._tokenizer_path}")
    return token_id

  @property
  def tokenizer_path(self) -> str:
    """The `tokenizer.json` path given at construction."""
    return self._tokenizer_path

  def arguments(self) -> dict:
    """The constructor's arguments (JSON-serialisable): `HuggingFaceVocabulary(**a)`
    builds an equal vocabulary."""
    return {"tokenizer_path": self._tokenizer_path, "eos_token": self._eos_token,
            "pad_token": self._pad_token, "unk_token": self._unk_token,
            "extra_ids": self.extra_ids, "bos_token": self._bos_token, "add_bos": self._add_bos}

  @property
  def eos_id(self) -> Optional[int]:
    return self._special_ids[0]

  @property
  def pad_id(self) -> int:
    return self._special_ids[1]

  @property
  def unk_id(self) -> Optional[int]:
    return self._special_ids[2]

  @property
  def bos_id(self) -> Optional[int]:
    """The id of bos_token; None when none was named. (Chat templates write BOS as
    text; plain sequences take their start from `prefix_ids`.)"""
    return self._token_id(self._bos_token, "bos_token")

  @functools.cached_property
  def prefix_ids(self) -> tuple[int, ...]:
    """The ids the tokenizer puts before every text it encodes with special tokens:
    (BOS,) for tokenizers that add one (Llama, Gemma, Command), () for the others
    (Qwen). `add_bos`, when given, decides instead of the post-processor.

    Raises:
      UserInputError: add_bos is True but no bos_token was named.
    """
    if self._add_bos is not None:
      if self._add_bos and self.bos_id is None:
        raise UserInputError(f"add_bos=True for {self._tokenizer_path} needs a bos_token")
      return (self.bos_id,) if self._add_bos else ()
    encoding = self.tokenizer.encode("a", add_special_tokens=True)
    prefix = []
    for token_id, special in zip(encoding.ids, encoding.special_tokens_mask):
      if not special:
        break
      prefix.append(token_id)
    return tuple(prefix)

  @property
  def _base_vocab_size(self) -> int:
    return self.tokenizer.get_vocab_size(with_added_tokens=True)

  def _encode(self, s: str) -> Sequence[int]:
    """Token ids of s, without BOS or EOS; special-token text becomes its id."""
    return self.tokenizer.encode(s, add_special_tokens=False).ids

  def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
    """Token ids of many texts at once (parallel in Rust), same as `_encode` each."""
    return [encoding.ids for encoding in
            self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

  def _decode(self, ids: Iterable[int]) -> str:
    """Text of ids, with special tokens (EOS, padding, turn markers) left out."""
    return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

  def _encode_tf(self, s: tf.Tensor) -> tf.Tensor:
    """Token ids of a string tensor: rank 0 gives a 1-D int32 tensor, rank 1 a ragged one.

    Raises:
      UserInputError: s has rank 2 or more, or unknown rank.
    """
    s = tf.convert_to_tensor(s, dtype=tf.string)

    def encode_one(text: tf.Tensor) -> tf.Tensor:
      ids = tf.numpy_function(
          lambda t: np.asarray(self._encode(_as_text(t)), dtype=np.int32),
          [text], tf.int32, stateful=False)
      ids.set_shape([None])
      return ids

    if s.shape.rank == 0:
      return encode_one(s)
    if s.shape.rank == 1:
      return tf.map_fn(encode_one, s, fn_output_signature=tf.RaggedTensorSpec(
          shape=[None], dtype=tf.int32, ragged_rank=0))
    raise UserInputError(
        f"encode_tf takes a scalar or vector of strings, not shape {s.shape}")

  def _decode_tf(self, ids: tf.Tensor) -> tf.Tensor:
    """Text of an int tensor of ids: the last axis is decoded, the others are kept."""
    ids = tf.convert_to_tensor(ids)

    def decode_all(array: np.ndarray) -> np.ndarray:
      flat = array.reshape(-1, array.shape[-1])
      texts = [self._decode(row.tolist()).encode("utf-8") for row in flat]
      return np.asarray(texts, dtype=object).reshape(array.shape[:-1])

    text = tf.numpy_function(decode_all, [ids], tf.string, stateful=False)
    text.set_shape(ids.shape[:-1])
    return text

  def __eq__(self, other: object) -> bool:
    """Equal when both give the same ids: same tokenizer content and special tokens."""
    if not isinstance(other, HuggingFaceVocabulary):
      return False
    if ((self.extra_ids, self._special_ids, self.bos_id, self.prefix_ids)
        != (other.extra_ids, other._special_ids, other.bos_id, other.prefix_ids)):
      return False
    if self._tokenizer_path == other._tokenizer_path:
      return True
    return self.tokenizer.to_str() == other.tokenizer.to_str()

  def __hash__(self) -> int:
    # Vocabularies with equal contents at different paths are equal, so the hash
    # cannot use the path.
    return hash((type(self).__name__, self.extra_ids))

  def __repr__(self) -> str:
    return (f"HuggingFaceVocabulary({self._tokenizer_path!r}, eos_token={self._eos_token!r}, "
            f"pad_token={self._pad_token!r}, bos_token={self._bos_token!r},"
            f" add_bos={self._add_bos!r})")

  def __getstate__(self) -> dict:
    # Cached Rust objects are rebuilt from the path after unpickling (e.g. in
    # data-loading workers), which keeps pickles small.
    state = dict(self.__dict__)
    state.pop("tokenizer", None)
    state.pop("prefix_ids", None)
    return state
