"""The binaries' quiet start-up: JAX's platform chosen from the attached devices, and
native start-up noise told apart from everything else on stderr."""

import os

import pytest

from xlt_jax.runner import quiet_start

# Verbatim stderr of `import tensorflow` (2.21) and of libtpu's first load on a CPU machine.
NOISE = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796284403.847124   18624 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796284403.847517   18624 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796284403.903556   18624 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 AVX512_FP16 AVX_VNNI AMX_TILE AMX_INT8 AMX_BF16 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
Failed to find host bounds for accelerator type: WARNING: could not determine TPU accelerator type, please set env var `TPU_ACCELERATOR_TYPE` manually, otherwise libtpu.so may not properly initialize.
WARNING: Logging before InitGoogle() is written to STDERR
E0000 00:00:1796285072.611024    6724 common_lib.cc:554] INVALID_ARGUMENT: Error: unexpected worker hostname 'WARNING: could not determine TPU worker hostnames or IP addresses' from env var TPU_WORKER_HOSTNAMES.
=== Source Location Trace: === 
learning/45eac/tfrc/runtime/libtpu_init_utils.cc:327
"""  # noqa: E501


@pytest.mark.parametrize("devices, chosen", [
    ([], "cpu"),
    (["vfio/vfio"], "cpu"),  # the VFIO control node alone is no TPU
    (["accel0"], None),  # TPU v4
    (["vfio/0"], None),  # TPU v5e and later
    (["nvidia0"], None),
])
def test_cpu_is_chosen_only_without_an_accelerator(tmp_path, devices, chosen):
  for device in devices:
    (tmp_path / device).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / device).touch()
  environment = {"HOME": "/h"}
  quiet_start.choose_jax_platform(environment, devices_dir=str(tmp_path))
  assert environment.get("JAX_PLATFORMS") == chosen


def test_the_users_jax_platforms_wins(tmp_path):
  environment = {"JAX_PLATFORMS": "tpu"}
  quiet_start.choose_jax_platform(environment, devices_dir=str(tmp_path))
  assert environment == {"JAX_PLATFORMS": "tpu"}


def test_start_up_noise_goes_and_everything_else_stays():
  ours = "error: budget 999999 exceeds the 64 available examples\nTraceback (most recent call last):\n"
  assert quiet_start.without_startup_noise(NOISE) == ""
  assert quiet_start.without_startup_noise(NOISE + ours) == ours
  assert quiet_start.without_startup_noise("F0000 00:00:1.2 7 x.cc:1] fatal\n") != ""


def test_native_stderr_is_filtered_and_kept_in_order(capfd):
  with quiet_start.native_stderr_filtered():
    os.write(2, (NOISE + "a real warning\n").encode())
  assert capfd.readouterr().err == "a real warning\n"
  with pytest.raises(ValueError):
    with quiet_start.native_stderr_filtered():
      os.write(2, b"said before failing\n")
      raise ValueError("boom")
  assert capfd.readouterr().err == "said before failing\n"
