"""The entry point's restart under a reusing, huge-page malloc: environment rules, and a
real restart of a real process (same pid, same arguments, the allocator loaded, once)."""

import os
import subprocess
import sys

import pytest

from xlt_jax.training import host_memory


def test_preloads_mimalloc_keeping_the_users_own_settings():
  environment = host_memory.environment_with_huge_page_malloc(
      {"MIMALLOC_PURGE_DELAY": "10", "HOME": "/h"}, mimalloc="/lib/libmimalloc.so")
  assert environment["LD_PRELOAD"] == "/lib/libmimalloc.so"
  assert environment["MIMALLOC_PURGE_DELAY"] == "10"  # the user's value wins
  assert environment["MIMALLOC_ALLOW_LARGE_OS_PAGES"] == "1"
  assert environment["HOME"] == "/h" and environment[host_memory.SWITCH] == "0"


def test_a_users_preload_keeps_glibc_with_the_huge_page_tunable():
  environment = host_memory.environment_with_huge_page_malloc(
      {"LD_PRELOAD": "/lib/libjemalloc.so"}, mimalloc="/lib/libmimalloc.so")
  assert environment["LD_PRELOAD"] == "/lib/libjemalloc.so"
  assert environment["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=1"


def test_adds_the_tunable_and_keeps_the_users_other_tunables():
  environment = host_memory.environment_with_huge_page_malloc(
      {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2", "HOME": "/h"})
  assert environment["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
  assert environment["HOME"] == "/h"
  assert environment[host_memory.SWITCH] == "0"  # the restarted process stays put


@pytest.mark.parametrize("environment", [
    {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"},  # the user's own choice wins
    {host_memory.SWITCH: "0"},  # switched off, or already restarted
])
def test_no_restart_when_the_user_chose_or_it_already_happened(environment):
  assert host_memory.environment_with_huge_page_malloc(environment) is None


def test_huge_page_mode_is_read_from_the_kernel_file(tmp_path):
  mode_file = tmp_path / "enabled"
  for mode, usable in [("always [madvise] never", True), ("[always] madvise never", True),
                       ("always madvise [never]", False)]:
    mode_file.write_text(mode + "\n")
    assert host_memory.transparent_huge_pages_usable(str(mode_file)) is usable
  assert not host_memory.transparent_huge_pages_usable(str(tmp_path / "missing"))


@pytest.mark.skipif(not sys.platform.startswith("linux")
                    or not host_memory.transparent_huge_pages_usable(),
                    reason="restarts only on Linux with transparent huge pages")
def test_a_real_process_restarts_once_with_its_arguments(tmp_path):
  script = tmp_path / "entry.py"
  script.write_text(
      "import os, sys\n"
      "print('start', os.getpid(), flush=True)\n"
      "from xlt_jax.training import host_memory\n"
      "host_memory.restart_with_huge_page_malloc()\n"
      "maps = open('/proc/self/maps').read()\n"
      "allocator = 'mimalloc' if 'libmimalloc' in maps else os.environ.get('GLIBC_TUNABLES')\n"
      "print('running', os.getpid(), allocator, sys.argv[1:])\n")
  environment = {key: value for key, value in os.environ.items()
                 if key not in ("GLIBC_TUNABLES", "LD_PRELOAD", host_memory.SWITCH)}
  repository = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(host_memory.__file__))))
  environment["PYTHONPATH"] = os.pathsep.join(
      [repository] + [path for path in [os.environ.get("PYTHONPATH")] if path])
  result = subprocess.run([sys.executable, "-u", str(script), "a", "--b=c"], env=environment,
                          capture_output=True, text=True, timeout=60, check=True)
  lines = result.stdout.splitlines()
  starts = [line.split()[1] for line in lines if line.startswith("start")]
  assert len(starts) == 2 and starts[0] == starts[1]  # restarted once, same process
  allocator = "mimalloc" if host_memory.mimalloc_library() else "glibc.malloc.hugetlb=1"
  assert lines[-1] == f"running {starts[0]} {allocator} ['a', '--b=c']"
