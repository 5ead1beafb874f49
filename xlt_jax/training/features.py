"""Model features out of task examples: one sequence and loss mask per example, the
length policy, then padding or packing into fixed-length rows.

Each example first becomes one token sequence and a loss mask over it:
  plain tasks (features "inputs" and "targets", each closed by EOS):
      start + inputs + targets, mask 1 on the targets. `start` depends on the
      vocabulary (`sequence_start_ids`): a pretrained model's tokenizer.json gives
      its BOS where the tokenizer adds one (Llama, Gemma, Command) and nothing where
      it adds none (Qwen), so rows begin as `tokenizer(text)` does; a SentencePiece
      vocabulary (no BOS) gives [0], seqio's decoder start token, so unpacked rows
      equal seqio's PrefixLMFeatureConverter(pack=False) on every position of the
      example (seqio also feeds the last EOS into the first padding position; here
      padding is 0 throughout).
  chat tasks (features "chat_tokens" and "chat_loss_mask", see
      `tasks.registration`): the rendered conversation, BOS first, and its mask,
      1 exactly on assistant contents and their end-of-turn tokens.
A row is then the sequence shifted by one: decoder_input_tokens = sequence[:-1],
decoder_target_tokens = sequence[1:], decoder_loss_weights = mask[1:], plus
decoder_segment_ids (1, 2, ... per example in the row, 0 on padding) and
decoder_positions (per example, from 0). Unpacked rows hold one example (segment 1).

Length policy (sequence length = inputs_length + targets_length positions):
  plain: a prompt longer than inputs_length keeps its LAST inputs_length tokens
      (the question and the EOS that separates it from the answer: datasets put
      the instruction after long documents, as MGSM puts the question after its
      exemplars); an example whose target alone is longer than
      targets_length is DROPPED: a cut answer would teach the model to stop early.
  chat: a conversation that does not fit is cut after the last assistant turn that
      ends within the sequence length (every trained turn is whole, with its
      end-of-turn token); if not even the first assistant turn fits, the example
      is DROPPED.
`KEPT`, `TRUNCATED` and `DROPPED` name each example's fate; `count_fates` counts them.

Unpacked rows are built in tf.data; packing (`pack`) runs in Python on the
examples the tf.data pipeline yields.
"""

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import seqio
import tensorflow as tf

from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary

KEPT, TRUNCATED, DROPPED = 0, 1, 2
DECODER_START = (0,)  # seqio's decoder start token: what plain sequences begin with by default
FATE = "length_fate"
CHAT_TOKENS, CHAT_LOSS_MASK = "chat_tokens", "chat_loss_mask"
ROW_FEATURES = ("decoder_input_tokens", "decoder_target_tokens", "decoder_loss_weights")
MODEL_FEATURES = ROW_FEATURES + ("decoder_segment_ids", "decoder_positions")


def is_chat(features: dict) -> bool:
  """Whether examples with these features are rendered conversations (else plain)."""
  return CHAT_TOKENS in features


def sequence_start_ids(vocabulary: seqio.Vocabulary) -> tuple[int, ...]:
  """The ids a plain sequence (training row or evaluation prompt) begins with.

  A Hugging Face tokenizer's own prefix (`HuggingFaceVocabulary.prefix_ids`: its BOS
  where it adds one, else nothing); for any other vocabulary seqio's decoder start
  token (`DECODER_START`: the SentencePiece models trained here have no BOS).
  """
  if isinstance(vocabulary, HuggingFaceVocabulary):
    return tuple(vocabulary.prefix_ids)
  return DECODER_START


@tf.autograph.experimental.do_not_convert
def _plain_sequence(example: dict, inputs_length: int, targets_length: int,
                    start_ids: Sequence[int]) -> dict:
  inputs, targets = example["inputs"], example["targets"]
  fate = tf.where(tf.size(targets) > targets_length, DROPPED,
                  tf.where(tf.size(inputs) > inputs_length, TRUNCATED, KEPT))
  inputs = inputs[-inputs_length:]  # keeps the end of the prompt (the start is kept too)
  start = tf.constant(list(start_ids), inputs.dtype, shape=[len(start_ids)])
  sequence = tf.concat([start, inputs, targets], axis=0)
  mask = tf.concat([tf.zeros([len(start_ids) + tf.size(inputs)], tf.int32),
                    tf.ones([tf.size(targets)], tf.int32)], axis=0)
  return {"sequence": sequence, "mask": mask, FATE: fate}


@tf.autograph.experimental.do_not_convert
def _chat_sequence(example: dict, max_tokens: int) -> dict:
  ids, mask = example[CHAT_TOKENS], tf.cast(example[CHAT_LOSS_MASK], tf.int32)
  # A prefix of length e ends an assistant turn where mask[e-1] == 1 and mask[e] == 0.
  following = tf.concat([mask[1:], [0]], axis=0)
  turn_ends = tf.cast(tf.where((mask == 1) & (following == 0))[:, 0], tf.int32) + 1
  fitting_ends = tf.boolean_mask(turn_ends, turn_ends <= max_tokens)
  last_fitting_end = tf.reduce_max(tf.concat([[0], fitting_ends], axis=0))
  fits = tf.size(ids) <= max_tokens
  fate = tf.where(fits, KEPT, tf.where(last_fitting_end > 0, TRUNCATED, DROPPED))
  length = tf.where(fits, tf.size(ids), last_fitting_end)
  return {"sequence": ids[:length], "mask": mask[:length], FATE: fate}


def sequences_with_fate(dataset: tf.data.Dataset, inputs_length: int, targets_length: int,
                        start_ids: Sequence[int] = DECODER_START) -> tf.data.Dataset:
  """Each example as {"sequence", "mask", FATE}, fitted by the length policy.

  Plain sequences begin with `start_ids` (at most one id; see `sequence_start_ids`);
  chat sequences begin as their template renders them. Kept and truncated sequences
  hold at most inputs_length + targets_length + 1 tokens (so their rows fit);
  dropped ones are returned too, marked DROPPED, so that counting and training see
  the same decisions.
  """
  if is_chat(dataset.element_spec):
    max_tokens = inputs_length + targets_length + 1
    return dataset.map(lambda example: _chat_sequence(example, max_tokens),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if len(start_ids) > 1:
    raise ValueError(f"plain sequences begin with at most one token, not {list(start_ids)}")
  return dataset.map(
      lambda example: _plain_sequence(example, inputs_length, targets_length, start_ids),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


@tf.autograph.experimental.do_not_convert
def _rows(example: dict) -> dict:
  sequence, mask = example["sequence"], example["mask"]
  return {
      "decoder_input_tokens": sequence[:-1],
      "decoder_target_tokens": sequence[1:],
      "decoder_loss_weights": mask[1:],
  }


@tf.autograph.experimental.do_not_convert
def single_segment(row: dict) -> dict:
  """An unpadded row as the only example of its row: segment 1, positions from 0."""
  length = tf.size(row["decoder_input_tokens"])
  return {**row, "decoder_segment_ids": tf.ones([length], tf.int32),
          "decoder_positions": tf.range(length, dtype=tf.int32)}


def example_rows(dataset: tf.data.Dataset, inputs_length: int, targets_length: int,
                 start_ids: Sequence[int] = DECODER_START) -> tf.data.Dataset:
  """One unpadded row (ROW_FEATURES) per example the length policy keeps, each at
  most inputs_length + targets_length long."""
  dataset = sequences_with_fate(dataset, inputs_length, targets_length, start_ids)
  dataset = dataset.filter(lambda example: example[FATE] != DROPPED)
  return dataset.map(_rows, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def padded_rows(dataset: tf.data.Dataset, inputs_length: int, targets_length: int,
                start_ids: Sequence[int] = DECODER_START) -> tf.data.Dataset:
  """Unpacked rows of MODEL_FEATURES, length inputs_length + targets_length: one
  example per row (segment 1), padded with 0 (segment 0, loss weight 0)."""
  dataset = example_rows(dataset, inputs_length, targets_length, start_ids).map(
      single_segment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  length = inputs_length + targets_length
  return seqio.utils.trim_and_pad_dataset(dataset, {key: length for key in MODEL_FEATURES})


def pack(rows: Iterable[dict[str, np.ndarray]], length: int,
         open_rows: int = 8) -> Iterator[dict[str, np.ndarray]]:
  """Packs unpadded example rows into rows of MODEL_FEATURES of `length` positions.

  First fit over a few open rows: each example goes into the first open row with
  room for it; when none has room, the fullest open row is emitted. Examples
  keep their order within a row, are numbered 1, 2, ... in decoder_segment_ids
  (0 is padding) and get positions from 0; an example never spans two rows.
  (seqio's packer cannot be used: it measures an example by its non-zero values,
  which cuts loss masks and drops real tokens with id 0.)

  Args:
    rows: dicts of 1-D ROW_FEATURES arrays, each at most `length` long.
    length: positions per packed row.
    open_rows: rows filled at once; more packs tighter and delays examples more.

  Yields:
    Packed rows; the open rows are flushed when `rows` ends.
  """
  open_rows_list: list[list[dict[str, np.ndarray]]] = []
  used: list[int] = []

  def emit(index: int) -> dict[str, np.ndarray]:
    examples = open_rows_list.pop(index)
    used.pop(index)
    row = {key: np.zeros(length, np.int32) for key in MODEL_FEATURES}
    start = 0
    for segment, example in enumerate(examples, start=1):
      size = len(example["decoder_input_tokens"])
      for key in ROW_FEATURES:
        row[key][start:start + size] = example[key]
      row["decoder_segment_ids"][start:start + size] = segment
      row["decoder_positions"][start:start + size] = np.arange(size)
      start += size
    return row

  for example in rows:
    size = len(example["decoder_input_tokens"])
    if size > length:
      raise ValueError(f"an example of {size} tokens does not fit a row of {length}")
    target = next((index for index, filled in enumerate(used) if filled + size <= length), None)
    if target is None:
      if len(open_rows_list) == open_rows:
        yield emit(int(np.argmax(used)))
      open_rows_list.append([])
      used.append(0)
      target = len(used) - 1
    open_rows_list[target].append(example)
    used[target] += size
  while open_rows_list:
    yield emit(0)


def count_fates(dataset: tf.data.Dataset, inputs_length: int, targets_length: int,
                start_ids: Sequence[int] = DECODER_START) -> dict[str, int]:
  """How many examples of a finite dataset the length policy keeps whole, truncates
  and drops: {"examples", "truncated", "dropped"}."""
  fates = sequences_with_fate(dataset, inputs_length, targets_length, start_ids).map(
      lambda example: example[FATE]).batch(4096)
  counts = np.zeros(3, np.int64)
  for batch in fates.as_numpy_iterator():
    counts += np.bincount(batch, minlength=3)
  return {"examples": int(counts.sum()), "truncated": int(counts[TRUNCATED]),
          "dropped": int(counts[DROPPED])}


def padding_efficiency(rows: Iterator[dict[str, np.ndarray]]) -> float:
  """Real tokens / all positions over some batches (1.0 means no padding)."""
  real, total = 0, 0
  for row in rows:
    segments = row["decoder_segment_ids"]
    real += int(np.count_nonzero(segments))
    total += segments.size
  return real / max(total, 1)
