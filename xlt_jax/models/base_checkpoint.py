"""A pretrained base checkpoint for a study: its architecture, tokenizer and special
tokens, checked against each other, and its conversion, done once.

`Experiment.base_checkpoint` names a Hugging Face directory (`config.json`, safetensors
weights, `tokenizer.json`, `tokenizer_config.json`) or an xlt directory written by
`python -m xlt_jax.convert hf-to-xlt` (`model.json`, `params/`, the same tokenizer
files). A study takes from it:
  - the architecture: `config.json` (`hf_config.model_config_from_hf`) or `model.json`.
    The runtime fields (RUNTIME_FIELDS: dtype, param_dtype, remat_policy, scan_unroll)
    come from the experiment's ModelConfig, whose other fields are not used.
  - the vocabulary: `tokenizer.json` as a `HuggingFaceVocabulary` with the special
    tokens that `tokenizer_config.json` names (else config.json's ids). EOS closes the
    prompt and the answer of plain tasks; BOS begins every sequence where the tokenizer
    adds one: `add_bos_token` where tokenizer_config.json states it, else the
    tokenizer's own post-processor (what `transformers` does too).
  - the initial parameters: the xlt directory itself, or a conversion of the Hugging
    Face directory made once into a cache directory (the launcher's MODEL_DIR/base/)
    and reused while the source and dtype stay the same.
Every check runs before anything is converted or compiled; a failure is one
UserInputError naming the directory and the problem.
"""

import dataclasses
import json
from typing import Any, TextIO

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.models import chat_templates, conversion
from xlt_jax.models.config import RUNTIME_FIELDS, ModelConfig
from xlt_jax.models.hf_config import model_config_from_hf
from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary

SOURCE_FILE = "source.json"  # in a cached conversion: {"hf_dir", "dtype"} it was made from
TOKENIZER_FILE, TOKENIZER_CONFIG_FILE = "tokenizer.json", "tokenizer_config.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"  # where transformers 5 saves a chat template
# A conversation rendered by the checkpoint's own template and by ours, to compare them.
_PROBE = [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "5"},
          {"role": "user", "content": "And 4 + 4?"}]


@dataclasses.dataclass(frozen=True)
class BaseCheckpoint:
  """A base checkpoint whose parts agree.

  Attributes:
    directory: the checkpoint directory (absolute).
    converted: True for an xlt directory (model.json), False for a Hugging Face one.
    model_config: its architecture with the experiment's runtime fields.
    vocabulary: its tokenizer.json with its special tokens.
    hf_config: its Hugging Face config.json.
  """

  directory: str
  converted: bool
  model_config: ModelConfig
  vocabulary: HuggingFaceVocabulary
  hf_config: dict


def _read_json(path: str) -> dict:
  with paths.open(path, encoding="utf-8") as file:
    try:
      return json.load(file)
    except json.JSONDecodeError as error:
      raise UserInputError(f"{path} is not valid JSON: {error}") from None


def _token_text(value: Any) -> str | None:
  """A special token as tokenizer_config.json writes it: a string or {"content": ...}."""
  if isinstance(value, dict):
    value = value.get("content")
  return value if isinstance(value, str) else None


def _special_token(name: str, tokenizer_config: dict, hf_config: dict, vocabulary) -> str | None:
  """tokenizer_config.json's `<name>_token`, else config.json's `<name>_token_id`."""
  token = _token_text(tokenizer_config.get(f"{name}_token"))
  if token is not None:
    return token
  token_id = hf_config.get(f"{name}_token_id")
  if isinstance(token_id, list):  # e.g. Llama 3 Instruct's several end tokens: the first
    token_id = token_id[0] if token_id else None
  return None if token_id is None else vocabulary.tokenizer.id_to_token(int(token_id))


def _vocabulary(directory: str, hf_config: dict) -> HuggingFaceVocabulary:
  path = paths.join(directory, TOKENIZER_FILE)
  if not paths.isfile(path):
    raise UserInputError(f"base checkpoint {directory} has no {TOKENIZER_FILE}: its own"
                         " tokenizer is needed (only tokenizer.json tokenizers are supported)")
  config_path = paths.join(directory, TOKENIZER_CONFIG_FILE)
  tokenizer_config = _read_json(config_path) if paths.isfile(config_path) else {}
  plain = HuggingFaceVocabulary.from_file(path)
  tokens = {name: _special_token(name, tokenizer_config, hf_config, plain)
            for name in ("eos", "pad", "bos")}
  if tokens["eos"] is None:
    raise UserInputError(f"base checkpoint {directory} names no EOS token (eos_token in"
                         f" {TOKENIZER_CONFIG_FILE} or eos_token_id in config.json)")
  add_bos = tokenizer_config.get("add_bos_token")
  return HuggingFaceVocabulary.from_file(
      path, eos_token=tokens["eos"], pad_token=tokens["pad"], bos_token=tokens["bos"],
      add_bos=None if add_bos is None else bool(add_bos))


def checkpoint_chat_template(directory: str) -> str | None:
  """The Jinja chat template a checkpoint ships (chat_template.jinja, or the
  `chat_template` of tokenizer_config.json, its "default" one if it has several)."""
  path = paths.join(directory, CHAT_TEMPLATE_FILE)
  if paths.isfile(path):
    with paths.open(path, encoding="utf-8") as file:
      return file.read()
  config_path = paths.join(directory, TOKENIZER_CONFIG_FILE)
  template = _read_json(config_path).get("chat_template") if paths.isfile(config_path) else None
  if isinstance(template, list):  # [{"name": ..., "template": ...}, ...]
    named = {entry.get("name"): entry.get("template") for entry in template}
    template = named.get("default")
  return template if isinstance(template, str) else None


def _architecture(directory: str) -> tuple[bool, ModelConfig, dict]:
  """(converted, architecture, config.json) of an xlt or Hugging Face directory."""
  if paths.isfile(paths.join(directory, conversion.MODEL_FILE)):
    record = _read_json(paths.join(directory, conversion.MODEL_FILE))
    if not paths.isdir(paths.join(directory, conversion.PARAMS_DIR)):
      raise UserInputError(f"base checkpoint {directory} has {conversion.MODEL_FILE} but no"
                           f" {conversion.PARAMS_DIR}/: an incomplete xlt checkpoint")
    return True, ModelConfig(**record["model_config"]), record["hf_config"]
  if paths.isfile(paths.join(directory, "config.json")):
    # open_hf also checks that safetensors weights are there (it reads their headers).
    model_config, _ = conversion.open_hf(directory)
    return False, model_config, conversion.read_hf_config(directory)
  raise UserInputError(f"base checkpoint {directory} has neither config.json (a Hugging Face"
                       f" checkpoint) nor {conversion.MODEL_FILE} (an xlt checkpoint)")


def architecture(directory: str, runtime: ModelConfig) -> tuple[ModelConfig, str]:
  """(the architecture a base checkpoint's config file describes with `runtime`'s
  RUNTIME_FIELDS, the file it came from), reading that file only: no weights or
  tokenizer are needed, so a plan can be made from a checkpoint's config.json alone.
  An xlt directory's model.json wins over a config.json beside it, as in `open_base`.

  Raises:
    UserInputError: the directory is missing, has neither file, or describes an
      unsupported family.
  """
  directory = paths.absolute(directory)
  if not paths.isdir(directory):
    raise UserInputError(f"base checkpoint {directory} does not exist")
  model_json, config_json = (paths.join(directory, conversion.MODEL_FILE),
                             paths.join(directory, "config.json"))
  if paths.isfile(model_json):
    found, source = ModelConfig(**_read_json(model_json)["model_config"]), model_json
  elif paths.isfile(config_json):
    found, source = model_config_from_hf(_read_json(config_json)), config_json
  else:
    raise UserInputError(f"base checkpoint {directory} has neither config.json (a Hugging Face"
                         f" checkpoint) nor {conversion.MODEL_FILE} (an xlt checkpoint)")
  return dataclasses.replace(found, **{name: getattr(runtime, name)
                                       for name in RUNTIME_FIELDS}), source


def open_base(directory: str, runtime: ModelConfig | None = None,
              chat_family: str | None = None) -> BaseCheckpoint:
  """Reads a base checkpoint's architecture and tokenizer and checks that they agree.

  Args:
    directory: a Hugging Face or xlt checkpoint directory.
    runtime: the experiment's ModelConfig; only its RUNTIME_FIELDS are used (None:
      the checkpoint's own, float32 unless converted otherwise).
    chat_family: the chat template family the study trains with (None: plain).

  Raises:
    UserInputError: the directory is missing, lacks config.json/model.json, weights
      or tokenizer.json, is of an unsupported family, has a tokenizer larger than its
      embedding or one adding more than a BOS before a text, names no EOS, or lacks the
      chat family's end-of-turn token.
  """
  directory = paths.absolute(directory)
  if not paths.isdir(directory):
    raise UserInputError(f"base checkpoint {directory} does not exist")
  converted, architecture, hf_config = _architecture(directory)
  model_config = architecture if runtime is None else dataclasses.replace(
      architecture, **{name: getattr(runtime, name) for name in RUNTIME_FIELDS})
  vocabulary = _vocabulary(directory, hf_config)
  tokenizer_path = paths.join(directory, TOKENIZER_FILE)
  if vocabulary.vocab_size > model_config.vocab_size:
    raise UserInputError(
        f"tokenizer {tokenizer_path} has {vocabulary.vocab_size} tokens but the model's"
        f" embedding has {model_config.vocab_size} rows: a tokenizer of another model?")
  if len(vocabulary.prefix_ids) > 1:
    raise UserInputError(f"tokenizer {tokenizer_path} puts {len(vocabulary.prefix_ids)} tokens"
                         " before every text; only a single BOS is supported")
  if chat_family is not None:
    end_of_turn = chat_templates.END_OF_TURN.get(chat_family)
    if end_of_turn is not None and vocabulary.tokenizer.token_to_id(end_of_turn) is None:
      raise UserInputError(
          f"TrainConfig.chat_template={chat_family!r} ends turns with {end_of_turn}, which"
          f" tokenizer {tokenizer_path} does not have: the base checkpoint is another family")
  return BaseCheckpoint(directory, converted, model_config, vocabulary, hf_config)


def _render_jinja(template: str, messages: list[dict], vocabulary: HuggingFaceVocabulary,
                  bos_token: str | None) -> str:
  """A chat template's text the way `transformers`' apply_chat_template renders it."""
  import datetime

  import jinja2
  from jinja2.sandbox import ImmutableSandboxedEnvironment

  def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

  environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                              extensions=["jinja2.ext.loopcontrols"])
  environment.filters["tojson"] = lambda value, indent=None, **_: json.dumps(value, indent=indent)
  environment.globals["raise_exception"] = raise_exception
  environment.globals["strftime_now"] = lambda form: datetime.datetime.now().strftime(form)
  eos_token = vocabulary.tokenizer.id_to_token(vocabulary.eos_id)
  return environment.from_string(template).render(
      messages=messages, tools=None, documents=None, add_generation_prompt=True,
      bos_token=bos_token or "", eos_token=eos_token)


def chat_template_note(base: BaseCheckpoint, chat_family: str) -> str | None:
  """A line saying how the checkpoint's own chat template differs from the family's
  renderer that training and evaluation use, or None when they agree on a probe
  conversation (or the checkpoint ships no template, or jinja2 is missing)."""
  template = checkpoint_chat_template(base.directory)
  if template is None:
    return None
  try:
    bos_id = base.vocabulary.bos_id
    bos_token = None if bos_id is None else base.vocabulary.tokenizer.id_to_token(bos_id)
    theirs = _render_jinja(template, _PROBE, base.vocabulary, bos_token)
  except ImportError:
    return None
  except Exception as error:  # a template using what we do not provide  # pylint: disable=broad-except
    return f"the chat template of {base.directory} could not be rendered to compare: {error}"
  ours = chat_templates.render_text(chat_family, _PROBE, add_generation_prompt=True)
  if theirs == ours:
    return None
  at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
  return (f"TrainConfig.chat_template={chat_family!r} renders a conversation differently from"
          f" the chat template of {base.directory} (from character {at}: ours"
          f" {ours[at:at + 40]!r}, the checkpoint's {theirs[at:at + 40]!r}); training and"
          f" evaluation use {chat_family!r}")


def converted_directory(base: BaseCheckpoint, cache_dir: str, process_count: int = 1,
                        stream: TextIO | None = None) -> str:
  """The xlt directory holding the base's parameters.

  An xlt base is used where it is. A Hugging Face base is converted once into
  cache_dir (through cache_dir + ".partial", renamed when complete) at the model's
  param_dtype; a later call finds it there and checks it was made from the same
  directory, config.json and dtype.

  Args:
    base: from `open_base`.
    cache_dir: where the conversion goes (e.g. MODEL_DIR/base).
    process_count: processes of the job; conversion runs in a single process only.
    stream: where to say that a conversion starts.

  Raises:
    UserInputError: cache_dir holds another conversion or something else, or a
      conversion is needed in a multi-process job.
  """
  if base.converted:
    return base.directory
  source = {"hf_dir": base.directory, "dtype": base.model_config.param_dtype}
  if paths.isfile(paths.join(cache_dir, conversion.MODEL_FILE)):
    source_path = paths.join(cache_dir, SOURCE_FILE)
    saved = _read_json(source_path) if paths.isfile(source_path) else None
    saved_config = _read_json(paths.join(cache_dir, conversion.MODEL_FILE))["hf_config"]
    if saved != source:
      raise UserInputError(f"{cache_dir} holds a conversion of {saved}, not of {source}: use"
                           f" another MODEL_DIR, or remove {cache_dir} to convert again")
    if saved_config != base.hf_config:
      raise UserInputError(f"{base.directory}/config.json changed since it was converted into"
                           f" {cache_dir}: remove {cache_dir} to convert it again")
    return cache_dir
  if paths.exists(cache_dir):
    raise UserInputError(f"{cache_dir} exists but is not a finished conversion (no"
                         f" {conversion.MODEL_FILE}); remove it to convert {base.directory}")
  if process_count > 1:
    raise UserInputError(
        f"converting {base.directory} needs a single process; convert it first (python -m"
        f" xlt_jax.convert hf-to-xlt --hf_dir={base.directory} --out=XLT_DIR) and set"
        " Experiment.base_checkpoint to XLT_DIR")
  partial = cache_dir + ".partial"
  if paths.exists(partial):  # an interrupted conversion of ours
    paths.rmtree(partial)
  if stream is not None:
    print(f"converting the base checkpoint {base.directory} -> {cache_dir}", file=stream,
          flush=True)
  conversion.hf_to_xlt(base.directory, partial, base.model_config.param_dtype, stream=stream)
  atomic_io.write_json(paths.join(partial, SOURCE_FILE), source)
  paths.rename(partial, cache_dir)
  return cache_dir
