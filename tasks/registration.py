"""seqio Task registration: one task per dataset x language x split, and example subsets.

Registration is idempotent: registering the same task with the same data again
is a no-op; registering a different definition under an existing name is an error.

With a chat template family, a task's examples are rendered as conversations
(`xlt_jax.models.chat_templates`) and tokenized in the data source, in Python, when the
dataset is built: the outputs are "chat_tokens" and "chat_loss_mask" (1 on every
assistant turn's content and end-of-turn token). Tokenizing there rather than in
a tf.py_function keeps the tf.data graph free of Python (no GIL in the input
pipeline's steady state: later epochs re-read the ids), and a malformed
conversation fails at once naming its example. The cost is one pass over a task's
examples when its dataset is built; tasks are at most a study budget.
"""

import hashlib
import json

import numpy as np
import seqio
import tensorflow as tf

from tasks import datasets
from tasks.naming import task_name
from xlt_jax.core import paths
from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.models import chat_templates
from xlt_jax.training import features

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


def chat_output_features(vocabulary: seqio.Vocabulary) -> dict[str, seqio.Feature]:
  """A rendered conversation's ids (control tokens included, no EOS appended) and mask."""
  return {
      features.CHAT_TOKENS: seqio.Feature(vocabulary, add_eos=False),
      features.CHAT_LOSS_MASK: seqio.Feature(seqio.PassThroughVocabulary(2), add_eos=False),
  }


def conversation_of(example: dict[str, str]) -> list[dict[str, str]]:
  """The example's messages: its JSON "conversation" field when present (multi-turn
  data), else one user turn (inputs) and one assistant turn (targets).

  Raises:
    DataFormatError: the conversation field is not a JSON list of messages.
  """
  if example.get("conversation"):
    try:
      messages = json.loads(example["conversation"])
    except json.JSONDecodeError as error:
      raise DataFormatError(
          f"example {example['id']}: conversation is not valid JSON: {error}") from None
    if not isinstance(messages, list):
      raise DataFormatError(f"example {example['id']}: conversation must be a JSON list")
    return messages
  return [{"role": "user", "content": example["inputs"]},
          {"role": "assistant", "content": example["targets"]}]


def _chat_dataset(examples: list[dict[str, str]], family: str,
                  vocabulary: seqio.Vocabulary) -> tf.data.Dataset:
  """Token ids and loss masks of the examples' conversations, in order."""
  ids, masks = [], []
  for example in examples:
    try:
      example_ids, mask = chat_templates.tokenize_conversation(
          family, conversation_of(example), vocabulary.encode)
    except UserInputError as error:
      raise DataFormatError(f"example {example['id']}: {error}") from None
    ids.append(example_ids)
    masks.append(mask)
  lengths = [len(example_ids) for example_ids in ids]

  def ragged(rows: list[list[int]]) -> tf.RaggedTensor:
    flat = np.fromiter((value for row in rows for value in row), np.int32, sum(lengths))
    return tf.RaggedTensor.from_row_lengths(flat, np.asarray(lengths, np.int64))

  columns = {"id": [example["id"] for example in examples],
             "language": [example["language"] for example in examples],
             features.CHAT_TOKENS: ragged(ids), features.CHAT_LOSS_MASK: ragged(masks)}
  if not examples:
    columns["id"] = columns["language"] = tf.constant([], tf.string)
  # The identity map turns the ragged slices (always 1-D) into plain tensors.
  return tf.data.Dataset.from_tensor_slices(columns).map(dict)


def _examples_dataset(examples: list[dict[str, str]]) -> tf.data.Dataset:
  fields = STRING_FIELDS + tuple(
      field for field in OPTIONAL_STRING_FIELDS
      if examples and all(field in example for example in examples))
  columns = {field: [example[field] for example in examples] for field in fields}
  if not examples:
    return tf.data.Dataset.from_tensor_slices({f: tf.constant([], tf.string) for f in STRING_FIELDS})
  return tf.data.Dataset.from_tensor_slices(columns)


def _dataset_of(examples: list[dict[str, str]], chat_family: str | None,
                vocabulary: seqio.Vocabulary) -> tf.data.Dataset:
  if chat_family is None:
    return _examples_dataset(examples)
  return _chat_dataset(examples, chat_family, vocabulary)


def _register(name: str, fingerprint: str, source: seqio.DataSource, vocabulary,
              chat_family: str | None = None) -> str:
  if name in seqio.TaskRegistry.names():
    existing = seqio.TaskRegistry.get(name)
    if getattr(existing, "xlt_fingerprint", None) != fingerprint:
      raise UserInputError(f"task {name} is already registered with a different definition")
    return name
  if chat_family is None:
    preprocessors = [seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim]
    task_features = output_features(vocabulary)
  else:  # tokenized in the data source
    preprocessors, task_features = [], chat_output_features(vocabulary)
  task = seqio.TaskRegistry.add(
      name,
      source=source,
      preprocessors=preprocessors,
      output_features=task_features,
      metric_fns=[],
  )
  task.xlt_fingerprint = fingerprint
  return name


def _vocabulary_id(vocabulary: seqio.Vocabulary) -> str:
  model_file = getattr(vocabulary, "sentencepiece_model_file", None)
  return paths.absolute(model_file) if model_file else repr(vocabulary)


def _fingerprint(*parts: str, chat_family: str | None) -> str:
  return "|".join(parts + ((f"chat={chat_family}",) if chat_family else ()))


def _check_chat_family(chat_family: str | None) -> None:
  if chat_family is not None and chat_family not in chat_templates.FAMILIES:
    raise UserInputError(f"unknown chat template family {chat_family!r}; known:"
                         f" {', '.join(chat_templates.FAMILIES)}")


def register_task(
    dataset: str, data_dir: str, language: str, split: str, vocabulary: seqio.Vocabulary,
    chat_family: str | None = None, already_read: bool = False,
) -> str:
  """Registers every example of dataset x language x split as one task; returns its name.

  chat_family (see `xlt_jax.models.chat_templates.FAMILIES`) renders the examples as
  conversations; None keeps plain "inputs"/"targets". The files are read now, so a
  malformed one fails here naming file and line, unless the caller has just read them
  (`already_read`); seqio reads them again when the task's data is asked for.
  """
  _check_chat_family(chat_family)
  if not already_read:
    datasets.read_examples(dataset, data_dir, language, split)  # fail now, naming file and line
  name = task_name(dataset, language, split)

  def dataset_fn(split: str, shuffle_files: bool, seed: int | None = None) -> tf.data.Dataset:
    del shuffle_files, seed  # one file per task: nothing to shuffle at the file level
    return _dataset_of(datasets.read_examples(dataset, data_dir, language, split), chat_family,
                       vocabulary)

  source = seqio.FunctionDataSource(dataset_fn, splits=(split,))
  fingerprint = _fingerprint(paths.absolute(data_dir), _vocabulary_id(vocabulary),
                             chat_family=chat_family)
  return _register(name, fingerprint, source, vocabulary, chat_family)


def register_subset_task(
    dataset: str,
    data_dir: str,
    language: str,
    split: str,
    example_ids: list[str],
    vocabulary: seqio.Vocabulary,
    selection: str | None = None,
    chat_family: str | None = None,
) -> str:
  """Registers the examples with these ids (in this order) as the task "<...>_n<count>".

  `selection` (see `tasks.naming.task_name`) tells apart subsets of the same size
  drawn differently, e.g. held-out validation or a window of a parallel pool.
  chat_family: as for `register_task`.
  """
  _check_chat_family(chat_family)
  name = task_name(dataset, language, split, count=len(example_ids), selection=selection)
  wanted = list(example_ids)

  source_split = split

  def dataset_fn(split: str, shuffle_files: bool, seed: int | None = None) -> tf.data.Dataset:
    # The ids name the examples, whichever split seqio asks for: validation held out of a
    # dataset without a validation split (Guanaco, LIMA) is read from its train split,
    # and training asks every task of a validation mixture for "validation".
    del split, shuffle_files, seed
    by_id = {e["id"]: e for e in datasets.read_examples(dataset, data_dir, language,
                                                        source_split)}
    missing = [example_id for example_id in wanted if example_id not in by_id]
    if missing:
      raise UserInputError(
          f"task {name}: {len(missing)} example ids of its manifest are no longer in the"
          f" source (first: {missing[0]}); the data changed since the study was planned"
      )
    return _dataset_of([by_id[example_id] for example_id in wanted], chat_family, vocabulary)

  served = tuple(dict.fromkeys((split, "validation")))  # see dataset_fn
  source = seqio.FunctionDataSource(
      dataset_fn, splits=served, num_input_examples=dict.fromkeys(served, len(wanted))
  )
  ids_digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()
  fingerprint = _fingerprint(paths.absolute(data_dir), _vocabulary_id(vocabulary), ids_digest,
                             chat_family=chat_family)
  return _register(name, fingerprint, source, vocabulary, chat_family)


def register_examples_task(name: str, split: str, examples: list[dict[str, str]],
                           vocabulary: seqio.Vocabulary, chat_family: str | None = None) -> str:
  """Registers in-memory examples (dicts as `tasks.datasets` makes them) as one task.

  For benchmarks and notebooks that build examples themselves; studies register
  tasks from DATA_DIR files with `register_task` / `register_subset_task`.
  """
  _check_chat_family(chat_family)
  frozen = [dict(example) for example in examples]

  def dataset_fn(split: str, shuffle_files: bool, seed: int | None = None) -> tf.data.Dataset:
    del split, shuffle_files, seed
    return _dataset_of(frozen, chat_family, vocabulary)

  source = seqio.FunctionDataSource(dataset_fn, splits=(split,),
                                    num_input_examples={split: len(frozen)})
  digest = hashlib.sha256(json.dumps(frozen, sort_keys=True).encode()).hexdigest()
  fingerprint = _fingerprint("examples", _vocabulary_id(vocabulary), digest,
                             chat_family=chat_family)
  return _register(name, fingerprint, source, vocabulary, chat_family)
