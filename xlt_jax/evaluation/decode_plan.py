"""Ahead-of-time plan of the evaluation step: the inference engine's decoding (one
jitted `decoding.generate_tokens`: the batched prefill, the KV cache and the decode
loop) compiled for a TPU topology from abstract shapes, as `step_plan` does for the
train step, so `python -m xlt_jax.plan` says whether evaluation fits too.

The shapes are those the evaluator (`evaluator.evaluate_run`) can reach: its
`EvaluationConfig.batch_size` rows over the training mesh, the parameters restored at
the model's param_dtype (a LoRA run's adapters are merged into them), and the longest
batch the engine accepts. A prompt may have up to `max_length - max_new_tokens` tokens
and a batch is padded to a multiple of the engine's length bucket, so for each decoded
task the prefill is `padded_length(max_length - max_new_tokens)` tokens and the cache
that plus `max_new_tokens`. The task planned is the one with the longest prefill (then
the longest cache): the cache is within a bucket of `max_length` for every task, and the
prefill's activations grow with the prompt.

Tasks scored by log-likelihood (multiple choice: the MMLU family, XNLI, X-CSQA; perplexity)
are not decoded: the engine scores them with `engine.target_logprobs`, planned by
`plan_scoring` at the largest batch `InferenceEngine.loglikelihood` can reach, its
`batch_size` rows of `max_length` tokens (inputs are cut to `max_length` from the left)
with every position scored (a perplexity window predicts up to `max_length` tokens, and a
continuation may be as long), so [rows, max_length, vocabulary] logits.
"""

import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import task_metrics
from xlt_jax.evaluation.decoding import generate_tokens
from xlt_jax.evaluation.engine import LENGTH_BUCKET, padded_length, target_logprobs
from xlt_jax.evaluation.evaluator import EvaluationConfig, sampling_params
from xlt_jax.models import flops
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.training import sharding, step_plan
from xlt_jax.training.train_step import abstract_params


@dataclasses.dataclass(frozen=True)
class DecodeShape:
  """The largest decoding batch of an evaluation: rows x (prompt + new tokens)."""

  task: str  # the decoded task whose max_new_tokens leaves the longest prompt
  batch_size: int
  prompt_length: int  # padded, as the engine pads its longest batch
  max_new_tokens: int

  @property
  def cache_length(self) -> int:
    return self.prompt_length + self.max_new_tokens


@dataclasses.dataclass(frozen=True)
class DecodePlan:
  """The compiled decoding step of an evaluation on one topology; bytes are per chip."""

  shape: DecodeShape
  param_dtype: str  # the dtype evaluation holds the parameters in
  parameter_bytes: int
  kv_cache_bytes: int | None  # this chip's shard of the cache (found in the compiled HLO)
  argument_bytes: int  # parameters, prompts, seeds
  temporary_bytes: int  # the KV cache, prefill activations, logits, scratch
  total_bytes: int
  hbm_bytes: int
  fits: bool
  compile_seconds: float
  compiler_message: str | None = None  # libtpu's out-of-memory error, when it refused


# The metrics the engine scores by log-likelihood rather than decoding.
_SCORED = task_metrics.LOGLIKELIHOOD + task_metrics.ROLLING


@dataclasses.dataclass(frozen=True)
class ScoringShape:
  """The largest log-likelihood batch of an evaluation: rows x length tokens, all scored."""

  tasks: tuple[str, ...]  # the tasks scored by log-likelihood (multiple choice, perplexity)
  batch_size: int
  length: int  # EvaluationConfig.max_length: inputs are cut to it, a window predicts as many


@dataclasses.dataclass(frozen=True)
class ScoringPlan:
  """The compiled log-likelihood step of an evaluation on one topology; bytes are per chip."""

  shape: ScoringShape
  param_dtype: str  # the dtype evaluation holds the parameters in
  parameter_bytes: int
  argument_bytes: int  # parameters, tokens, mask, targets
  temporary_bytes: int  # activations, the [rows, length, vocabulary] logits, scratch
  total_bytes: int
  hbm_bytes: int
  fits: bool
  compile_seconds: float
  compiler_message: str | None = None  # libtpu's out-of-memory error, when it refused


def _check_batch_size(config: EvaluationConfig, mesh: jax.sharding.Mesh) -> None:
  shards = sharding.batch_shard_count(mesh)
  if config.batch_size < 1 or config.batch_size % shards:
    fitting = max(shards, -(-config.batch_size // shards) * shards)
    raise UserInputError(
        f"EvaluationConfig.batch_size={config.batch_size} is not a multiple of the {shards}"
        f" batch shards of mesh {dict(mesh.shape)}, so the inference engine would refuse it"
        f" after training: set EvaluationConfig.batch_size={fitting} (or plan with"
        " --skip_evaluation)")


def decode_shape(config: EvaluationConfig, metric_of: dict[str, str],
                 mesh: jax.sharding.Mesh) -> DecodeShape | None:
  """The decoding batch to plan for tasks `metric_of` (task -> the metric that scores its
  test set, `mixtures.evaluation_metric`), or None when no task is decoded (all scored by
  log-likelihood, or by metrics the evaluator does not compute).

  Raises:
    UserInputError: a batch size the mesh's batch shards cannot split (the engine refuses
      it too), or a task whose max_new_tokens leaves no room for a prompt in max_length.
  """
  _check_batch_size(config, mesh)
  shapes = []
  for task, metric in metric_of.items():
    if metric in _SCORED or metric not in task_metrics.METRICS:
      continue  # scored by log-likelihood, or by no metric the evaluator decodes for
    new_tokens = config.max_new_tokens_for(task, metric)
    longest_prompt = config.max_length - new_tokens
    if longest_prompt < 1:
      raise UserInputError(
          f"task {task!r} generates up to {new_tokens} tokens, which leaves no room for a prompt"
          f" in EvaluationConfig.max_length={config.max_length}")
    prompt = padded_length(longest_prompt, LENGTH_BUCKET, config.max_length)
    shapes.append(DecodeShape(task, config.batch_size, prompt, new_tokens))
  if not shapes:
    return None
  return max(shapes, key=lambda shape: (shape.prompt_length, shape.cache_length))


def scoring_shape(config: EvaluationConfig, metric_of: dict[str, str],
                  mesh: jax.sharding.Mesh) -> ScoringShape | None:
  """The log-likelihood batch to plan for tasks `metric_of` (task -> metric), or None when
  no task is scored by log-likelihood: `batch_size` rows of `max_length` tokens, the
  longest `InferenceEngine.loglikelihood` builds (a perplexity window of `max_length`
  predicted tokens, or a long multiple-choice context cut to `max_length`).

  Raises:
    UserInputError: a batch size the mesh's batch shards cannot split.
  """
  _check_batch_size(config, mesh)
  tasks = tuple(task for task, metric in metric_of.items() if metric in _SCORED)
  return ScoringShape(tasks, config.batch_size, config.max_length) if tasks else None


_HLO_FLOAT_BYTES = {"bf16": 2, "f16": 2, "f32": 4}


def _cache_bytes(compiled_text: str, config: ModelConfig, shape: DecodeShape) -> int | None:
  """This chip's bytes of the KV cache, keys and values each [layers, B, K, S, H] with the
  batch and kv heads possibly split: the largest buffer of that shape in the partitioned
  HLO, in the dtype the compiled program holds it in (not always ModelConfig.dtype:
  libtpu holds the cache of gin/smoke_cpu.gin's float32 model in bfloat16), or None
  where none is found."""
  pattern = (rf"\b(bf16|f16|f32)\[{config.num_layers},(\d+),(\d+),{shape.cache_length},"
             rf"{config.head_dim}\]")
  found = [_HLO_FLOAT_BYTES[dtype] * int(batch) * int(heads)
           for dtype, batch, heads in re.findall(pattern, compiled_text)]
  if not found:
    return None
  return 2 * config.num_layers * max(found) * shape.cache_length * config.head_dim


def plan_decode(model_config: ModelConfig, config: EvaluationConfig, shape: DecodeShape,
                mesh: jax.sharding.Mesh, chip: flops.Chip) -> DecodePlan:
  """Compiles the evaluation's decoding (`generate_tokens` with the config's sampling
  settings) for `shape` on `mesh` (a topology's devices) and measures its memory."""
  model = Decoder(model_config)
  replicated = sharding.replicated(mesh)
  params = abstract_params(model, mesh)
  decoding = sampling_params(config, shape.max_new_tokens, ())
  settings = jax.tree.map(
      lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=replicated),
      decoding.settings())
  rows = (shape.batch_size, shape.prompt_length)
  # The engine hands host arrays to the jitted loop: the prompts arrive whole on each chip.
  tokens = jax.ShapeDtypeStruct(rows, jnp.int32, sharding=replicated)
  mask = jax.ShapeDtypeStruct(rows, jnp.bool_, sharding=replicated)
  seeds = jax.ShapeDtypeStruct((shape.batch_size,), jnp.uint32, sharding=replicated)
  parameter_bytes = step_plan.bytes_per_chip(params, jax.tree.map(lambda leaf: leaf.sharding,
                                                                   params))
  compiled, memory = _compile(mesh, parameter_bytes, chip, lambda: generate_tokens.lower(
      model, params, tokens, mask, seeds, settings, max_new_tokens=shape.max_new_tokens,
      eos_id=-1, processing=decoding.processing()))
  return DecodePlan(
      shape=shape, param_dtype=model_config.param_dtype, parameter_bytes=parameter_bytes,
      kv_cache_bytes=(None if compiled is None else
                      _cache_bytes(compiled.as_text(), model_config, shape)),
      **memory)


def plan_scoring(model_config: ModelConfig, shape: ScoringShape, mesh: jax.sharding.Mesh,
                 chip: flops.Chip) -> ScoringPlan:
  """Compiles the engine's log-likelihood step (`engine.target_logprobs`, every position
  scored) for `shape` on `mesh` (a topology's devices) and measures its memory."""
  model = Decoder(model_config)
  replicated = sharding.replicated(mesh)
  params = abstract_params(model, mesh)
  rows = (shape.batch_size, shape.length)
  # As in decoding, the engine hands host arrays in: whole on each chip.
  tokens, targets = (jax.ShapeDtypeStruct(rows, jnp.int32, sharding=replicated)
                     for _ in range(2))
  mask = jax.ShapeDtypeStruct(rows, jnp.bool_, sharding=replicated)
  parameter_bytes = step_plan.bytes_per_chip(params, jax.tree.map(lambda leaf: leaf.sharding,
                                                                   params))
  _, memory = _compile(mesh, parameter_bytes, chip, lambda: target_logprobs.lower(
      model, params, tokens, mask, targets, scored=shape.length))
  return ScoringPlan(shape=shape, param_dtype=model_config.param_dtype,
                     parameter_bytes=parameter_bytes, **memory)


def _compile(mesh: jax.sharding.Mesh, parameter_bytes: int, chip: flops.Chip,
             lower: Callable[[], Any]) -> tuple[Any, dict]:
  """(the compiled program, or None where libtpu refused it for memory; the plan's memory
  fields per chip). Refused, the temporaries are the size libtpu's message names."""
  start = time.perf_counter()
  try:
    with jax.sharding.set_mesh(mesh), sharding.axis_rules():
      compiled = lower().compile()
  except jax.errors.JaxRuntimeError as error:
    if "RESOURCE_EXHAUSTED" not in str(error):
      raise
    message = str(error).strip().splitlines()[0]
    temporaries = step_plan.bytes_in_message(message)
    return None, {"argument_bytes": parameter_bytes, "temporary_bytes": temporaries,
                  "total_bytes": parameter_bytes + temporaries, "hbm_bytes": chip.hbm_bytes,
                  "fits": False, "compile_seconds": time.perf_counter() - start,
                  "compiler_message": message}
  memory = compiled.memory_analysis()
  total = (memory.argument_size_in_bytes + memory.output_size_in_bytes
           - memory.alias_size_in_bytes + memory.temp_size_in_bytes
           + memory.generated_code_size_in_bytes)
  return compiled, {"argument_bytes": memory.argument_size_in_bytes,
                    "temporary_bytes": memory.temp_size_in_bytes, "total_bytes": total,
                    "hbm_bytes": chip.hbm_bytes, "fits": total <= chip.hbm_bytes,
                    "compile_seconds": time.perf_counter() - start}
