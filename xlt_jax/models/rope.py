"""Rotary position embeddings (RoPE): per-pair angles, their sine/cosine tables, the rotation.

Shape letters as in `xlt_jax.models.decoder`; h is H / 2, the number of rotated pairs.
"""

import contextlib

import jax
import jax.numpy as jnp

from xlt_jax.models.config import ModelConfig


def rope_inverse_frequencies(config: ModelConfig, is_global: bool) -> jax.Array:
  """Per rotated pair, the angle per position; with the config's scaling on global layers."""
  half = config.head_dim // 2
  base = config.rope_base if is_global else config.local_rope_base
  inverse = base ** (-jnp.arange(half, dtype=jnp.float32) / half)
  if not is_global or config.rope_scaling == "none":
    return inverse
  factor = config.rope_scaling_factor
  if config.rope_scaling == "linear":
    return inverse / factor
  # Llama 3: long wavelengths divided by the factor, short kept, the band between smoothed.
  low_wavelength = config.rope_original_max_positions / config.rope_low_frequency_factor
  high_wavelength = config.rope_original_max_positions / config.rope_high_frequency_factor
  wavelength = 2 * jnp.pi / inverse
  scaled = jnp.where(wavelength > low_wavelength, inverse / factor, inverse)
  smooth = (config.rope_original_max_positions / wavelength - config.rope_low_frequency_factor) / (
      config.rope_high_frequency_factor - config.rope_low_frequency_factor)
  smoothed = (1 - smooth) * scaled / factor + smooth * scaled
  medium = (wavelength >= high_wavelength) & (wavelength <= low_wavelength)
  return jnp.where(medium, smoothed, scaled)


def rotary_tables(positions_BL: jax.Array,
                  inverse_frequencies: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(sin, cos) of each position's angle per rotated pair, [B, L, H/2] in float32."""
  angles_BLh = positions_BL[..., None].astype(jnp.float32) * inverse_frequencies
  return jnp.sin(angles_BLh), jnp.cos(angles_BLh)


def apply_rope(x_BLNH: jax.Array, sin_BLh: jax.Array, cos_BLh: jax.Array,
               interleaved: bool = False) -> jax.Array:
  """Rotates pairs of each head by the angles whose sine and cosine are given
  (`rotary_tables`).

  Pairs are (i, i + H/2) (Llama layout) or, interleaved, (2i, 2i + 1) (Cohere).
  """
  sin, cos = sin_BLh[:, :, None, :], cos_BLh[:, :, None, :]
  x = x_BLNH.astype(jnp.float32)
  if interleaved:
    first, second = x[..., 0::2], x[..., 1::2]
    rotated = jnp.stack([first * cos - second * sin, second * cos + first * sin], axis=-1)
    return rotated.reshape(x.shape).astype(x_BLNH.dtype)
  half = x.shape[-1] // 2
  first, second = x[..., :half], x[..., half:]
  rotated = jnp.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)
  return rotated.astype(x_BLNH.dtype)


def tables_per_layer_kind(config: ModelConfig, positions_BL: jax.Array | None,
                          length: int) -> tuple[tuple[jax.Array, jax.Array], ...]:
  """((sin, cos) of global layers, (sin, cos) of local layers), each [B or 1, L, h].

  Computed once per step for all layers. With positions_BL None (positions 0..length-1)
  they are computed while tracing and enter the program as constants: computed inside
  the program, XLA CPU fuses them into every consumer and evaluates sine and cosine
  again per head, in the forward and the backward pass of every layer (the RoPE fusions
  of the 1.4 s bfloat16 step of benchmarks/train_step_vs_torch.py took 0.1 s of thread
  time that way, 0.05 s with constant tables).
  """
  default_positions = positions_BL is None
  with jax.ensure_compile_time_eval() if default_positions else contextlib.nullcontext():
    if default_positions:
      positions_BL = jnp.arange(length)[None, :]  # broadcasts over the batch
    return tuple(rotary_tables(positions_BL, rope_inverse_frequencies(config, kind))
                 for kind in (True, False))
