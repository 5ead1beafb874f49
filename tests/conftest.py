"""Test set-up: 8 simulated CPU devices before JAX loads, and no registry leaks."""

import os

# These must be set before anything imports jax (see STYLE.md P11).
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ["JAX_PLATFORMS"] = "cpu"
# libtpu (the plan tests compile for TPU topologies) otherwise locks it machine-wide.
os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pathlib  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# Real data the tests read, committed with its licences (see tests/data/README.md).
TEST_DATA = REPO_ROOT / "tests" / "data"


@pytest.fixture(scope="session", autouse=True)
def eight_cpu_devices():
  """Every test run sees exactly 8 CPU devices, like CI (a sharding test never skips)."""
  import jax

  assert jax.device_count() == 8, jax.devices()


@pytest.fixture(autouse=True)
def isolated_seqio_registries():
  """Restores seqio's global task and mixture registries after each test."""
  import seqio

  tasks = dict(seqio.TaskRegistry._REGISTRY)
  mixtures = dict(seqio.MixtureRegistry._REGISTRY)
  yield
  seqio.TaskRegistry._REGISTRY.clear()
  seqio.TaskRegistry._REGISTRY.update(tasks)
  seqio.MixtureRegistry._REGISTRY.clear()
  seqio.MixtureRegistry._REGISTRY.update(mixtures)


@pytest.fixture(name="test_data")
def fixture_test_data() -> pathlib.Path:
  """tests/data/ in this checkout: real MGSM, LCB and paper-table files (read only)."""
  if not (TEST_DATA / "README.md").is_file():
    pytest.fail(f"{TEST_DATA} is missing or incomplete: it is part of the repository")
  return TEST_DATA
