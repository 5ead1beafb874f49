"""Which failures of a chat request are retried, and how long to wait before each retry.

Retried: timeouts, connection errors, a reply body that is not the JSON the API promises
(a truncated transfer), HTTP 429 and every 5xx. Not retried: every other 4xx (a bad request,
a wrong key, an unknown model fail the same way every time, and retrying them costs money
or quota). The wait is exponential backoff with jitter, or the server's own `Retry-After`
(seconds or an HTTP date) / `retry-after-ms` (OpenAI's header) when it sends one, up to
`max_retry_after_s` (a server asking for a day's pause is not waited for).
"""

import email.utils
import json
import random
import time

import openai


class MalformedReplyError(Exception):
  """A 200 reply that is not a chat completion (no choices): retried like a cut transfer."""


# What a request can fail with that this policy classifies (anything else is a bug: raised).
REQUEST_ERRORS = (openai.OpenAIError, json.JSONDecodeError, MalformedReplyError)


def status_of(error: BaseException) -> int | None:
  """The HTTP status of a failed request, or None for failures without one."""
  return error.status_code if isinstance(error, openai.APIStatusError) else None


def is_retryable(error: BaseException) -> bool:
  """True for transient failures: timeouts, connection errors, bad bodies, 429 and 5xx."""
  if isinstance(error, (openai.APITimeoutError, openai.APIConnectionError,
                        openai.APIResponseValidationError, json.JSONDecodeError,
                        MalformedReplyError)):
    return True  # the openai client raises JSONDecodeError for a truncated 200 body
  status = status_of(error)
  return status is not None and (status == 429 or status >= 500)


def retry_after_s(error: BaseException, now: float | None = None) -> float | None:
  """The wait a 429/5xx reply asks for, in seconds, or None when it names none."""
  response = getattr(error, "response", None)
  headers = getattr(response, "headers", None)
  if headers is None:
    return None
  milliseconds = headers.get("retry-after-ms")
  if milliseconds is not None:
    try:
      return max(0.0, float(milliseconds) / 1000)
    except ValueError:
      pass
  value = headers.get("retry-after")
  if value is None:
    return None
  try:
    return max(0.0, float(value))
  except ValueError:
    pass
  try:
    date = email.utils.parsedate_to_datetime(value)
  except (TypeError, ValueError):
    return None
  return max(0.0, date.timestamp() - (time.time() if now is None else now))


def backoff_s(retry: int, initial_s: float, max_s: float, rng: random.Random) -> float:
  """The wait before retry number `retry` (0-based): half of `initial_s * 2**retry` plus
  a uniformly random share of the other half (jitter spreads clients that failed
  together), never more than `max_s`."""
  ceiling = min(max_s, initial_s * 2 ** retry)
  return ceiling / 2 + rng.uniform(0, ceiling / 2)


def wait_s(error: BaseException, retry: int, initial_s: float, max_s: float,
           max_retry_after_s: float, rng: random.Random) -> float:
  """How long to wait before retrying after `error`: the server's Retry-After when given
  (at most `max_retry_after_s`), else the jittered backoff (at most `max_s`)."""
  asked = retry_after_s(error)
  if asked is not None:
    return min(asked, max_retry_after_s)
  return backoff_s(retry, initial_s, max_s, rng)
