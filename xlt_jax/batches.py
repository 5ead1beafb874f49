"""Model-ready batches out of seqio tasks and mixtures.

Training batches are unpacked (one example per row, as in P0 §3): the prompt and
completion are concatenated, the loss covers the completion and its EOS only
(seqio's PrefixLMFeatureConverter with loss_on_targets_only), and each host reads
only its shard of the global batch.
"""

import dataclasses
import functools
from typing import Iterator

import jax
import numpy as np
import seqio

from xlt_jax.errors import UserInputError

MODEL_FEATURES = ("decoder_input_tokens", "decoder_target_tokens", "decoder_loss_weights")


@dataclasses.dataclass(frozen=True)
class FeatureLengths:
  """Token budget per example; longer prompts/completions are truncated by seqio."""

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


def _host_batch_size(global_batch_size: int) -> int:
  if global_batch_size % jax.process_count():
    raise UserInputError(
        f"batch size {global_batch_size} is not divisible by {jax.process_count()} hosts"
    )
  return global_batch_size // jax.process_count()


def _model_dataset(name: str, split: str, lengths: FeatureLengths, *, shuffle, num_epochs, seed):
  return seqio.get_dataset(
      get_mixture_or_task(name),
      task_feature_lengths=lengths.as_dict(),
      feature_converter=seqio.PrefixLMFeatureConverter(pack=False),
      dataset_split=split,
      shuffle=shuffle,
      num_epochs=num_epochs,
      seed=seed,
      shard_info=seqio.ShardInfo(index=jax.process_index(), num_shards=jax.process_count()),
      verbose=False,
  )


def training_batches(
    mixture: str, lengths: FeatureLengths, batch_size: int, seed: int, skip_batches: int = 0
) -> Iterator[dict[str, np.ndarray]]:
  """Endless shuffled batches of this host's share of the global batch.

  The sequence depends only on the arguments, so `skip_batches=n` continues exactly where
  a run that consumed n batches stopped (how a resumed run restores its data position).
  """
  dataset = _model_dataset(mixture, "train", lengths, shuffle=True, num_epochs=None, seed=seed)
  dataset = dataset.batch(_host_batch_size(batch_size), drop_remainder=True).skip(skip_batches)
  for batch in dataset.as_numpy_iterator():
    yield {key: batch[key] for key in MODEL_FEATURES}


def validation_batches(
    mixture: str, lengths: FeatureLengths, batch_size: int
) -> list[dict[str, np.ndarray]]:
  """Every validation example once, in fixed order; the last batch is padded with
  rows of zero loss weight so that every batch has the same shape."""
  # Task by task, concatenated: one epoch of a seqio mixture stops as soon as its
  # smallest task runs out, which would silently drop validation examples.
  tasks = getattr(get_mixture_or_task(mixture), "tasks", None) or [get_mixture_or_task(mixture)]
  datasets = [_model_dataset(task.name, "validation", lengths, shuffle=False, num_epochs=1, seed=0)
              for task in tasks]
  dataset = functools.reduce(lambda first, second: first.concatenate(second), datasets)
  host_batch_size = _host_batch_size(batch_size)
  batches = []
  for batch in dataset.batch(host_batch_size).as_numpy_iterator():
    batch = {key: batch[key] for key in MODEL_FEATURES}
    missing = host_batch_size - len(batch["decoder_input_tokens"])
    if missing:
      batch = {key: np.pad(value, ((0, missing), (0, 0))) for key, value in batch.items()}
    batches.append(batch)
  return batches


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
    })
  return examples
