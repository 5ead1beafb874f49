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
# One persistent compilation cache for the whole session (a fresh directory, removed at
# exit): many tests compile the same tiny programs, and JAX then loads them instead of
# compiling them again (about a fifth of the suite's time). A test that sets its own
# cache (xlt_jax.training.compile_cache.enable) gets it back afterwards (fixture below).
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  import atexit
  import shutil
  import tempfile

  _SESSION_CACHE = tempfile.mkdtemp(prefix="xlt-jax-test-compile-cache-")
  atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _SESSION_CACHE
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
  os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "-1"

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
def session_compilation_cache():
  """Points JAX back at the session's compilation cache after a test that moved it."""
  yield
  import jax

  directory = os.environ["JAX_COMPILATION_CACHE_DIR"]
  if jax.config.jax_compilation_cache_dir != directory:
    from xlt_jax.training import compile_cache

    compile_cache.enable(directory)


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
