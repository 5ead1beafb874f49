"""JAX's persistent compilation cache: a launch, a resumed launch or another process with
the same cache directory loads the compiled steps instead of compiling them again.

Every program is cached, however small or quick to compile (the CPU studies' steps take
seconds to compile and are small). The cache is trusted code: keep it in a directory
only you write to. On a pod it belongs on storage every worker reads (under MODEL_DIR).
"""

import threading

import jax
from jax.experimental.compilation_cache import compilation_cache

_HIT_EVENT = "/jax/compilation_cache/cache_hits"
_MISS_EVENT = "/jax/compilation_cache/cache_misses"

_lock = threading.Lock()
_counts = {"hits": 0, "misses": 0}
_listening = False


def _count(event: str, **_) -> None:
  name = {_HIT_EVENT: "hits", _MISS_EVENT: "misses"}.get(event)
  if name:
    with _lock:
      _counts[name] += 1


def enable(directory: str | None) -> None:
  """Caches every compiled program in `directory` (created on first write) and reads
  programs from it; None turns the persistent cache off. Call before compiling; calling
  again with another directory switches to it."""
  global _listening
  with _lock:
    if not _listening:
      jax.monitoring.register_event_listener(_count)
      _listening = True
  if directory == jax.config.jax_compilation_cache_dir:
    return
  jax.config.update("jax_compilation_cache_dir", directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # -1: no minimum
  compilation_cache.reset_cache()  # JAX opens its cache once; reopen it at the new place


def counts() -> dict[str, int]:
  """Persistent-cache hits and misses of this process since `enable` was first called
  (a hit is a program loaded instead of compiled)."""
  with _lock:
    return dict(_counts)
