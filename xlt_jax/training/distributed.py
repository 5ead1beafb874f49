"""Multi-host start-up: every worker of a TPU VM runs the same command, and this module
joins them into one JAX program before anything touches a device.

On TPU VMs `jax.distributed.initialize()` finds the coordinator, the number of
workers and this worker's index by itself; elsewhere (tests: several CPU processes
on one machine) they are given explicitly. Every process sees the global device
list afterwards; each one feeds only its shard of the global batch
(`xlt_jax.training.batches`) and only the primary process writes result files.
"""

import dataclasses
import os
import socket
import sys
import threading
from typing import Callable

import jax
import numpy as np
from jax.experimental import multihost_utils

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
  """How this process joins a multi-process run.

  Leave everything None on TPU VMs (auto-detected) and on a single machine (one
  process). Give coordinator_address, num_processes and process_id together to
  start processes by hand (e.g. two CPU processes on localhost).
  """

  coordinator_address: str | None = None  # "host:port" of process 0
  num_processes: int | None = None
  process_id: int | None = None  # 0 .. num_processes - 1; process 0 runs the coordinator
  local_device_ids: tuple[int, ...] | None = None  # accelerators this process may use
  initialization_timeout_seconds: int = 300  # give up joining after this long
  cpu_collectives: str = "gloo"  # cross-process collectives when the devices are CPUs

  @property
  def explicit(self) -> bool:
    """True when the processes are named here rather than detected by JAX."""
    return self.coordinator_address is not None


def _check(config: DistributedConfig) -> None:
  given = [config.coordinator_address, config.num_processes, config.process_id]
  if config.explicit and None in given:
    raise UserInputError(
        "DistributedConfig: coordinator_address, num_processes and process_id must be given"
        f" together (got {config.coordinator_address!r}, {config.num_processes!r},"
        f" {config.process_id!r})")
  if config.num_processes is not None and config.num_processes < 1:
    raise UserInputError(f"DistributedConfig.num_processes must be >= 1, not {config.num_processes}")
  if config.explicit and not 0 <= config.process_id < config.num_processes:
    raise UserInputError(f"DistributedConfig.process_id {config.process_id} is not in"
                         f" [0, {config.num_processes})")
  if config.initialization_timeout_seconds < 1:
    raise UserInputError("DistributedConfig.initialization_timeout_seconds must be >= 1")


def _coordinator_accepts_connections(address: str) -> bool:
  host, _, port = address.rpartition(":")
  try:
    with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
      return True
  except (OSError, ValueError):
    return False


def exit_with_error(message: str) -> None:
  """Prints `error: message` and ends the process with status 2 (the binaries' convention).

  os._exit, not sys.exit: it runs on the watchdog thread while the main thread is
  blocked inside jax's C++ client, which no Python exception can interrupt.
  """
  print(f"error: {message}", file=sys.stderr, flush=True)
  os._exit(2)


def _timeout_message(config: DistributedConfig) -> str:
  timeout = config.initialization_timeout_seconds
  if config.coordinator_address is None:
    return (f"the distributed run did not start within {timeout}s (auto-detected coordinator);"
            " are all workers running the same command?")
  where = f"coordinator {config.coordinator_address}"
  if _coordinator_accepts_connections(config.coordinator_address):
    problem = f"{where} is reachable but not all {config.num_processes} processes joined"
  else:
    problem = f"cannot reach {where}"
  return (f"{problem} within {timeout}s (this is process {config.process_id} of"
          f" {config.num_processes}); is every process running, with the same"
          " coordinator address, and is the port open?")


def initialize(config: DistributedConfig,
               on_timeout: Callable[[str], None] = exit_with_error) -> bool:
  """Joins this process to the others; call once, before any device is touched.

  Returns:
    True when the run spans several processes (jax.distributed is initialized),
    False for a single-process run (nothing is done).

  Raises:
    UserInputError: inconsistent fields, or a configuration jax rejects.

  A process that has not joined after `initialization_timeout_seconds` (coordinator
  unreachable, a process missing) calls `on_timeout(message)`, the message naming the
  coordinator address and the timeout; by default it prints one `error:` line and
  exits with status 2. jax itself would abort the process from C++ with a stack trace
  some seconds later, which a Python exception handler cannot catch: hence a watchdog.
  """
  _check(config)
  if config.num_processes == 1:
    return False
  joined = threading.Event()

  def watch() -> None:
    if not joined.wait(config.initialization_timeout_seconds):
      on_timeout(_timeout_message(config))

  threading.Thread(target=watch, name="distributed-initialization-watchdog", daemon=True).start()
  try:
    jax.distributed.initialize(
        coordinator_address=config.coordinator_address,
        num_processes=config.num_processes,
        process_id=config.process_id,
        local_device_ids=list(config.local_device_ids) if config.local_device_ids else None,
        initialization_timeout=config.initialization_timeout_seconds,
    )
  except ValueError as error:
    # Auto-detection found no cluster (not a TPU VM, no Slurm or MPI): one process.
    # jax says so only through this ValueError ("coordinator_address should be defined").
    if not config.explicit and "coordinator_address" in str(error):
      return False
    raise UserInputError(f"DistributedConfig: {error}") from None
  finally:
    joined.set()
  # Only the CPU client reads this (harmless on TPUs); a CPU mesh spanning processes
  # needs it. It must be set before the backend starts, which initialize() does not do.
  jax.config.update("jax_cpu_collectives_implementation", config.cpu_collectives)
  return True


def is_primary_process() -> bool:
  """True on the process that writes shared result files (process 0; also a lone process)."""
  return jax.process_index() == 0


def wait_for_all_processes(name: str) -> None:
  """Blocks until every process reaches the barrier `name` (a no-op for one process).

  Used where process 0 writes a file that the others read next.
  """
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def check_shared_directory(directory: str) -> None:
  """Checks that every process sees the files the primary process writes in `directory`.

  A multi-host run keeps one MODEL_DIR (data, tokenizer, checkpoints, results) on storage
  that all workers share. A worker-local directory would otherwise surface much later,
  as a missing tokenizer on one worker while the others wait in a collective.

  Raises:
    UserInputError: on every process, naming the processes that do not see the files.
  """
  if jax.process_count() == 1:
    return
  marker = paths.join(directory, ".shared-by-all-processes")
  token = int(multihost_utils.broadcast_one_to_all(np.int32(np.random.default_rng().integers(2**31))))
  if is_primary_process():
    atomic_io.write_text(marker, str(token))
  wait_for_all_processes("shared directory marker written")
  try:
    with paths.open(marker, encoding="utf-8") as file:
      sees_it = file.read() == str(token)
  except OSError:
    sees_it = False
  seen = multihost_utils.process_allgather(np.int32(sees_it))
  blind = [index for index, value in enumerate(np.asarray(seen).ravel()) if not value]
  if blind:
    raise UserInputError(
        f"{directory} is not shared by all {jax.process_count()} processes: process(es)"
        f" {blind} do not see what process 0 writes there; put MODEL_DIR on storage every"
        " worker sees (a gs:// URL, a Filestore share or a gcsfuse mount)")
