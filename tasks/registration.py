"""seqio Task registration: one task per dataset x language x split, and example subsets.

Registration is idempotent: registering the same task with the same data again
is a no-op; registering a different definition under an existing name is an error.
"""

import hashlib
import os

import seqio
import tensorflow as tf

from tasks import datasets
from tasks.naming import task_name
from xlt_jax.errors import UserInputError

STRING_FIELDS = ("id", "language", "inputs", "targets", "answer")
# Carried into the task only when every example has them: the whole dialogue of a
# conversation dataset and the options of a multiple-choice one (JSON strings).
OPTIONAL_STRING_FIELDS = ("conversation", "choices")


def output_features(vocabulary: seqio.Vocabulary) -> dict[str, seqio.Feature]:
  """Prompt and completion, each closed by EOS (the EOS after the prompt separates them)."""
  return {
      "inputs": seqio.Feature(vocabulary, add_eos=True),
      "targets": seqio.Feature(vocabulary, add_eos=True),
  }


def _examples_dataset(examples: list[dict[str, str]]) -> tf.data.Dataset:
  fields = STRING_FIELDS + tuple(
      field for field in OPTIONAL_STRING_FIELDS
      if examples and all(field in example for example in examples))
  columns = {field: [example[field] for example in examples] for field in fields}
  if not examples:
    return tf.data.Dataset.from_tensor_slices({f: tf.constant([], tf.string) for f in STRING_FIELDS})
  return tf.data.Dataset.from_tensor_slices(columns)


def _register(name: str, fingerprint: str, source: seqio.DataSource, vocabulary) -> str:
  if name in seqio.TaskRegistry.names():
    existing = seqio.TaskRegistry.get(name)
    if getattr(existing, "xlt_fingerprint", None) != fingerprint:
      raise UserInputError(f"task {name} is already registered with a different definition")
    return name
  task = seqio.TaskRegistry.add(
      name,
      source=source,
      preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim],
      output_features=output_features(vocabulary),
      metric_fns=[],
  )
  task.xlt_fingerprint = fingerprint
  return name


def _vocabulary_id(vocabulary: seqio.Vocabulary) -> str:
  model_file = getattr(vocabulary, "sentencepiece_model_file", None)
  return os.path.abspath(model_file) if model_file else repr(vocabulary)


def register_task(
    dataset: str, data_dir: str, language: str, split: str, vocabulary: seqio.Vocabulary
) -> str:
  """Registers every example of dataset x language x split as one task; returns its name."""
  datasets.read_examples(dataset, data_dir, language, split)  # fail now, naming file and line
  name = task_name(dataset, language, split)

  def dataset_fn(split: str, shuffle_files: bool, seed: int | None = None) -> tf.data.Dataset:
    del shuffle_files, seed  # one file per task: nothing to shuffle at the file level
    return _examples_dataset(datasets.read_examples(dataset, data_dir, language, split))

  source = seqio.FunctionDataSource(dataset_fn, splits=(split,))
  fingerprint = f"{os.path.abspath(data_dir)}|{_vocabulary_id(vocabulary)}"
  return _register(name, fingerprint, source, vocabulary)


def register_subset_task(
    dataset: str,
    data_dir: str,
    language: str,
    split: str,
    example_ids: list[str],
    vocabulary: seqio.Vocabulary,
    selection: str | None = None,
) -> str:
  """Registers the examples with these ids (in this order) as the task "<...>_n<count>".

  `selection` (see `tasks.naming.task_name`) tells apart subsets of the same size
  drawn differently, e.g. held-out validation or a window of a parallel pool.
  """
  name = task_name(dataset, language, split, count=len(example_ids), selection=selection)
  wanted = list(example_ids)

  def dataset_fn(split: str, shuffle_files: bool, seed: int | None = None) -> tf.data.Dataset:
    del shuffle_files, seed
    by_id = {e["id"]: e for e in datasets.read_examples(dataset, data_dir, language, split)}
    missing = [example_id for example_id in wanted if example_id not in by_id]
    if missing:
      raise UserInputError(
          f"task {name}: {len(missing)} example ids of its manifest are no longer in the"
          f" source (first: {missing[0]}); the data changed since the study was planned"
      )
    return _examples_dataset([by_id[example_id] for example_id in wanted])

  source = seqio.FunctionDataSource(
      dataset_fn, splits=(split,), num_input_examples={split: len(wanted)}
  )
  ids_digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()
  fingerprint = f"{os.path.abspath(data_dir)}|{_vocabulary_id(vocabulary)}|{ids_digest}"
  return _register(name, fingerprint, source, vocabulary)
