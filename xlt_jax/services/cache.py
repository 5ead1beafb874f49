"""The on-disk reply cache: a rerun, or a run killed halfway, repeats no paid request.

One JSON file per request, named by the SHA-256 of the request's identity (base URL, model,
messages, sampling parameters, prompt version and attempt number, as canonical JSON), under
`<cache_dir>/<first two hex digits>/<key>.json`. Each file is written atomically
(`xlt_jax.core.atomic_io`) only after the reply arrived, so a kill leaves either no entry or
a whole one. An entry is trusted only when it parses, names the same key and request, and
its reply matches the checksum stored beside it; anything else (a truncated copy, a
hand-edited file, a disk error) is reported as damaged and the request is made again.
Nothing about the caller's credentials is part of the identity or the entry.
"""

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from xlt_jax.core import atomic_io, paths

FORMAT = 1
_LOG = logging.getLogger(__name__)


def _canonical(value: Any) -> str:
  return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _sha256(value: Any) -> str:
  return hashlib.sha256(_canonical(value).encode("utf-8")).hexdigest()


def request_key(identity: Mapping[str, Any]) -> str:
  """The cache key of a request: SHA-256 hex of its identity as canonical JSON."""
  return _sha256(identity)


DAMAGED = object()  # what `ReplyCache.get` returns for an entry it cannot trust


class ReplyCache:
  """Reads and writes cached replies under one directory (local or a URL)."""

  def __init__(self, directory: str):
    self.directory = directory

  def path(self, key: str) -> str:
    return paths.join(self.directory, key[:2], key + ".json")

  def get(self, identity: Mapping[str, Any]) -> dict | None | object:
    """The cached reply of `identity`; None when there is none, DAMAGED when the entry cannot
    be trusted (the caller asks again and `put` replaces it)."""
    key = request_key(identity)
    path = self.path(key)
    if not paths.exists(path):
      return None
    try:
      entry = json.loads(paths.read_text(path))
      reply = entry["reply"]
      valid = (entry["format"] == FORMAT and entry["key"] == key
               and _canonical(entry["request"]) == _canonical(identity)
               and entry["reply_sha256"] == _sha256(reply) and isinstance(reply, dict))
    except (OSError, ValueError, KeyError, TypeError) as error:
      valid, reply = False, None
      _LOG.warning("cache entry %s is unreadable (%s): the request is made again", path, error)
    else:
      if not valid:
        _LOG.warning("cache entry %s does not match its request or checksum: made again", path)
    return reply if valid else DAMAGED

  def put(self, identity: Mapping[str, Any], reply: Mapping[str, Any]) -> None:
    """Stores `reply` for `identity` atomically."""
    key = request_key(identity)
    entry = {"format": FORMAT, "key": key, "request": dict(identity), "reply": dict(reply),
             "reply_sha256": _sha256(reply)}
    atomic_io.write_json(self.path(key), entry)
