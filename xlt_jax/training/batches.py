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
from collections.abc import Iterator

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


ALL_DATA = seqio.ShardInfo(index=0, num_shards=1)


def _kept_rows(name: str, lengths: FeatureLengths) -> tf.data.Dataset:
  """Every training example of every task of `name` that the length policy keeps, as
  one unpadded row each, task after task (a fixed order; all hosts read all of it)."""
  datasets = [
      features.example_rows(
          _task_examples(task.name, "train", shuffle=False, num_epochs=1, seed=0,
                         shard=ALL_DATA),
          lengths.inputs, lengths.targets, sequence_start_ids(task.name))
      for task in _tasks_of(name)]
  return functools.reduce(lambda first, second: first.concatenate(second), datasets)


def kept_examples(name: str, lengths: FeatureLengths) -> int:
  """How many training examples of a task or mixture the length policy keeps (all hosts'):
  one epoch."""
  return sum(counts["examples"] - counts["dropped"]
             for counts in length_counts(name, "train", lengths, ALL_DATA).values())


def steps_per_epoch(kept: int, batch_size: int) -> int:
  """Batches of one epoch over `kept` examples: the last one is partly padding."""
  return max(1, -(-kept // batch_size))


def _epochs(name: str, lengths: FeatureLengths, seed: int, kept: int,
            shard: seqio.ShardInfo) -> tf.data.Dataset:
  """This host's rows of endless epochs: each a fresh permutation of the kept examples,
  seeded by `seed` (the same on every host), dealt round-robin to the hosts."""
  # Tokenized once: the whole-epoch shuffle buffer holds them all in memory anyway.
  rows = _kept_rows(name, lengths).cache()
  # A whole-epoch buffer: a uniform permutation, each example exactly once per epoch,
  # another order in every epoch (deterministic given the seed: it is replayed to resume).
  rows = rows.shuffle(max(kept, 1), seed=seed, reshuffle_each_iteration=True)
  return rows.shard(shard.num_shards, shard.index)


def _pad_batch(batch: dict, host_batch_size: int) -> dict:
  """A short last batch filled up with empty rows (segment 0, loss weight 0)."""
  missing = host_batch_size - tf.shape(batch["decoder_input_tokens"])[0]
  return {key: tf.pad(value, [[0, missing], [0, 0]]) for key, value in batch.items()}


def packed_rows(name: str, lengths: FeatureLengths, seed: int) -> dict[str, np.ndarray]:
  """Every example the length policy keeps, packed once (`features.pack`) into rows of
  inputs + targets positions, the examples taken in an order drawn from `seed`:
  MODEL_FEATURES as [rows, length] arrays, each kept example in exactly one row.

  The same rows serve every epoch (in another order each time): within a row examples
  attend only to themselves, so which examples share a row does not change any loss.

  Raises:
    UserInputError: the length policy keeps no example.
  """
  examples = list(_kept_rows(name, lengths).as_numpy_iterator())
  if not examples:
    raise UserInputError(f"{name}: the length policy keeps no training example to pack")
  order = np.random.default_rng(seed).permutation(len(examples))
  rows = list(features.pack((examples[index] for index in order),
                            lengths.inputs + lengths.targets))
  return {key: np.stack([row[key] for row in rows]) for key in MODEL_FEATURES}


def epoch_rows(name: str, lengths: FeatureLengths, seed: int, pack: bool, kept: int) -> int:
  """Rows of one epoch: the `kept` examples, or with `pack` the packed rows holding them."""
  return len(packed_rows(name, lengths, seed)["decoder_input_tokens"]) if pack else kept


def training_batches(
    mixture: str, lengths: FeatureLengths, batch_size: int, seed: int, pack: bool = False,
    skip_batches: int = 0, shard: seqio.ShardInfo | None = None, kept: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
  """Endless batches of one host's share of the global batch, epoch after epoch.

  An epoch holds every example the length policy keeps (`kept`, counted when not
  given) exactly once, each epoch in another order drawn from `seed`; nothing is repeated within
  an epoch and nothing is sampled. An epoch is `steps_per_epoch(rows, batch_size)`
  batches, global batch j holding positions [j * batch_size, (j + 1) * batch_size) of
  the epoch's order, the last one filled with empty rows (loss weight 0, segment 0; on
  several hosts, a host whose share ends early gets such rows or whole empty batches, so
  that every host runs the same steps). Unpacked, the rows are the kept examples, one
  each; packed, they are `packed_rows` (the kept examples packed once), so an epoch
  budget counts whole passes over exactly the kept examples in either layout.

  Each batch has MODEL_FEATURES, [host batch, inputs + targets]. `shard` defaults to
  this process's (`this_host_shard`); tests pass others to rebuild what each host of a
  multi-host run feeds. The sequence depends only on the arguments, so
  `skip_batches=n` continues exactly where a run that consumed n batches stopped (how a
  resumed run restores its data position).
  """
  shard = shard or this_host_shard()
  host_batch_size = _host_batch_size(batch_size, shard)
  if kept is None:
    kept = kept_examples(mixture, lengths)
  length = lengths.inputs + lengths.targets
  if pack:
    rows = packed_rows(mixture, lengths, seed)
    count = len(rows["decoder_input_tokens"])
    # A whole-epoch buffer, as for examples: each packed row once per epoch, a new order each.
    epoch = tf.data.Dataset.from_tensor_slices(rows).shuffle(
        count, seed=seed, reshuffle_each_iteration=True).shard(shard.num_shards, shard.index)
  else:
    count = kept
    epoch = _epochs(mixture, lengths, seed, kept, shard).map(
        features.single_segment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    epoch = seqio.utils.trim_and_pad_dataset(epoch, {key: length for key in MODEL_FEATURES})
  epoch = epoch.batch(host_batch_size).map(lambda batch: _pad_batch(batch, host_batch_size))
  empty = tf.data.Dataset.from_tensors(
      {key: tf.zeros([host_batch_size, length], tf.int32) for key in MODEL_FEATURES}).repeat()
  epoch = epoch.concatenate(empty).take(steps_per_epoch(count, batch_size))
  dataset = epoch.repeat().skip(skip_batches).prefetch(2)
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


def length_counts(name: str, split: str, lengths: FeatureLengths,
                  shard: seqio.ShardInfo | None = None) -> dict[str, dict[str, int]]:
  """Per task of a mixture (or the task): examples, and how many of them the length
  policy truncates and drops at these lengths (`shard`'s examples: by default this
  host's; ALL_DATA for all).

  Returns:
    {task name: {"examples": n, "truncated": t, "dropped": d}}.
  """
  return {
      task.name: features.count_fates(
          _task_examples(task.name, split, shuffle=False, num_epochs=1, seed=0, shard=shard),
          lengths.inputs, lengths.targets, sequence_start_ids(task.name))
      for task in _tasks_of(name)
  }


def evaluation_examples(task: str, split: str = "test") -> list[dict]:
  """A task's examples of `split` in file order: id, language, answer, prompt, prompt
  token ids and the reference text (`target`: what perplexity scores)."""
  dataset = get_mixture_or_task(task).get_dataset(
      sequence_length=None, split=split, shuffle=False, num_epochs=1
  )
  examples = []
  for example in dataset.as_numpy_iterator():
    examples.append({
        "id": example["id"].decode(),
        "language": example["language"].decode(),
        "answer": example["answer"].decode(),
        "prompt": example["inputs_pretokenized"].decode(),
        "prompt_tokens": example["inputs"].tolist(),
        "target": example["targets_pretokenized"].decode(),
        # A multiple-choice dataset's options (JSON), scored by log-likelihood.
        **({"choices": example["choices"].decode()} if "choices" in example else {}),
    })
  return examples
