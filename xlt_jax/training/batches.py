"""Model-ready batches out of seqio tasks and mixtures.

Training batches are unpacked by default (one example per row, as in P0 §3) or
packed; the loss covers the completion and its EOS only, or for chat tasks every
assistant turn; each host reads only its shard of the global batch. The rows and
the length policy are defined in `xlt_jax.training.features`; what a plain row
begins with (a pretrained tokenizer's BOS, or seqio's decoder start) comes from the
task's own vocabulary (`sequence_start_ids`), so training, validation and
evaluation prompts agree by construction.
"""

import dataclasses
import functools
from typing import Iterator

import jax
import numpy as np
import seqio
import tensorflow as tf
from jax.experimental import multihost_utils

from xlt_jax.core.errors import UserInputError
from xlt_jax.training import features

MODEL_FEATURES = features.MODEL_FEATURES


@dataclasses.dataclass(frozen=True)
class FeatureLengths:
  """Token budget per example; rows hold inputs + targets positions.

  What happens to longer examples is `xlt_jax.training.features`' length policy.
  """

  inputs: int
  targets: int

  def as_dict(self) -> dict[str, int]:
    return {"inputs": self.inputs, "targets": self.targets}


def get_mixture_or_task(name: str):
  """The registered seqio task or mixture, or UserInputError naming the unknown name."""
  try:
    return seqio.get_mixture_or_task(name)
  except ValueError:
    known = sorted(set(seqio.TaskRegistry.names()) | set(seqio.MixtureRegistry.names()))
    hint = f" (registered: {', '.join(known[:20])}{', ...' if len(known) > 20 else ''})"
    raise UserInputError(f"unknown task or mixture {name!r}{hint}") from None


def sequence_start_ids(name: str) -> tuple[int, ...]:
  """The ids a plain sequence of this task or mixture begins with: its vocabulary's
  (`features.sequence_start_ids`)."""
  inputs = get_mixture_or_task(name).output_features.get("inputs")
  return features.DECODER_START if inputs is None else features.sequence_start_ids(
      inputs.vocabulary)


def this_host_shard() -> seqio.ShardInfo:
  """The share of the data that this process reads: shard process_index of process_count."""
  return seqio.ShardInfo(index=jax.process_index(), num_shards=jax.process_count())


def _host_batch_size(global_batch_size: int, shard: seqio.ShardInfo) -> int:
  if global_batch_size % shard.num_shards:
    raise UserInputError(
        f"batch size {global_batch_size} is not divisible by {shard.num_shards} hosts"
    )
  return global_batch_size // shard.num_shards


def _task_examples(name: str, split: str, *, shuffle, num_epochs, seed,
                   shard: seqio.ShardInfo | None = None):
  # Untrimmed (sequence_length=None): the length policy must see whole examples.
  return get_mixture_or_task(name).get_dataset(
      sequence_length=None, split=split, shuffle=shuffle, num_epochs=num_epochs, seed=seed,
      shard_info=shard or this_host_shard(),
  )


def _model_dataset(name: str, split: str, lengths: FeatureLengths, *, shuffle, num_epochs, seed,
                   shard: seqio.ShardInfo):
  examples = _task_examples(name, split, shuffle=shuffle, num_epochs=num_epochs, seed=seed,
                            shard=shard)
  return features.padded_rows(examples, lengths.inputs, lengths.targets,
                              sequence_start_ids(name))


def _packed_batches(name: str, lengths: FeatureLengths, host_batch_size: int, seed: int,
                    shard: seqio.ShardInfo):
  examples = _task_examples(name, "train", shuffle=True, num_epochs=None, seed=seed, shard=shard)
  rows = features.example_rows(examples, lengths.inputs, lengths.targets,
                               sequence_start_ids(name))
  packed = features.pack(rows.prefetch(tf.data.AUTOTUNE).as_numpy_iterator(),
                         lengths.inputs + lengths.targets)
  while True:
    batch = [next(packed) for _ in range(host_batch_size)]
    yield {key: np.stack([row[key] for row in batch]) for key in MODEL_FEATURES}


def training_batches(
    mixture: str, lengths: FeatureLengths, batch_size: int, seed: int, pack: bool = False,
    skip_batches: int = 0, shard: seqio.ShardInfo | None = None,
) -> Iterator[dict[str, np.ndarray]]:
  """Endless shuffled batches of one host's share of the global batch.

  Each batch has MODEL_FEATURES, [host batch, inputs + targets]; with pack, rows
  hold several examples told apart by decoder_segment_ids. `shard` defaults to this
  process's (`this_host_shard`); tests pass others to rebuild what each host of a
  multi-host run feeds. The sequence depends only on the arguments, so
  `skip_batches=n` continues exactly where a run that consumed n batches stopped (how a
  resumed run restores its data position).
  """
  shard = shard or this_host_shard()
  host_batch_size = _host_batch_size(batch_size, shard)
  if pack:
    packed = _packed_batches(mixture, lengths, host_batch_size, seed, shard)
    for _ in range(skip_batches):
      next(packed)
    yield from packed
    return
  dataset = _model_dataset(mixture, "train", lengths, shuffle=True, num_epochs=None, seed=seed,
                           shard=shard)
  dataset = dataset.batch(host_batch_size, drop_remainder=True).skip(skip_batches)
  dataset = dataset.prefetch(2)
  for batch in dataset.as_numpy_iterator():
    yield {key: batch[key] for key in MODEL_FEATURES}


def validation_batches(
    mixture: str, lengths: FeatureLengths, batch_size: int
) -> list[dict[str, np.ndarray]]:
  """Every validation example the length policy keeps, once, in fixed order, unpacked;
  the last batch is padded with rows of zero loss weight (segment 0) so that every
  batch has the same shape, and on several hosts every host gets the same number of
  batches (empty ones where its shard is short)."""
  # Task by task, concatenated: one epoch of a seqio mixture stops as soon as its
  # smallest task runs out, which would silently drop validation examples.
  tasks = _tasks_of(mixture)
  shard = this_host_shard()
  datasets = [_model_dataset(task.name, "validation", lengths, shuffle=False, num_epochs=1, seed=0,
                             shard=shard)
              for task in tasks]
  dataset = functools.reduce(lambda first, second: first.concatenate(second), datasets)
  host_batch_size = _host_batch_size(batch_size, shard)
  batches = []
  for batch in dataset.batch(host_batch_size).as_numpy_iterator():
    batch = {key: batch[key] for key in MODEL_FEATURES}
    missing = host_batch_size - len(batch["decoder_input_tokens"])
    if missing:
      batch = {key: np.pad(value, ((0, missing), (0, 0))) for key, value in batch.items()}
    batches.append(batch)
  # Hosts whose shards are shorter pad with empty batches: every host must run the
  # same number of validation steps, or the others wait forever in a collective.
  if shard.num_shards > 1:
    most = int(np.max(multihost_utils.process_allgather(np.int32(len(batches)))))
    length = lengths.inputs + lengths.targets
    empty = {key: np.zeros((host_batch_size, length), np.int32) for key in MODEL_FEATURES}
    batches += [empty] * (most - len(batches))
  return batches


def _tasks_of(name: str) -> list:
  return getattr(get_mixture_or_task(name), "tasks", None) or [get_mixture_or_task(name)]


def length_counts(name: str, split: str, lengths: FeatureLengths) -> dict[str, dict[str, int]]:
  """Per task of a mixture (or the task): examples, and how many of them the length
  policy truncates and drops at these lengths (this host's shard).

  Returns:
    {task name: {"examples": n, "truncated": t, "dropped": d}}.
  """
  return {
      task.name: features.count_fates(
          _task_examples(task.name, split, shuffle=False, num_epochs=1, seed=0),
          lengths.inputs, lengths.targets, sequence_start_ids(task.name))
      for task in _tasks_of(name)
  }


def evaluation_examples(task: str) -> list[dict]:
  """Test examples of a task in file order: id, language, answer, prompt token ids."""
  dataset = get_mixture_or_task(task).get_dataset(
      sequence_length=None, split="test", shuffle=False, num_epochs=1
  )
  examples = []
  for example in dataset.as_numpy_iterator():
    examples.append({
        "id": example["id"].decode(),
        "language": example["language"].decode(),
        "answer": example["answer"].decode(),
        "prompt": example["inputs_pretokenized"].decode(),
        "prompt_tokens": example["inputs"].tolist(),
        # A multiple-choice dataset's options (JSON), scored by log-likelihood.
        **({"choices": example["choices"].decode()} if "choices" in example else {}),
    })
  return examples
