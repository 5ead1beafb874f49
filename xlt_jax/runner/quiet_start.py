"""A binary's start-up without library noise, so that its first stderr line is its own.

The binaries call `begin()` after parsing their flags (so `--help` stays instant) and
before importing JAX or TensorFlow:

- JAX platform. `jax[tpu]` is a dependency (plan compiles for TPU topologies on any
  machine, and TPU VMs need it), so on a machine without TPUs JAX first tries libtpu
  and prints its failure to find one (accelerator type, worker hostnames). With
  JAX_PLATFORMS unset and neither a TPU nor a GPU attached, `begin` sets it to `cpu`.
  Chosen over moving `jax[tpu]` to an extra: plan and the tests need libtpu installed
  on CPU machines too, and JAX prints the same warnings whenever it is installed, so
  only choosing the platform quiets every install. A user's own JAX_PLATFORMS wins.
- TensorFlow (seqio's data pipeline). TF_CPP_MIN_LOG_LEVEL=3 unless set (otherwise
  every first data op logs a failed cuInit on a machine without CUDA). TensorFlow
  2.21 logs through absl before reading that variable, so its import also runs with
  the process's stderr (fd 2) captured: start-up log lines (oneDNN, cuda stubs, CPU
  features) are dropped, anything else is printed after the import.
- libtpu, loaded by plan on a machine without TPUs, complains that it finds no TPU
  metadata; plan loads it inside `native_stderr_filtered` too.
"""

import contextlib
import glob
import os
import re
import sys
import tempfile
from collections.abc import Iterator, MutableMapping

# Device files of attached accelerators: TPU v2-v4 (/dev/accel*), TPU v5e and later
# (VFIO groups /dev/vfio/N; /dev/vfio/vfio is the control node every VFIO host has),
# NVIDIA (incl. WSL's /dev/dxg) and AMD (/dev/kfd) GPUs.
TPU_DEVICES = ("accel*", "vfio/[0-9]*")
GPU_DEVICES = ("nvidia0", "nvidiactl", "dxg", "kfd")

# Native start-up lines: absl's INFO/WARNING/ERROR records ("I0000 00:00:1796284767.6 27538
# port.cc:153] ..."), the notices that logging is not initialised yet, the second line
# of TensorFlow's CPU-feature message, and libtpu's complaints when it loads on a
# machine without TPUs (plan compiles for TPU topologies) with their source trace.
STARTUP_NOISE = re.compile(
    r"[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ :]+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|WARNING: Logging before InitGoogle\(\) is written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|Failed to find host bounds for accelerator type: "
    r"|=== Source Location Trace: ===\s*$"
    r"|[\w./-]+\.cc:\d+\s*$")


def accelerator_attached(devices_dir: str = "/dev") -> bool:
  """True when a TPU or GPU device file exists under `devices_dir`."""
  patterns = TPU_DEVICES + GPU_DEVICES
  return any(glob.glob(os.path.join(devices_dir, pattern)) for pattern in patterns)


def choose_jax_platform(environment: MutableMapping[str, str], devices_dir: str = "/dev") -> None:
  """Sets JAX_PLATFORMS=cpu in `environment` when it is unset and no accelerator is attached."""
  if "JAX_PLATFORMS" not in environment and not accelerator_attached(devices_dir):
    environment["JAX_PLATFORMS"] = "cpu"


def without_startup_noise(text: str) -> str:
  """`text` less the native start-up lines described by STARTUP_NOISE."""
  return "".join(line for line in text.splitlines(keepends=True)
                 if not STARTUP_NOISE.match(line))


@contextlib.contextmanager
def native_stderr_filtered() -> Iterator[None]:
  """Captures fd 2 (native libraries and Python alike) for the duration and prints what
  was captured, less STARTUP_NOISE, when it ends (also when the body raises: the
  exception, printed later, says what went wrong)."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = without_startup_noise(captured.read().decode("utf-8", errors="replace"))
      if text:
        sys.stderr.write(text)
        sys.stderr.flush()


def begin(tensorflow: bool = True) -> None:
  """Quiets JAX and (with `tensorflow`) imports TensorFlow quietly; see the module docstring.

  Call before JAX or TensorFlow is imported; a no-op for whatever is imported already.
  """
  choose_jax_platform(os.environ)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  if tensorflow and "tensorflow" not in sys.modules:
    with native_stderr_filtered():
      import tensorflow  # noqa: F401
