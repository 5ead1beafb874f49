"""Google Cloud Translation - Basic (v2) over REST: cached, retried and counted like the chat client.

The request and reply, as Google documents them ("Translate text (Basic)",
https://cloud.google.com/translate/docs/basic/translating-text, and the v2 reference's
TranslationsResource, e.g. googleapis.dev/dotnet/Google.Apis.Translate.v2/latest/api/
Google.Apis.Translate.v2.Data.TranslationsResource.html):

    POST https://translation.googleapis.com/language/translate/v2?key=API_KEY
    {"q": ["text", ...], "source": "en", "target": "es", "format": "text"}
    -> {"data": {"translations": [{"translatedText": "...", "detectedSourceLanguage": ...}]}}

one `translations` entry per `q`, in order; `format` "text" keeps line breaks (the default,
"html", would escape `<`, `&` and quotes). The key goes in the `key` query parameter (an API
key); it is read from the environment variable the config names and never enters a cache
entry, a usage line or an error message. `base_url` is configurable so that a loopback fake
stands in for Google in the tests.

Up to 128 texts per request (Google's documented limit on `q` segments); the cache is per
text, so a rerun asks only for texts never answered.
Retried: connection errors, timeouts, a body that is not the promised JSON, 429 and 5xx
(honouring `Retry-After` in seconds); not retried: other 4xx (a bad key or language fails
the same way every time). Backoff: `retry_policy.backoff_s`.
"""

import concurrent.futures
import dataclasses
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence

from xlt_jax.core.errors import UserInputError
from xlt_jax.services import retry_policy
from xlt_jax.services.cache import DAMAGED, ReplyCache
from xlt_jax.services.usage import UsageCounter, UsageCounts

DEFAULT_URL = "https://translation.googleapis.com/language/translate/v2"
DEFAULT_API_KEY_ENV = "GOOGLE_TRANSLATE_API_KEY"
MODEL = "google-translate-v2"


@dataclasses.dataclass(frozen=True)
class GoogleTranslateConfig:
  """Where and how to call the v2 `translate` method. The key is never a field, only the
  name of the environment variable holding it ("" for a fake that needs none)."""
  base_url: str = DEFAULT_URL
  api_key_env: str = DEFAULT_API_KEY_ENV
  cache_dir: str | None = None
  max_concurrency: int = 8
  max_segments: int = 128  # texts per request (`q` entries); Google accepts at most 128
  timeout_s: float = 60.0
  max_retries: int = 6
  initial_backoff_s: float = 1.0
  max_backoff_s: float = 60.0
  max_retry_after_s: float = 600.0

  def __post_init__(self) -> None:
    if self.max_concurrency < 1 or self.max_retries < 0 or not 1 <= self.max_segments <= 128:
      raise UserInputError("GoogleTranslateConfig: max_concurrency must be at least 1,"
                           " max_retries at least 0 and max_segments 1 to 128")


class TranslateServiceError(Exception):
  """A translation request that failed for good (not retryable, or retries exhausted)."""

  def __init__(self, message: str, status: int | None):
    super().__init__(message)
    self.status = status


class _Transient(Exception):
  def __init__(self, message: str, retry_after_s: float | None = None):
    super().__init__(message)
    self.retry_after_s = retry_after_s


def api_key_from(config: GoogleTranslateConfig, environ: Mapping[str, str]) -> str:
  """The key in `environ[config.api_key_env]` ("" when none is needed).

  Raises:
    UserInputError: the variable is unset, naming it.
  """
  if not config.api_key_env:
    return ""
  key = environ.get(config.api_key_env)
  if not key:
    raise UserInputError(f"no Google Cloud Translation API key: set the environment variable"
                         f" {config.api_key_env}")
  return key


def _retry_after(headers) -> float | None:
  value = headers.get("Retry-After") if headers is not None else None
  try:
    return max(0.0, float(value)) if value is not None else None
  except ValueError:
    return None


class GoogleTranslator:
  """Translates texts with one endpoint and key; see the module docstring."""

  def __init__(self, config: GoogleTranslateConfig, api_key: str, *,
               sleep: Callable[[float], None] = time.sleep, seed: int | None = None):
    self.config = config
    self._key = api_key
    self._cache = ReplyCache(config.cache_dir) if config.cache_dir else None
    self._usage = UsageCounter(MODEL, {})
    self._sleep = sleep
    self._rng = random.Random(seed)

  def identity(self, text: str, source: str, target: str) -> dict:
    """The cache identity of one translation: endpoint, languages and text, no key."""
    return {"base_url": self.config.base_url.rstrip("/"), "model": MODEL, "q": text,
            "source": source, "target": target, "format": "text"}

  def _cached(self, text: str, source: str, target: str) -> str | None:
    if self._cache is None:
      return None
    cached = self._cache.get(self.identity(text, source, target))
    if cached is DAMAGED or (cached is not None and not isinstance(cached.get("translatedText"),
                                                                   str)):
      self._usage.add(cache_damaged=1)
      return None
    if cached is not None:
      self._usage.add(cache_hits=1)
      return cached["translatedText"]
    return None

  def translate(self, text: str, source: str, target: str) -> str:
    """`text` in `target`, from the cache or the API.

    Raises:
      TranslateServiceError: a non-retryable failure, or every retry failed.
    """
    [result] = self.translate_many([text], source, target)
    if isinstance(result, TranslateServiceError):
      raise result
    return result

  def translate_many(self, texts: Sequence[str], source: str,
                     target: str) -> list[str | TranslateServiceError]:
    """Translations in the order of `texts`; a failed one is its error (the rest finish).

    Texts not in the cache are sent `max_segments` to a request (Google's limit is 128
    segments), up to `max_concurrency` requests at a time; each translation is cached on
    its own as soon as its request is answered.
    """
    results: list[str | TranslateServiceError | None] = [
        self._cached(text, source, target) for text in texts]
    todo = [i for i, result in enumerate(results) if result is None]
    size = self.config.max_segments
    batches = [todo[start:start + size] for start in range(0, len(todo), size)]

    def one(batch: list[int]) -> list[str] | TranslateServiceError:
      try:
        translated = self._request_with_retries([texts[i] for i in batch], source, target)
      except TranslateServiceError as error:
        return error
      if self._cache is not None:
        for i, text in zip(batch, translated):
          self._cache.put(self.identity(texts[i], source, target), {"translatedText": text})
      return translated

    workers = min(self.config.max_concurrency, max(1, len(batches)))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
      for batch, outcome in zip(batches, pool.map(one, batches)):
        for position, i in enumerate(batch):
          results[i] = outcome if isinstance(outcome, TranslateServiceError) else outcome[position]
    return results

  def _post(self, texts: list[str], source: str, target: str) -> list[str]:
    body = json.dumps({"q": texts, "source": source, "target": target,
                       "format": "text"}).encode("utf-8")
    url = self.config.base_url
    if self._key:
      url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"key": self._key})
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8"})
    try:
      with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
        raw = response.read()
    except urllib.error.HTTPError as error:
      if error.code == 429 or error.code >= 500:
        raise _Transient(f"HTTP {error.code}", _retry_after(error.headers)) from None
      detail = error.read()[:300].decode("utf-8", "replace").replace("\n", " ")
      raise TranslateServiceError(f"{self.config.base_url}: HTTP {error.code} (not retryable):"
                                  f" {detail}", error.code) from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
      raise _Transient(f"{type(error).__name__}: {getattr(error, 'reason', error)}") from None
    try:
      translations = [item["translatedText"] for item in json.loads(raw)["data"]["translations"]]
      if len(translations) != len(texts) or not all(isinstance(t, str) for t in translations):
        raise ValueError(f"expected {len(texts)} translatedText strings")
    except (ValueError, KeyError, TypeError) as error:
      raise _Transient(f"reply is not {{'data': {{'translations': [...]}}}}: {error}") from None
    return translations

  def _request_with_retries(self, texts: list[str], source: str, target: str) -> list[str]:
    for retry in range(self.config.max_retries + 1):
      self._usage.add(requests=1)
      try:
        reply = self._post(texts, source, target)
      except TranslateServiceError:
        self._usage.add(failures=1)
        raise
      except _Transient as error:
        if retry == self.config.max_retries:
          self._usage.add(failures=1)
          raise TranslateServiceError(f"{self.config.base_url}: {error} (gave up after"
                                      f" {retry} retries)", None) from None
        self._usage.add(retries=1)
        wait = (min(error.retry_after_s, self.config.max_retry_after_s)
                if error.retry_after_s is not None else
                retry_policy.backoff_s(retry, self.config.initial_backoff_s,
                                       self.config.max_backoff_s, self._rng))
        self._sleep(wait)
        continue
      self._usage.add_reply(0, 0)
      return reply
    raise AssertionError("unreachable")

  def usage(self) -> UsageCounts:
    return self._usage.snapshot()
