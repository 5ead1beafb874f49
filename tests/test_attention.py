"""Attention's hand-written backward pass: gradients equal plain autodiff of softmax
attention (every mask the model builds), and a whole model's gradients equal
`transformers`' autograd on tiny random checkpoints (the external reference)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from xlt_jax.models.attention import MASKED_SCORE, dot_product_attention

B, L, K, G, H = 2, 7, 2, 3, 4


def _plain_attention(query, key, value, mask, scale):
  """The formulation plain autodiff differentiates (what the model used before)."""
  scores = jnp.einsum("blkgh,bskh->bkgls", query, key, preferred_element_type=jnp.float32)
  scores = jnp.where(mask[:, None, None], scores * scale, MASKED_SCORE)
  probabilities = jax.nn.softmax(scores, axis=-1).astype(query.dtype)
  return jnp.einsum("bkgls,bskh->blkgh", probabilities, value,
                    preferred_element_type=jnp.float32).astype(query.dtype)


def _masks():
  causal = jnp.tril(jnp.ones((L, L), bool))
  padding = jnp.array([[1] * L, [0, 0, 1, 1, 1, 1, 1]], bool)  # left padding in row 1
  segments = jnp.array([[0, 0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 0, 0, 0]])
  window = (jnp.arange(L)[:, None] - jnp.arange(L)[None, :]) < 3
  return {
      "causal_with_left_padding": causal[None] & padding[:, None, :],  # rows with no key
      "packed_segments": causal[None] & (segments[:, :, None] == segments[:, None, :]),
      "sliding_window": jnp.broadcast_to(causal & window, (B, L, L)),
  }


@pytest.mark.parametrize("mask_name", sorted(_masks()))
def test_gradients_equal_plain_autodiff_in_float32(mask_name):
  mask = _masks()[mask_name]
  keys = jax.random.split(jax.random.key(0), 4)
  query = jax.random.normal(keys[0], (B, L, K, G, H))
  key = jax.random.normal(keys[1], (B, L, K, H))
  value = jax.random.normal(keys[2], (B, L, K, H))
  weights = jax.random.normal(keys[3], (B, L, K, G, H))  # a cotangent on every row

  def loss(attention, *operands):
    return jnp.sum(attention(*operands, mask, 0.7) * weights)

  ours = jax.value_and_grad(lambda *o: loss(
      lambda q, k, v, m, s: dot_product_attention(q, k, v, m, s, "float32"), *o),
      argnums=(0, 1, 2))(query, key, value)
  reference = jax.value_and_grad(lambda *o: loss(_plain_attention, *o),
                                 argnums=(0, 1, 2))(query, key, value)
  np.testing.assert_allclose(ours[0], reference[0], rtol=1e-5)
  for got, expected in zip(ours[1], reference[1]):
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_attention_dropout_equals_plain_autodiff_of_dropped_out_probabilities():
  """Hugging Face's eager attention: softmax, dropout(p), then the value product."""
  mask = _masks()["packed_segments"]
  keys = jax.random.split(jax.random.key(2), 5)
  query = jax.random.normal(keys[0], (B, L, K, G, H))
  key = jax.random.normal(keys[1], (B, L, K, H))
  value = jax.random.normal(keys[2], (B, L, K, H))
  weights = jax.random.normal(keys[3], (B, L, K, G, H))
  rate, dropout_key = 0.3, keys[4]
  # The reference draws its own mask: keep with probability 1 - rate, scale by 1 / (1 - rate).
  kept = jax.random.bernoulli(dropout_key, 1 - rate, (B, K, G, L, L)) / (1 - rate)

  def reference(q, k, v):
    scores = jnp.einsum("blkgh,bskh->bkgls", q, k) * 0.7
    probabilities = jax.nn.softmax(jnp.where(mask[:, None, None], scores, MASKED_SCORE), -1)
    return jnp.einsum("bkgls,bskh->blkgh", probabilities * kept, v)

  def ours(q, k, v):
    return dot_product_attention(q, k, v, mask, 0.7, "float32", rate, dropout_key)

  got = jax.value_and_grad(lambda *o: jnp.sum(ours(*o) * weights), argnums=(0, 1, 2))(
      query, key, value)
  want = jax.value_and_grad(lambda *o: jnp.sum(reference(*o) * weights), argnums=(0, 1, 2))(
      query, key, value)
  np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
  for got_grad, want_grad in zip(got[1], want[1]):
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-4, atol=1e-5)
  # Dropout changed the output; rate 0 is the computation without dropout, bit for bit.
  plain = dot_product_attention(query, key, value, mask, 0.7, "float32")
  assert not np.allclose(ours(query, key, value), plain)
  np.testing.assert_array_equal(
      dot_product_attention(query, key, value, mask, 0.7, "float32", 0.0, dropout_key), plain)


def test_bfloat16_gradients_stay_close_to_float32_and_keep_their_dtype():
  mask = _masks()["causal_with_left_padding"]
  keys = jax.random.split(jax.random.key(1), 3)
  operands = [jax.random.normal(keys[0], (B, L, K, G, H)),
              jax.random.normal(keys[1], (B, L, K, H)), jax.random.normal(keys[2], (B, L, K, H))]

  def grads(dtype):
    return jax.grad(lambda *o: jnp.sum(
        dot_product_attention(*o, mask, 0.5, dtype).astype(jnp.float32) ** 2),
        argnums=(0, 1, 2))(*[x.astype(dtype) for x in operands])

  for low, exact in zip(grads("bfloat16"), grads("float32")):
    assert low.dtype == jnp.bfloat16
    np.testing.assert_allclose(low.astype(jnp.float32), exact, rtol=0.1, atol=0.1)


torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

# Two families: grouped-query Llama, and Gemma 3 (sliding-window local layers, query
# scaling, norms on queries and keys) so that every mask and scale path is differentiated.
FAMILIES = {
    "llama_gqa": lambda: transformers.LlamaConfig(
        vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64),
    "gemma3": lambda: transformers.Gemma3TextConfig(
        vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, head_dim=16,
        sliding_window=4, query_pre_attn_scalar=16),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_model_gradients_equal_transformers_autograd_in_float32(name, tmp_path):
  from xlt_jax.models import conversion as convert
  from xlt_jax.models import hf_params

  torch.manual_seed(0)
  reference = transformers.AutoModelForCausalLM.from_config(FAMILIES[name]()).float()
  reference.config._attn_implementation = "eager"
  reference.save_pretrained(tmp_path)
  model, params = convert.from_hf(str(tmp_path))
  tokens = np.random.default_rng(0).integers(0, 97, (2, 11))
  inputs, targets = tokens[:, :-1], tokens[:, 1:]

  logits = reference(torch.from_numpy(inputs)).logits
  torch.nn.functional.cross_entropy(logits.reshape(-1, 97), torch.from_numpy(targets).reshape(-1)
                                    ).backward()
  torch_grads = {parameter_name: parameter.grad.numpy()
                 for parameter_name, parameter in reference.named_parameters()}
  expected = hf_params.params_from_hf(model.config, set(torch_grads), torch_grads.__getitem__)

  def loss(params):
    our_logits, _ = model.apply({"params": params}, inputs)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(our_logits, targets))

  grads = jax.grad(loss)(params)
  for (path, got), want in zip(jax.tree_util.tree_leaves_with_path(grads),
                               jax.tree.leaves(expected)):
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5, err_msg=str(path))


def test_attention_dropout_changes_training_mode_logits_only():
  from xlt_jax.models.config import ModelConfig
  from xlt_jax.models.decoder import Decoder

  config = ModelConfig(vocab_size=64, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                       head_dim=8, mlp_dim=64)
  tokens = np.random.default_rng(0).integers(0, 64, (2, 9)).astype(np.int32)
  params = Decoder(config).init(jax.random.key(0), tokens)["params"]
  evaluation, _ = Decoder(config).apply({"params": params}, tokens)

  def training(rate, seed):
    logits, _ = Decoder(config, attention_dropout_rate=rate).apply(
        {"params": params}, tokens, rngs={"dropout": jax.random.key(seed)})
    return np.asarray(logits)

  np.testing.assert_array_equal(training(0.0, 1), evaluation)  # rate 0: today's model
  dropped = training(0.5, 1)
  assert not np.allclose(dropped, evaluation, atol=1e-3)
  np.testing.assert_array_equal(training(0.5, 1), dropped)  # the same masks for the same rng
  assert not np.allclose(training(0.5, 2), dropped, atol=1e-3)
