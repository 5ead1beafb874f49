"""The training process's malloc: memory that is reused, on huge pages (Linux).

An XLA CPU train step allocates its temporaries (over a GiB for a 110M-parameter
model at length 512) as one fresh block per step. glibc maps such a block anew each
time and returns it on free, so every step pays for fresh pages: with 4 KiB pages
about 340,000 page faults (0.6 s of system time per fp32 step); with glibc's
huge-page tunable about 1,000, but the kernel still zeroes a GiB every step (0.1 to
0.5 s). mimalloc with purging off keeps the memory and reuses it: no faults, no
system time after the first step.

Measured with benchmarks/train_step_vs_torch.py's model on a 2-core Zen 4 machine
(one process alone, median step):
  glibc as is               fp32 2.81 s
  glibc.malloc.hugetlb=1    fp32 2.41 s, bf16 1.56-2.10 s (every other step slower)
  mimalloc, never purging   fp32 2.36 s, bf16 1.51-1.52 s

Allocators are chosen when a process starts (LD_PRELOAD, GLIBC_TUNABLES), so the
entry point restarts itself once, before importing anything heavy. mimalloc comes
from the `cmeel-mimalloc` wheel (a dependency on x86-64 Linux); without it, glibc's
huge-page tunable. Nothing happens off Linux, where transparent huge pages are
disabled, where the user preloads a library or chose a hugetlb tunable, or when
XLT_JAX_HUGE_PAGE_MALLOC=0.
"""

import importlib.metadata
import os
import sys
from collections.abc import Mapping

TUNABLE = "glibc.malloc.hugetlb"
SWITCH = "XLT_JAX_HUGE_PAGE_MALLOC"  # "0" turns the restart off
THP_MODE_FILE = "/sys/kernel/mm/transparent_hugepage/enabled"
# Never give freed memory back to the OS (the next step reuses it); back it with
# transparent huge pages. A user's own value of either wins.
MIMALLOC_SETTINGS = {"MIMALLOC_PURGE_DELAY": "-1", "MIMALLOC_ALLOW_LARGE_OS_PAGES": "1"}


def transparent_huge_pages_usable(mode_file: str = THP_MODE_FILE) -> bool:
  """True when the kernel grants huge pages to memory that asks (mode madvise or always)."""
  try:
    with open(mode_file) as file:
      mode = file.read()
  except OSError:
    return False
  return "[madvise]" in mode or "[always]" in mode


def mimalloc_library() -> str | None:
  """Path of the shared mimalloc library the cmeel-mimalloc wheel installed, or None."""
  try:
    files = importlib.metadata.files("cmeel-mimalloc") or []
  except importlib.metadata.PackageNotFoundError:
    return None
  for file in files:
    if file.name.startswith("libmimalloc.so"):
      path = str(file.locate())
      if os.path.exists(path):
        return path
  return None


def environment_with_huge_page_malloc(environment: Mapping[str, str],
                                      mimalloc: str | None = None) -> dict[str, str] | None:
  """The environment to restart with, or None when no restart is wanted.

  With a mimalloc library path (and no LD_PRELOAD of the user's), preloads it with
  MIMALLOC_SETTINGS; otherwise adds glibc's huge-page tunable, keeping every other
  tunable and never overriding a hugetlb value the user set.
  """
  if environment.get(SWITCH) == "0":
    return None
  restarted = {**environment, SWITCH: "0"}  # the restarted process must not restart again
  if mimalloc and not environment.get("LD_PRELOAD"):
    return {**MIMALLOC_SETTINGS, **restarted, "LD_PRELOAD": mimalloc}
  tunables = [item for item in environment.get("GLIBC_TUNABLES", "").split(":") if item]
  if any(item.startswith(TUNABLE + "=") for item in tunables):
    return None
  return {**restarted, "GLIBC_TUNABLES": ":".join(tunables + [f"{TUNABLE}=1"])}


def restart_with_huge_page_malloc() -> None:
  """Replaces this process with the same command line (interpreter options included)
  under the malloc described in the module docstring, when that can help; otherwise
  returns. The process id stays the same.

  Call before anything heavy is imported (a binary parses its flags first, so `--help`
  and flag mistakes never restart): the process image is replaced, so nothing done
  before the call survives.
  """
  if not sys.platform.startswith("linux") or not transparent_huge_pages_usable():
    return
  environment = environment_with_huge_page_malloc(os.environ, mimalloc_library())
  if environment is None:
    return
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, sys.orig_argv, environment)
