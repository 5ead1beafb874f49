"""The demo's own "pretrained base": a small model trained briefly with a causal LM
objective on text in all eight demo languages, exported as a Hugging Face checkpoint.

The studies fine-tune a multilingual pretrained model; the CPU demo cannot download
one, so it makes one. With `Experiment.demo_base = @DemoBaseConfig()` bound
(gin/demo_cpu.gin), the launcher calls `build_demo_base` before the study and then
fine-tunes the result through `Experiment.base_checkpoint`, the path any Hugging Face
checkpoint takes (`xlt_jax.models.base_checkpoint`).

- Text (`pretraining_rows`): per language the first `texts_per_language` problems of the
  generated demo dataset's *train* split, in `answer_languages` (all 8 by default) each
  followed by its answer sentence ("... now?", "The answer is 5."; only the first
  `answered_per_language` when that is set), the others the question alone; and per non-English language `parallel_per_language` texts (none by
  default) stating one problem in English and in that language on two lines
  (`xlt_jax.data.demo.parallel_questions`). Rows are laid out as the study's plain rows
  (BOS question EOS answer EOS, or BOS text EOS), with the loss on every token. No
  validation or test problem is ever shown, in any language (they are other slices of the
  same shuffled lists, `xlt_jax.data.demo.write_demo_dataset`, and are left out of the
  parallel texts). In the layout of plain text ("question answer") the base answers in
  the question's language, but English-only fine-tuning, whose rows put EOS before the
  answer, then begins every answer with English "The" and loses the other languages
  (measured: Spanish 0.06 at budget 0 where the base alone scored 0.78); the parallel
  texts therefore join their two questions with a newline, never EOS.
  Measured (README, 250 test problems per language): trained 325 steps (gin/demo_cpu.gin)
  the base half-knows the task (English 0.50, unseen 0.45) and LoRA fine-tuning shows the
  papers' pattern: English-only fine-tuning carries over (unseen 0.45 -> 0.54) and the
  unseen languages rise with the seen budget (0.54 -> 0.60 at 200 per seen language;
  0.45 -> 0.49 with other seeds). Trained 400 steps (the earlier default) the base already
  solves every language (unseen 0.81 at every budget under full fine-tuning): no budget
  moves them. Trained 250 steps it knows too little for English fine-tuning to carry over
  (non-English 0.24 of English). With answers in English only and parallel texts, or the
  answers laid out as plain text ("question answer") in some or all languages (a variant
  not kept), English fine-tuning no longer carries over (non-English near chance at budget
  0), and the unseen languages rise from nothing (parallel texts: 0.01 -> 0.09) or not at
  all (plain layout: 0.15 -> 0.14, 0.12 -> 0.10); with fewer answered problems
  (`answered_per_language`) the unseen languages stay flat or fall.
- Tokenizer: a byte-level BPE trained on that text with the `tokenizers` library, as
  tests/test_base_checkpoint.py builds its checkpoints' tokenizers; its post-processor
  adds BOS `<s>` before every text (Llama 2's convention), EOS is `</s>`, padding `<pad>`.
- Model: the experiment's ModelConfig (gin/models/demo_small.gin), which must be a
  Llama-style decoder: it is exported as `model_type: llama` and read back through
  `hf_config.model_config_from_hf`, and any field that would not survive is refused.
- Files, in MODEL_DIR/pretrained_base/: config.json, model.safetensors (names by
  `hf_params.params_to_hf`, as `conversion.xlt_to_hf` writes them), tokenizer.json,
  tokenizer_config.json, and demo_base.json (the settings, losses and times). The
  directory is written as `.partial` and renamed when complete; a later launch reuses
  it when its settings are the same and refuses it when they differ.
"""

import dataclasses
import hashlib
import json
import time
from typing import TextIO

import numpy as np

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo as demo_data
from xlt_jax.models.config import RUNTIME_FIELDS, ModelConfig
from xlt_jax.models.hf_config import model_config_from_hf

RECORD_FILE = "demo_base.json"
BOS, EOS, PAD = "<s>", "</s>", "<pad>"


@dataclasses.dataclass(frozen=True)
class DemoBaseConfig:
  """How the demo's pretrained base is trained (its architecture is Experiment.model)."""

  steps: int = 600
  batch_size: int = 64
  sequence_length: int = 64  # tokens per row, BOS and EOS included; longer texts are cut
  texts_per_language: int = 1000  # from the demo train split, in each of the 8 languages
  # The languages whose texts carry their answer sentence; the others' are questions
  # alone. All 8 by default: trained long enough (400 steps) the base then solves the task
  # everywhere and no seen-language budget moves the unseen languages; the demo trains it
  # briefly (325 steps), so that it half-knows the task (module docstring).
  answer_languages: tuple[str, ...] = demo_data.DEMO_LANGUAGES
  # Of each answer language's texts, the first this many carry their answer and the rest
  # are questions alone: one count for every answer language, or a count per language
  # ({'ar': 200, ...}; a language not named keeps all its answers), or None (all of them).
  answered_per_language: int | dict[str, int] | None = None
  # Per non-English language, this many texts of one problem in English and in that
  # language, one after the other (half each way round, never a held-out problem): the
  # parallel text that aligns the languages, as translations in a real corpus do.
  parallel_per_language: int = 0
  learning_rate: float = 2e-3
  warmup_steps: int = 30
  seed: int = 0

  def __post_init__(self):
    unknown = sorted(set(self.answer_languages) - set(demo_data.DEMO_LANGUAGES))
    if unknown:
      raise UserInputError(f"DemoBaseConfig.answer_languages has {', '.join(unknown)}, not demo"
                           f" languages ({', '.join(demo_data.DEMO_LANGUAGES)})")
    answered = self.answered_per_language
    counts = answered if isinstance(answered, dict) else {"": answered}
    unknown = sorted(set(counts) - set(demo_data.DEMO_LANGUAGES) - {""})
    if unknown:
      raise UserInputError(f"DemoBaseConfig.answered_per_language names {', '.join(unknown)},"
                           f" not demo languages ({', '.join(demo_data.DEMO_LANGUAGES)})")
    for count in counts.values():
      if count is not None and not (isinstance(count, int)
                                    and 0 <= count <= self.texts_per_language):
        raise UserInputError(f"DemoBaseConfig.answered_per_language={answered!r} must be between"
                             f" 0 and texts_per_language={self.texts_per_language} (or None: all)")

  def answered(self, language: str) -> int:
    """How many of `language`'s texts carry their answer."""
    if language not in self.answer_languages:
      return 0
    answered = self.answered_per_language
    if isinstance(answered, dict):
      answered = answered.get(language)
    return self.texts_per_language if answered is None else answered


def pretraining_texts(data_dir: str, per_language: int) -> dict[str, list[tuple[str, str]]]:
  """Per demo language, the first `per_language` train problems and their answer
  sentences, as (question, answer) pairs.

  Raises:
    UserInputError: a language whose train split has fewer problems.
  """
  from tasks import datasets

  texts = {}
  for language in demo_data.DEMO_LANGUAGES:
    examples = datasets.read_examples("demo_arith", data_dir, language, "train")
    if len(examples) < per_language:
      raise UserInputError(
          f"DemoBaseConfig.texts_per_language={per_language} but the demo train split has"
          f" {len(examples)} {language} problems (DemoDataConfig.train)")
    texts[language] = [(e["inputs"], e["targets"]) for e in examples[:per_language]]
  return texts


def parallel_texts(data_dir: str, per_language: int, seed: int) -> list[str]:
  """For each non-English demo language, `per_language` texts of one problem's question
  in English and in that language on two lines, alternately English first and the other
  first. (One text rather than two EOS-separated parts: after a question and EOS the
  study's rows hold an answer, and the base should not learn to translate there.)

  No question of any language's validation or test split is in a pair, so pretraining
  never shows a held-out problem (even without its answer).

  Raises:
    UserInputError: more pairs asked for than there are problems outside the held-out ones.
  """
  from tasks import datasets

  held_out = frozenset(
      example["inputs"] for language in demo_data.DEMO_LANGUAGES
      for split in ("validation", "test")
      for example in datasets.read_examples("demo_arith", data_dir, language, split))
  texts = []
  for language in demo_data.DEMO_LANGUAGES[1:]:
    pairs = demo_data.parallel_questions("en", language, per_language, seed, held_out)
    texts += ["\n".join(pair if index % 2 == 0 else pair[::-1])
              for index, pair in enumerate(pairs)]
  return texts


def pretraining_rows(config: DemoBaseConfig,
                     data_dir: str) -> tuple[list[tuple[str, ...]], list[str]]:
  """The base's texts, each a tuple of the parts `token_rows` joins with EOS, and the
  texts its tokenizer is trained on.

  Per language the `texts_per_language` train problems: (question, answer) in
  `answer_languages`, (question,) in the others; then the parallel texts, (text,). The
  tokenizer also reads the answer sentences the model does not see, so that the study's
  targets take as few tokens in every language as in English.
  """
  texts = pretraining_texts(data_dir, config.texts_per_language)
  rows = [pair if index < config.answered(language) else pair[:1]
          for language, language_texts in texts.items()
          for index, pair in enumerate(language_texts)]
  rows += [(text,) for text in parallel_texts(data_dir, config.parallel_per_language,
                                              config.seed)]
  tokenizer_texts = [text for row in rows for text in row]
  tokenizer_texts += [answer for language, pairs in texts.items()
                      if language not in config.answer_languages for _, answer in pairs]
  tokenizer_texts += [answer for language, pairs in texts.items()
                      if language in config.answer_languages
                      for _, answer in pairs[config.answered(language):]]
  return rows, tokenizer_texts


def train_tokenizer(texts: list[str], vocab_size: int):
  """A byte-level BPE `tokenizers.Tokenizer` of at most `vocab_size` tokens whose
  post-processor puts BOS before every text; ids 0, 1, 2 are <s>, </s>, <pad>."""
  from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

  tokenizer = Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  tokenizer.train_from_iterator(texts, trainer=trainers.BpeTrainer(
      vocab_size=vocab_size, special_tokens=[BOS, EOS, PAD],
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
  tokenizer.post_processor = processors.TemplateProcessing(
      single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
      special_tokens=[(BOS, tokenizer.token_to_id(BOS))])
  return tokenizer


def token_rows(tokenizer, texts: list[tuple[str, ...]], length: int) -> dict[str, np.ndarray]:
  """Causal LM rows laid out as the study's plain rows are (xlt_jax.training.features):
  BOS text EOS text EOS ... (a question and its answer: BOS question EOS answer EOS; a
  question alone: BOS question EOS), cut to `length` tokens, padded. Unlike fine-tuning,
  the loss falls on every next token, never on padding."""
  pad, eos = tokenizer.token_to_id(PAD), tokenizer.token_to_id(EOS)
  count = len(texts)
  inputs = np.full((count, length - 1), pad, np.int32)
  targets = np.full((count, length - 1), pad, np.int32)
  weights = np.zeros((count, length - 1), np.float32)
  firsts = tokenizer.encode_batch([row[0] for row in texts])  # BOS added
  rests = [tokenizer.encode_batch(list(row[1:]), add_special_tokens=False) for row in texts]
  for row, (first, rest) in enumerate(zip(firsts, rests)):
    ids = first.ids + [eos]
    for encoding in rest:
      ids += encoding.ids + [eos]
    ids = ids[:length]
    inputs[row, :len(ids) - 1] = ids[:-1]
    targets[row, :len(ids) - 1] = ids[1:]
    weights[row, :len(ids) - 1] = 1.0
  return {"decoder_input_tokens": inputs, "decoder_target_tokens": targets,
          "decoder_loss_weights": weights}


def llama_config_json(model: ModelConfig, tokenizer) -> dict:
  """The config.json of `model` as a Llama checkpoint.

  Raises:
    UserInputError: `model` is not a Llama-style decoder (a field would change on the
      way through `model_config_from_hf`).
  """
  hf = {
      "architectures": ["LlamaForCausalLM"], "model_type": "llama",
      "vocab_size": model.vocab_size, "hidden_size": model.embed_dim,
      "intermediate_size": model.mlp_dim, "num_hidden_layers": model.num_layers,
      "num_attention_heads": model.num_heads, "num_key_value_heads": model.num_kv_heads,
      "head_dim": model.head_dim, "hidden_act": "silu", "max_position_embeddings": 2048,
      "rms_norm_eps": model.norm_epsilon, "rope_theta": model.rope_base,
      "tie_word_embeddings": model.tie_embeddings, "attention_bias": False,
      "mlp_bias": False, "torch_dtype": "float32",
      "bos_token_id": tokenizer.token_to_id(BOS), "eos_token_id": tokenizer.token_to_id(EOS),
      "pad_token_id": tokenizer.token_to_id(PAD),
  }
  read_back = model_config_from_hf(hf, **{name: getattr(model, name) for name in RUNTIME_FIELDS})
  differing = [field.name for field in dataclasses.fields(ModelConfig)
               if getattr(read_back, field.name) != getattr(model, field.name)]
  if differing:
    raise UserInputError(f"the demo base is exported as a Llama checkpoint, but ModelConfig"
                         f" differs from a Llama decoder in {', '.join(differing)}")
  return hf


def pretrain(model: ModelConfig, config: DemoBaseConfig, rows: dict[str, np.ndarray], mesh,
             stream: TextIO | None = None) -> tuple[dict, list[float]]:
  """Trains `model` from a seeded init on `rows` for `config.steps` AdamW steps
  (rows shuffled per epoch with config.seed); returns (params on the host, the losses
  of steps 1, 50, 100, ... and the last)."""
  import jax

  from xlt_jax.training.train_step import OptimizerConfig, build, global_batch

  functions = build(model, OptimizerConfig(learning_rate=config.learning_rate,
                                           warmup_steps=config.warmup_steps), mesh)
  state = functions.init(jax.random.key(config.seed))
  rng = np.random.default_rng(config.seed)
  count = len(rows["decoder_input_tokens"])
  if count < config.batch_size:
    raise UserInputError(f"DemoBaseConfig.batch_size={config.batch_size} exceeds the"
                         f" {count} pretraining texts")
  order, position, losses = rng.permutation(count), 0, []
  for step in range(1, config.steps + 1):
    if position + config.batch_size > count:
      order, position = rng.permutation(count), 0
    take = order[position:position + config.batch_size]
    position += config.batch_size
    batch = global_batch({key: value[take] for key, value in rows.items()},
                         functions.batch_sharding)
    state, metrics = functions.train_step(state, batch)
    if step == 1 or step % 50 == 0 or step == config.steps:
      losses.append(float(metrics["loss"]))
      if stream is not None:
        print(f"[pretrained_base] step {step}/{config.steps} loss {losses[-1]:.3f}",
              file=stream, flush=True)
  return jax.device_get(state.params), losses


def _settings(config: DemoBaseConfig, model: ModelConfig, texts: list[tuple[str, ...]]) -> dict:
  """What the base is made from: a base with other settings or text is another base."""
  digest = hashlib.sha256("\n".join("\t".join(row) for row in texts).encode("utf-8")).hexdigest()
  # As JSON reads it back (tuples become lists), so that a saved record compares equal.
  return json.loads(json.dumps({"demo_base": dataclasses.asdict(config),
                                "model": dataclasses.asdict(model), "texts_sha256": digest}))


def build_demo_base(config: DemoBaseConfig, model: ModelConfig, mesh, data_dir: str,
                    out_dir: str, stream: TextIO | None = None) -> str:
  """Builds the demo's pretrained base into `out_dir` (or finds it there); returns out_dir.

  Guarantees: out_dir, once it exists, is a complete Hugging Face checkpoint
  (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) that
  `base_checkpoint.open_base` accepts, made with exactly these settings.

  Raises:
    UserInputError: out_dir holds a base built with other settings, or the model is not
      Llama-style, or the data are too few.
  """
  from safetensors.numpy import save_file

  from xlt_jax.models.hf_params import params_to_hf

  all_texts, tokenizer_texts = pretraining_rows(config, data_dir)
  settings = _settings(config, model, all_texts)
  record_path = paths.join(out_dir, RECORD_FILE)
  if paths.isfile(record_path):
    saved = json.loads(paths.read_text(record_path))
    # A base recorded before a setting existed was built with that setting's default.
    defaults = json.loads(json.dumps({field.name: field.default
                                      for field in dataclasses.fields(DemoBaseConfig)
                                      if field.default is not dataclasses.MISSING}))
    saved["settings"]["demo_base"] = {**defaults, **saved["settings"]["demo_base"]}
    if saved["settings"] != settings:
      changed = sorted(key for part in ("demo_base", "model")
                       for key in settings[part] if saved["settings"][part].get(key)
                       != settings[part][key]) or ["the pretraining text"]
      raise UserInputError(
          f"{out_dir} was built with other settings ({', '.join(changed)} differ): use another"
          f" MODEL_DIR, or remove {out_dir} and the runs fine-tuned from it")
    if stream is not None:
      print(f"using the demo's pretrained base {out_dir} (built in"
            f" {saved['seconds']:.0f} s)", file=stream, flush=True)
    return out_dir
  start = time.perf_counter()
  tokenizer = train_tokenizer(tokenizer_texts, model.vocab_size)
  hf_config = llama_config_json(model, tokenizer)  # refuses a non-Llama model before training
  rows = token_rows(tokenizer, all_texts, config.sequence_length)
  cut = int(np.sum(rows["decoder_loss_weights"][:, -1] > 0))
  if stream is not None:
    print(f"building the demo's pretrained base -> {out_dir}: {config.steps} steps on"
          f" {len(all_texts)} texts in {len(demo_data.DEMO_LANGUAGES)} languages ({cut} cut at"
          f" {config.sequence_length} tokens), tokenizer of {tokenizer.get_vocab_size()}"
          " tokens", file=stream, flush=True)
  params, losses = pretrain(model, config, rows, mesh, stream)
  seconds = time.perf_counter() - start
  partial = out_dir + ".partial"
  if paths.exists(partial):  # an interrupted build of ours
    paths.rmtree(partial)
  paths.makedirs(partial)
  with paths.local_output(paths.join(partial, "model.safetensors")) as local:
    save_file(dict(params_to_hf(model, params)), local, metadata={"format": "pt"})
  atomic_io.write_json(paths.join(partial, "config.json"), hf_config)
  atomic_io.write_text(paths.join(partial, "tokenizer.json"), tokenizer.to_str())
  atomic_io.write_json(paths.join(partial, "tokenizer_config.json"), {
      "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS, "eos_token": EOS,
      "pad_token": PAD, "model_max_length": hf_config["max_position_embeddings"]})
  atomic_io.write_json(paths.join(partial, RECORD_FILE), {
      "settings": settings, "seconds": seconds, "losses_at_steps_1_50_100_and_last": losses,
      "texts": len(all_texts), "rows_cut": cut})
  paths.rename(partial, out_dir)
  if stream is not None:
    print(f"built the demo's pretrained base in {seconds:.0f} s (loss {losses[0]:.3f} at step 1,"
          f" {losses[-1]:.3f} at {config.steps})", file=stream, flush=True)
  return out_dir
