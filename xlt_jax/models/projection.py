"""The model's matrix products: float32-accumulated contractions whose backward products
come out in the layouts XLA CPU's fast matmul kernel takes.

`mixed_precision_dot` is the one product every projection of the decoder and every LoRA
adapter computes (`xlt_jax.models.decoder`, `xlt_jax.models.lora`); `project` states a
projection as an einsum equation without batch axes.
"""

import functools
from typing import Any

import jax
import jax.numpy as jnp


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def mixed_precision_dot(x: jax.Array, y: jax.Array, x_axes: tuple[int, ...],
                        y_axes: tuple[int, ...], out_dtype: Any) -> jax.Array:
  """Contracts x_axes of x with y_axes of y (output: x's free axes, then y's), low-precision
  inputs with float32 accumulation in the forward and in both backward products.

  With bfloat16 operands this is the mixed-precision matmul of TPUs and of torch's
  autocast: inputs rounded, sums exact to float32. Plain autodiff of a dot with
  preferred_element_type=float32 would feed its float32 cotangent into the backward
  products, which XLA then runs as float32 matmuls (about half the bf16 rate on a
  Zen 4 CPU, measured by benchmarks/train_step_vs_torch.py); here the cotangent is
  rounded to the input dtype first, as autocast does. Used by the model for every
  projection in every dtype (dtype="bfloat16" with param_dtype="float32" is the fast
  mixed-precision setting; float32 stays the default, where this is an exact float32 dot
  whose backward products come out in the layouts XLA CPU's matmul kernel takes).

  y (a weight) is rounded to x's dtype inside the product, and its gradient, float32
  sums, comes back in y's own dtype: with float32 master weights nothing rounds the
  weight gradient to bfloat16, and no stacked bfloat16 gradient of a scanned layer
  has to be converted to float32 afterwards (a whole extra pass per weight).
  """
  return jax.lax.dot_general(x, y.astype(x.dtype), ((x_axes, y_axes), ((), ())),
                             preferred_element_type=jnp.float32).astype(out_dtype)


def _mixed_precision_dot_forward(x, y, x_axes, y_axes, out_dtype):
  return mixed_precision_dot(x, y, x_axes, y_axes, out_dtype), (x, y)


def _restore_axis_order(product: jax.Array, axes: list[int]) -> jax.Array:
  """Transposes a product whose i-th axis is the operand's axis axes[i] back into the
  operand's own axis order."""
  return jnp.transpose(product, [axes.index(axis) for axis in range(len(axes))])


def _mixed_precision_dot_backward(x_axes, y_axes, out_dtype, residuals, cotangent):
  del out_dtype
  x, y = residuals
  cotangent = cotangent.astype(x.dtype)
  x_free = [axis for axis in range(x.ndim) if axis not in x_axes]
  y_free = [axis for axis in range(y.ndim) if axis not in y_axes]
  # The axis of the other operand that each contracted axis is paired with.
  x_partner = {y_axis: x_axis for x_axis, y_axis in zip(x_axes, y_axes)}
  y_partner = {x_axis: y_axis for x_axis, y_axis in zip(x_axes, y_axes)}
  # d/dx: contract the cotangent's y-part with y's free axes -> [x_free..., y_axes sorted].
  x_grad = jax.lax.dot_general(
      cotangent, y.astype(x.dtype),
      ((tuple(range(len(x_free), cotangent.ndim)), tuple(y_free)), ((), ())),
      preferred_element_type=jnp.float32)
  x_grad = _restore_axis_order(x_grad, x_free + [x_partner[axis] for axis in sorted(y_axes)])
  # d/dy: contract x's free axes with the cotangent's x-part. Operands are ordered so
  # that the product comes out in y's layout (no transpose after it): XLA's CPU
  # backend would fold such a transpose into a dot form it can only run in float32.
  x_part = tuple(range(len(x_free)))
  y_contracted = [y_partner[axis] for axis in sorted(x_axes)]
  if y_free == list(range(len(y_free))):  # y is [free..., contracted...], e.g. [V, D]
    y_grad = jax.lax.dot_general(cotangent, x, ((x_part, tuple(x_free)), ((), ())),
                                 preferred_element_type=jnp.float32)
    y_grad = _restore_axis_order(y_grad, y_free + y_contracted)
  else:
    y_grad = jax.lax.dot_general(x, cotangent, ((tuple(x_free), x_part), ((), ())),
                                 preferred_element_type=jnp.float32)
    y_grad = _restore_axis_order(y_grad, y_contracted + y_free)
  return x_grad.astype(x.dtype), y_grad.astype(y.dtype)


mixed_precision_dot.defvjp(_mixed_precision_dot_forward, _mixed_precision_dot_backward)


def project(equation: str, x: jax.Array, kernel: jax.Array,
             out_dtype: Any = None) -> jax.Array:
  """einsum of an activation and a kernel without shared batch axes (output: x's free
  axes, then the kernel's), through mixed_precision_dot in every dtype: float32
  accumulation in forward and backward, and backward products laid out for XLA CPU's
  fast matmul kernel. (In float32, plain autodiff of jnp.einsum made XLA transpose the
  MLP's [L, F] gradients element by element into the operand of an Eigen dot; the
  custom VJP made the 110M-parameter train step of benchmarks/train_step_vs_torch.py
  11% faster.)"""
  out_dtype = out_dtype or x.dtype
  inputs, output = equation.split("->")
  x_letters, kernel_letters = inputs.split(",")
  contracted = [letter for letter in x_letters if letter in kernel_letters]
  expected = "".join(letter for letter in x_letters + kernel_letters if letter not in contracted)
  if output != expected:
    raise ValueError(f"project supports contractions without batch axes, not {equation!r}")
  return mixed_precision_dot(
      x, kernel, tuple(x_letters.index(letter) for letter in contracted),
      tuple(kernel_letters.index(letter) for letter in contracted), out_dtype)
