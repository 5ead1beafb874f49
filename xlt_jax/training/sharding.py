"""The one place that maps logical axis names onto mesh axes.

Parameters and activations are annotated with logical names only (see
`xlt_jax.models.decoder`). `LOGICAL_AXIS_RULES` maps each name to mesh axes; gin's
`gin/meshes/*.gin` files choose only the mesh shape.
"""

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from xlt_jax.core.errors import UserInputError

# "slice" is data parallelism across TPU slices (multi-slice, over the data-centre
# network); it comes first so each slice is a contiguous block of devices.
MESH_AXES = ("slice", "data", "fsdp", "tensor")

# (logical name, mesh axes), for parameters, optimizer state (which follows its
# parameter) and activations alike. The batch is split over slice, data and fsdp;
# weights are split over fsdp (ZeRO-3 style) and, along heads/mlp/vocab, over
# tensor; nothing is split over slice, so only gradients cross slices.
LOGICAL_AXIS_RULES: tuple[tuple[str, Any], ...] = (
    ("batch", ("slice", "data", "fsdp")),
    ("embed", "fsdp"),
    ("mlp", "tensor"),
    ("heads", "tensor"),
    ("kv_heads", "tensor"),
    ("kv", None),
    ("vocab", "tensor"),
    ("layers", None),
    ("length", None),
    ("lora_rank", None),  # low-rank adapters (xlt_jax.models.lora): the rank is small, kept whole
)


@dataclasses.dataclass(frozen=True)
class MeshConfig:
  """Mesh shape: devices along each mesh axis. -1 on one axis means "all the rest".

  `topology` names the TPU slice the shape is meant for (e.g. "v5e:16x16", as
  `jax.experimental.topologies` spells it); `xlt_jax.plan` compiles for it by
  default. Training ignores it and uses the devices it finds.
  """

  data: int = -1
  fsdp: int = 1
  tensor: int = 1
  slice: int = 1  # last so that positional MeshConfig(data, fsdp, tensor) keeps working
  topology: str | None = None

  def sizes(self) -> dict[str, int]:
    """The configured size along each of MESH_AXES (-1 where it takes the rest)."""
    return {axis: getattr(self, axis) for axis in MESH_AXES}

  def shape(self, device_count: int) -> tuple[int, ...]:
    """The concrete sizes along MESH_AXES (slice, data, fsdp, tensor) for `device_count`
    devices."""
    sizes = [self.slice, self.data, self.fsdp, self.tensor]
    if sizes.count(-1) > 1:
      raise UserInputError(f"mesh {self}: at most one axis may be -1")
    known = math.prod(size for size in sizes if size != -1)
    if -1 in sizes:
      if device_count % known:
        raise UserInputError(f"mesh {self}: {device_count} devices are not divisible by {known}")
      sizes[sizes.index(-1)] = device_count // known
    if math.prod(sizes) != device_count:
      raise UserInputError(
          f"mesh {self} needs {math.prod(sizes)} devices but {device_count} are available"
      )
    return tuple(sizes)


def fit_fsdp(config: MeshConfig, device_count: int) -> MeshConfig:
  """`config` when its shape fits `device_count` devices; otherwise the same mesh with
  fsdp resized to take what tensor, data and slice (kept) leave, so that an experiment
  can be planned on a slice of another size.

  Raises:
    UserInputError: no fsdp size fits, naming the bindings to change.
  """
  try:
    config.shape(device_count)
    return config
  except UserInputError as error:
    mismatch = str(error)
  kept = {"tensor": config.tensor, "data": config.data, "slice": config.slice}
  fixed = math.prod(kept.values())
  if -1 in kept.values() or device_count % fixed:
    bindings = ", ".join(f"MeshConfig.{axis}={size}" for axis, size in kept.items())
    why = ("one of them is -1" if -1 in kept.values()
           else f"{device_count} devices are not divisible by {fixed}")
    raise UserInputError(
        f"{mismatch}, and no fsdp size fits keeping {bindings} ({why}); set them"
        f" (--gin.MeshConfig.tensor=...) to sizes whose product divides {device_count}")
  return dataclasses.replace(config, fsdp=device_count // fixed)


def make_mesh(config: MeshConfig, devices: list | None = None) -> Mesh:
  """Builds a mesh with axes MESH_AXES over `devices` (default: all devices).

  Axis types are Auto on purpose: shardings come from NamedSharding and logical
  constraints, not from explicit-sharding types (jax.make_mesh's default).
  """
  devices = list(jax.devices() if devices is None else devices)
  shape = config.shape(len(devices))
  return Mesh(
      np.asarray(devices).reshape(shape),
      MESH_AXES,
      axis_types=(jax.sharding.AxisType.Auto,) * len(MESH_AXES),
  )


def logical_to_sharding(logical_specs: Any, mesh: Mesh) -> Any:
  """Maps a tree of logical PartitionSpecs to NamedShardings on `mesh`."""
  return nn.logical_to_mesh_sharding(logical_specs, mesh, LOGICAL_AXIS_RULES)


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Sharding of a [batch, ...] input array: batch split over the data-parallel axes."""
  return NamedSharding(mesh, nn.logical_to_mesh_axes(("batch",), LOGICAL_AXIS_RULES))


def batch_shard_count(mesh: Mesh) -> int:
  """How many ways `mesh` splits the batch: a global batch must be a multiple of it."""
  axes = dict(LOGICAL_AXIS_RULES)["batch"]
  return math.prod(mesh.shape[axis] for axis in axes)


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def axis_rules():
  """Context manager binding the rules, for `nn.with_logical_constraint` in the model."""
  return nn.logical_axis_rules(LOGICAL_AXIS_RULES)


def with_rules(function, mesh: Mesh):
  """`function` called under `mesh` and the logical axis rules (what a jitted step needs to
  trace and run its sharding annotations); the wrapper keeps its name and docstring."""

  @functools.wraps(function)
  def wrapped(*args):
    with jax.sharding.set_mesh(mesh), axis_rules():
      return function(*args)

  return wrapped


def audit_replication(abstract_params: Any, mesh: Mesh, max_replicated_bytes: int) -> None:
  """Fails fast when a large parameter would be copied whole onto every device.

  A parameter is replicated when no mesh axis of size > 1 splits it (e.g. an
  "embed" axis mapped to an fsdp axis of size 1). On a multi-device mesh a
  replicated parameter over `max_replicated_bytes` is almost always a mesh or
  rule mistake that would waste memory on every chip.

  Raises:
    UserInputError: naming the first such parameter, its size and its sharding.
  """
  if mesh.devices.size == 1:
    return
  for path, leaf in jax.tree_util.tree_leaves_with_path(abstract_params):
    size = leaf.size * leaf.dtype.itemsize
    if size <= max_replicated_bytes:
      continue
    axes = [axis for entry in leaf.sharding.spec if entry is not None
            for axis in (entry if isinstance(entry, tuple) else (entry,))]
    if all(mesh.shape[axis] == 1 for axis in axes):
      name = jax.tree_util.keystr(path)
      raise UserInputError(
          f"parameter {name} ({size / 2**20:.0f} MiB) would be replicated on all"
          f" {mesh.devices.size} devices (sharding {leaf.sharding.spec}, mesh {dict(mesh.shape)});"
          " shard it with fsdp or tensor axes in gin/meshes, or raise the audit limit"
      )
