"""Low-rank adapters: bad targets refused, rank 0 is the plain model, the sharded LoRA step
trains only adapters, and exported adapters equal PEFT's (the external reference: `peft`
loading our adapter directory onto the `transformers` model gives our logits)."""

import re

import jax
import numpy as np
import pytest
from flax import linen as nn

from xlt_jax.core.errors import UserInputError
from xlt_jax.models import int8_base, lora
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.training import lora_step, sharding
from xlt_jax.training.train_step import OptimizerConfig, build, global_batch

CONFIG = ModelConfig(vocab_size=64, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                     head_dim=8, mlp_dim=64)
P2 = lora.LoraConfig(rank=8, alpha=16, dropout=0.05, targets=("q_proj", "k_proj", "v_proj"))


def test_a_target_that_names_no_module_and_bad_settings_are_one_error():
  with pytest.raises(UserInputError, match="'lm_head' names no module of the model; choose"
                     " from q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"):
    lora.LoraConfig(rank=8, targets=("q_proj", "lm_head"))
  with pytest.raises(UserInputError, match="unknown LoraConfig.base_dtype 'int4'"):
    lora.LoraConfig(rank=8, base_dtype="int4")
  with pytest.raises(UserInputError, match="base_dtype='int8' freezes the base, which needs"):
    lora.LoraConfig(rank=0, base_dtype="int8")
  with pytest.raises(UserInputError, match="rank must be >= 0"):
    lora.LoraConfig(rank=-1)


def test_rank_zero_is_the_plain_model_bit_for_bit():
  tokens = np.random.default_rng(0).integers(0, 64, (2, 7))
  plain = Decoder(CONFIG).init(jax.random.key(0), tokens)
  off = Decoder(CONFIG, lora.LoraConfig()).init(jax.random.key(0), tokens)
  assert jax.tree.structure(plain) == jax.tree.structure(off)
  params = nn.unbox(plain)["params"]
  np.testing.assert_array_equal(Decoder(CONFIG).apply({"params": params}, tokens)[0],
                                Decoder(CONFIG, lora.LoraConfig()).apply({"params": params},
                                                                        tokens)[0])


def test_fresh_adapters_leave_the_model_unchanged_and_merge_exactly():
  all_targets = lora.LoraConfig(rank=4, alpha=8, targets=tuple(lora.TARGETS))
  tokens = np.random.default_rng(1).integers(0, 64, (2, 9))
  params = nn.unbox(Decoder(CONFIG, all_targets).init(jax.random.key(0), tokens))["params"]
  base, adapters = lora.split(params)
  assert sorted(adapters["layers"]["attention"]) == ["key_lora", "out_lora", "query_lora",
                                                     "value_lora"]
  assert sorted(adapters["layers"]["mlp"]) == ["down_lora", "gate_lora", "up_lora"]
  plain = Decoder(CONFIG).apply({"params": base}, tokens)[0]
  np.testing.assert_array_equal(Decoder(CONFIG, all_targets).apply({"params": params}, tokens)[0],
                                plain)
  rng = np.random.default_rng(2)
  adapters = jax.tree.map(lambda leaf: rng.normal(0, 0.2, leaf.shape).astype(np.float32), adapters)
  adapted = Decoder(CONFIG, all_targets).apply({"params": lora.combine(base, adapters)}, tokens)[0]
  merged = Decoder(CONFIG).apply({"params": lora.merge(lora.combine(base, adapters), all_targets)},
                                 tokens)[0]
  assert np.abs(np.asarray(adapted) - np.asarray(plain)).max() > 0.1
  np.testing.assert_allclose(merged, adapted, atol=1e-4, rtol=1e-4)


def _batch(seed=0, batch_size=8, length=16):
  rng = np.random.default_rng(seed)
  tokens = rng.integers(2, 64, (batch_size, length + 1)).astype(np.int32)
  tokens[:, length // 2 + 1:] = tokens[:, 1:length // 2 + 1][:, :tokens.shape[1] - length // 2 - 1]
  weights = np.zeros((batch_size, length), np.int32)
  weights[:, length // 2:] = 1
  return {"decoder_input_tokens": tokens[:, :-1], "decoder_target_tokens": tokens[:, 1:],
          "decoder_loss_weights": weights}


def _lora_losses(mesh, steps, lora_config=P2):
  functions = lora_step.build(CONFIG, lora_config, OptimizerConfig(learning_rate=1e-2), mesh)
  base = nn.unbox(Decoder(CONFIG).init(jax.random.key(0), np.zeros((1, 1), np.int32)))["params"]
  base = jax.device_put(base, functions.base_sharding)
  state = functions.init(jax.random.key(1))
  losses = []
  for _ in range(steps):
    state, metrics = functions.train_step(state, global_batch(_batch(), functions.batch_sharding),
                                          base)
    losses.append(float(metrics["loss"]))
  return losses, state, base, functions


def test_lora_step_on_8_devices_trains_only_the_adapters():
  mesh = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  losses, state, base, functions = _lora_losses(mesh, steps=25)
  assert losses[-1] < 0.8 * losses[0], losses
  # The optimizer state holds only adapter leaves: AdamW's two moments per adapter matrix.
  adapter_shapes = sorted(leaf.shape for leaf in jax.tree.leaves(state.params))
  assert len(adapter_shapes) == 2 * 3  # a and b of q, k, v
  moments = sorted(leaf.shape for leaf in jax.tree.leaves(state.opt_state) if leaf.ndim)
  assert moments == sorted(adapter_shapes * 2)
  assert lora.count(state.params) == 2 * (32 * 8 + 8 * 32 + 2 * (32 * 8 + 8 * 16))
  # Adapters are sharded by the kernels' logical rules (embed -> fsdp, heads -> tensor).
  query = state.params["layers"]["attention"]["query_lora"]
  assert tuple(query["a"].sharding.spec) == (None, "fsdp", None)
  assert tuple(query["b"].sharding.spec) == (None, None, "tensor", None)
  # The base is an input, never updated.
  fresh = nn.unbox(Decoder(CONFIG).init(jax.random.key(0), np.zeros((1, 1), np.int32)))["params"]
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(base), fresh)
  # Validation on base + adapters, without dropout: deterministic.
  batch = global_batch(_batch(5), functions.batch_sharding)
  first = functions.validation_step(state.params, batch, base)
  np.testing.assert_array_equal(first, functions.validation_step(state.params, batch, base))


@pytest.mark.slow  # two compilations: about a minute on a shared 2-core machine
def test_lora_step_on_8_devices_equals_1_device_without_dropout():
  no_dropout = lora.LoraConfig(rank=4, alpha=16, targets=("q_proj", "v_proj", "down_proj"))
  single, _, _, _ = _lora_losses(sharding.make_mesh(sharding.MeshConfig(1, 1, 1),
                                                    jax.devices()[:1]), 3, no_dropout)
  sharded, _, _, _ = _lora_losses(sharding.make_mesh(sharding.MeshConfig(2, 2, 2)), 3, no_dropout)
  np.testing.assert_allclose(sharded, single, rtol=1e-5)


def test_an_int8_base_is_dequantised_inside_the_layers_within_half_a_step():
  tokens = np.random.default_rng(3).integers(0, 64, (2, 9))
  params = nn.unbox(Decoder(CONFIG).init(jax.random.key(0), tokens))["params"]
  held = int8_base.quantize_base(params)
  query, scale = held["layers"]["attention"]["query"], held["layers"]["attention"]["query_int8_scale"]
  assert query.dtype == np.int8 and scale.shape == (2, 4, 8)  # [layers, heads, head_dim]
  assert held["layers"]["attention"]["out_int8_scale"].shape == (2, 32)  # out: [N, H] -> [D]
  assert held["embedding"].dtype == np.float32  # the embedding is not quantised
  # Row-wise absmax rounding: every weight within half a quantisation step of its original.
  for module, kernel in int8_base.KERNEL_INPUT_AXES:
    original = np.asarray(params["layers"][module][kernel])
    values = np.asarray(held["layers"][module][kernel], np.float32)
    steps = np.asarray(held["layers"][module][kernel + int8_base.SCALE_SUFFIX])
    steps = steps.reshape(steps.shape[:1] + (1,) * (original.ndim - steps.ndim) + steps.shape[1:])
    assert np.all(np.abs(values * steps - original) <= steps / 2 + 1e-7), (module, kernel)
  # The decoder computes with exactly those dequantised weights.
  layers = held["layers"]
  dequantised = {**params, "layers": {module: dict(values) for module, values in layers.items()}}
  for module, kernel in int8_base.KERNEL_INPUT_AXES:
    scale = dequantised["layers"][module].pop(kernel + int8_base.SCALE_SUFFIX)
    # Per layer, as the scanned layer sees them: [*inputs, *outputs] and [*outputs].
    dequantised["layers"][module][kernel] = np.stack([
        int8_base.dequantize(layers[module][kernel][layer], scale[layer], np.float32)
        for layer in range(CONFIG.num_layers)])
  np.testing.assert_allclose(Decoder(CONFIG).apply({"params": held}, tokens)[0],
                             Decoder(CONFIG).apply({"params": dequantised}, tokens)[0],
                             atol=1e-5, rtol=1e-5)


def test_lora_on_an_int8_base_trains_on_8_devices():
  int8 = lora.LoraConfig(rank=8, alpha=16, dropout=0.05, base_dtype="int8")
  mesh = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  functions = lora_step.build(CONFIG, int8, OptimizerConfig(learning_rate=1e-2), mesh)
  loaded = nn.unbox(Decoder(CONFIG).init(jax.random.key(0), np.zeros((1, 1), np.int32)))["params"]
  loaded = jax.device_put(loaded, jax.tree.map(lambda leaf: leaf.sharding, functions.abstract_base))
  base = functions.prepare_base(loaded)
  gate = base["layers"]["mlp"]["gate"]
  assert gate.dtype == np.int8 and tuple(gate.sharding.spec) == (None, "fsdp", "tensor")
  assert tuple(base["layers"]["mlp"]["gate_int8_scale"].sharding.spec) == (None, "tensor")
  state, losses = functions.init(jax.random.key(1)), []
  for _ in range(20):
    state, metrics = functions.train_step(state, global_batch(_batch(), functions.batch_sharding),
                                          base)
    losses.append(float(metrics["loss"]))
  assert losses[-1] < 0.8 * losses[0], losses
  assert all(leaf.dtype == np.float32 for leaf in jax.tree.leaves(state.params))


def test_resuming_a_run_with_other_adapters_is_refused_naming_them(tmp_path):
  from xlt_jax.training import checkpointing, resume_guard
  from xlt_jax.training.train_step import TrainState
  from xlt_jax.training.trainer import TrainConfig

  def identity(lora_config):
    return resume_guard.run_identity(CONFIG, OptimizerConfig(), TrainConfig(lora=lora_config))

  run_dir, checkpoints = str(tmp_path), str(tmp_path / "checkpoints")
  resume_guard.record_identity(run_dir, identity(P2), 0, [])
  manager = checkpointing.open_checkpoints(checkpoints, keep_latest=1, keep_best=0,
                                           asynchronous=False)
  checkpointing.save(manager, 1, TrainState(step=0, params={"a": np.zeros(2)},
                                            opt_state={"m": np.zeros(2)}), None)
  manager.close()
  assert resume_guard.check_resume(run_dir, "r", identity(P2), False, checkpoints) == []
  with pytest.raises(UserInputError, match=r"started with LoraConfig.alpha=16, now 32"):
    resume_guard.check_resume(run_dir, "r", identity(lora.LoraConfig(
        rank=8, alpha=32, dropout=0.05)), False, checkpoints)


def _compiled_text(jitted_with_rules, mesh, *args) -> str:
  # The step functions are `with_rules` wrappers (functools.wraps) around the jax.jit object.
  with jax.sharding.set_mesh(mesh), sharding.axis_rules():
    return jitted_with_rules.__wrapped__.lower(*args).compile().as_text()


def _dots_producing(hlo: str, shape: str) -> int:
  return sum(1 for line in hlo.splitlines()
             if re.search(rf"= f32\[{shape}\]\{{[0-9,]*\}} dot\(", line))


@pytest.mark.slow  # compiles a full and a LoRA step: ~1 minute on a shared 2-core machine
def test_the_compiled_lora_step_computes_no_gradient_of_a_base_kernel():
  """The full step's backward pass has dots producing the MLP kernels' gradients ([D, F],
  [F, D]); the LoRA step (adapters on q and v only) has none: XLA drops the base-weight
  products of the custom VJP, whose results nothing reads."""
  config = ModelConfig(vocab_size=64, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                       head_dim=8, mlp_dim=48)
  mesh = sharding.make_mesh(sharding.MeshConfig(1, 1, 1), jax.devices()[:1])
  zeros = np.zeros((8, 16), np.int32)
  batch = {"decoder_input_tokens": zeros, "decoder_target_tokens": zeros,
           "decoder_loss_weights": zeros + 1}
  full = build(config, OptimizerConfig(), mesh)
  full_hlo = _compiled_text(full.train_step, mesh, full.init(jax.random.key(0)),
                            global_batch(batch, full.batch_sharding))
  adapted = lora_step.build(config, lora.LoraConfig(rank=4, targets=("q_proj", "v_proj")),
                            OptimizerConfig(), mesh)
  base = nn.unbox(Decoder(config).init(jax.random.key(0), np.zeros((1, 1), np.int32)))["params"]
  lora_hlo = _compiled_text(adapted.train_step, mesh, adapted.init(jax.random.key(1)),
                            global_batch(batch, adapted.batch_sharding), base)
  assert _dots_producing(full_hlo, "32,48") and _dots_producing(full_hlo, "48,32")
  assert _dots_producing(lora_hlo, "32,48") == _dots_producing(lora_hlo, "48,32") == 0
