"""The chat client against a real HTTP server on loopback (tests/openai_stub_server.py):
retries, Retry-After, no retry on 400, the cache across reruns and a killed run, damaged
entries, limits, counts, and an API key that reaches the server but no file."""

import email.utils
import io
import itertools
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO_ROOT
from openai_stub_server import StubChatServer

from xlt_jax.core.errors import UserInputError
from xlt_jax.services import retry_policy
from xlt_jax.services.chat_client import ChatClient, ChatRequest, ChatServiceError
from xlt_jax.services.config import ChatServiceConfig


@pytest.fixture
def server():
  with StubChatServer() as running:
    yield running


def config(server: StubChatServer, **overrides) -> ChatServiceConfig:
  fields = {"base_url": server.url, "model": "judge-model", "api_key_env": "", "timeout_s": 5.0,
            "initial_backoff_s": 0.01, "max_backoff_s": 2.0}
  return ChatServiceConfig(**{**fields, **overrides})


def ask(text: str, version: str = "v1", **params) -> ChatRequest:
  return ChatRequest([{"role": "user", "content": text}], {"temperature": 0, **params}, version)


def test_transient_failures_are_retried_and_counted(server):
  server.faults.extend([("timeout", 1.0), ("drop",), ("status", 500), ("truncated",),
                        ("status", 503, {"Retry-After": "0"}), ("status", 429)])
  client = ChatClient(config(server, timeout_s=0.4), "unused", seed=0)
  reply = client.complete(ask("two words"))
  assert reply.content == "echo: two words" and not reply.cached
  assert len(server.hits) == 7
  usage = client.usage()
  # Tokens are the server's whitespace words: prompt "two words" = 2, reply = 3.
  assert (usage.requests, usage.retries, usage.replies, usage.failures) == (7, 6, 1, 0)
  assert (usage.prompt_tokens, usage.completion_tokens) == (2, 3)


def test_retry_after_is_honoured(server):
  server.faults.append(("status", 429, {"Retry-After": "1"}))
  client = ChatClient(config(server), "unused")
  client.complete(ask("wait for me"))
  first, second = (hit["time"] for hit in server.hits)
  assert second - first >= 0.95  # the backoff alone would be about 0.01 s


def test_a_400_is_not_retried_and_not_cached(server, tmp_path):
  server.faults.append(("status", 400))
  client = ChatClient(config(server, cache_dir=str(tmp_path)), "unused")
  with pytest.raises(ChatServiceError) as raised:
    client.complete(ask("bad request"))
  assert raised.value.status == 400 and "not retryable" in str(raised.value)
  assert len(server.hits) == 1
  assert (client.usage().requests, client.usage().failures) == (1, 1)
  assert client.complete(ask("bad request")).content == "echo: bad request"  # asked again
  assert len(server.hits) == 2


def test_retries_run_out(server):
  server.faults.extend([("status", 500)] * 3)
  client = ChatClient(config(server, max_retries=2), "unused")
  with pytest.raises(ChatServiceError, match="gave up after 2 retries"):
    client.complete(ask("never"))
  assert len(server.hits) == 3


def test_a_rerun_is_served_from_the_cache(server, tmp_path):
  requests = [ask(f"question {i}") for i in range(6)]
  first = ChatClient(config(server, cache_dir=str(tmp_path), max_concurrency=3), "unused")
  replies = first.complete_many(requests)
  assert [reply.content for reply in replies] == [f"echo: question {i}" for i in range(6)]
  assert len(server.hits) == 6

  again = ChatClient(config(server, cache_dir=str(tmp_path)), "unused")
  assert [reply.content for reply in again.complete_many(requests)] == [
      reply.content for reply in replies]
  assert all(reply.cached for reply in again.complete_many(requests[:1]))
  assert len(server.hits) == 6
  usage = again.usage()
  assert (usage.cache_hits, usage.requests, usage.prompt_tokens) == (7, 0, 0)
  # Anything in the key that changes makes a new request: prompt version, parameters,
  # attempt, model, base URL.
  again.complete(ask("question 0", version="v2"))
  again.complete(ask("question 0", max_tokens=5))
  again.complete(ChatRequest(requests[0].messages, requests[0].params, "v1", attempt=1))
  ChatClient(config(server, cache_dir=str(tmp_path), model="other"), "unused").complete(
      requests[0])
  assert len(server.hits) == 10


def test_a_damaged_cache_entry_is_redone(server, tmp_path):
  client = ChatClient(config(server, cache_dir=str(tmp_path)), "unused")
  client.complete(ask("kept"))
  client.complete(ask("cut"))
  client.complete(ask("edited"))
  entries = {json.loads(path.read_text())["reply"]["content"]: path
             for path in tmp_path.rglob("*.json")}
  cut = entries["echo: cut"]
  cut.write_text(cut.read_text()[:40])
  edited = entries["echo: edited"]
  entry = json.loads(edited.read_text())
  entry["reply"]["content"] = "echo: something else"
  edited.write_text(json.dumps(entry))

  again = ChatClient(config(server, cache_dir=str(tmp_path)), "unused")
  assert [again.complete(ask(text)).content for text in ("kept", "cut", "edited")] == [
      "echo: kept", "echo: cut", "echo: edited"]
  assert server.prompts()[3:] == ["cut", "edited"]
  assert (again.usage().cache_hits, again.usage().cache_damaged) == (1, 2)
  # Redone entries are whole again.
  third = ChatClient(config(server, cache_dir=str(tmp_path)), "unused")
  third.complete_many([ask(text) for text in ("kept", "cut", "edited")])
  assert (len(server.hits), third.usage().cache_hits) == (5, 3)


_CHILD = """
import sys
from xlt_jax.services.chat_client import ChatClient, ChatRequest
from xlt_jax.services.config import ChatServiceConfig
config = ChatServiceConfig(base_url=sys.argv[1], model="judge-model", api_key_env="",
                           cache_dir=sys.argv[2], max_concurrency=1)
client = ChatClient(config, "unused")
client.complete_many([ChatRequest([{"role": "user", "content": f"item {i}"}], {}, "v1")
                      for i in range(6)])
"""


def test_a_killed_run_resumes_without_repeating_a_request(server, tmp_path):
  # The first run is killed (SIGKILL) while it waits for the reply to its 4th request.
  server.faults.extend([("none",)] * 3 + [("hang",)])
  child = subprocess.Popen([sys.executable, "-c", _CHILD, server.url, str(tmp_path)],
                           env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
  try:
    assert server.hung.wait(60), "the first run never reached its 4th request"
  finally:
    child.send_signal(signal.SIGKILL)
    child.wait()
  server.release.set()
  assert server.prompts() == ["item 0", "item 1", "item 2", "item 3"]

  client = ChatClient(config(server, cache_dir=str(tmp_path), max_concurrency=1), "unused")
  replies = client.complete_many(
      [ChatRequest([{"role": "user", "content": f"item {i}"}], {}, "v1") for i in range(6)])
  assert [reply.content for reply in replies] == [f"echo: item {i}" for i in range(6)]
  # Only the request that never got its reply, and those never sent, are asked.
  assert server.prompts()[4:] == ["item 3", "item 4", "item 5"]
  assert (client.usage().cache_hits, client.usage().requests) == (3, 3)


def test_concurrency_limit(tmp_path):
  with StubChatServer(delay_s=0.2) as server:
    client = ChatClient(config(server, max_concurrency=3), "unused")
    client.complete_many([ask(f"q{i}") for i in range(9)])
    assert (len(server.hits), server.max_in_flight) == (9, 3)


def test_requests_per_minute_limit(server):
  client = ChatClient(config(server, max_concurrency=4, requests_per_minute=600), "unused")
  client.complete_many([ask(f"q{i}") for i in range(5)])
  times = sorted(hit["time"] for hit in server.hits)
  gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
  # 600 per minute: one start every 0.1 s (arrival times at the server jitter a little).
  assert times[-1] - times[0] >= 0.38 and min(gaps) >= 0.06, gaps


def test_cost_and_the_usage_line(server, tmp_path):
  prices = {"judge-model": (2.5, 10.0)}  # USD per million input / output tokens
  report = io.StringIO()
  with ChatClient(config(server, cache_dir=str(tmp_path), prices_per_million_tokens=prices),
                  "unused", report_to=report) as client:
    client.complete(ask("one two three"))  # 3 prompt tokens, "echo: one two three" 4
    client.complete(ask("one two three"))  # a cache hit costs nothing
  usage = client.usage()
  assert usage.cost_usd == pytest.approx((3 * 2.5 + 4 * 10.0) / 1e6)
  assert report.getvalue() == (
      "chat service usage: judge-model: 1 requests (0 retries, 0 failed), 1 replies, "
      "1 cache hits, 3 prompt + 4 completion tokens, estimated cost $0.0000\n")


def test_the_api_key_comes_from_the_environment_and_is_written_nowhere(server, tmp_path):
  secret = "sk-test-" + os.urandom(8).hex()
  service = config(server, api_key_env="XLT_TEST_JUDGE_KEY", cache_dir=str(tmp_path / "cache"))
  with pytest.raises(UserInputError, match="XLT_TEST_JUDGE_KEY.*ChatServiceConfig.api_key_env"):
    ChatClient.from_environment(service, environ={})
  report = io.StringIO()
  with ChatClient.from_environment(service, environ={"XLT_TEST_JUDGE_KEY": secret},
                                   report_to=report) as client:
    client.complete(ask("secret?"))
    server.faults.append(("status", 401))
    with pytest.raises(ChatServiceError) as raised:
      client.complete(ask("denied"))
  (tmp_path / "usage.json").write_text(json.dumps(client.usage().as_dict()))
  assert server.hits[0]["authorization"] == f"Bearer {secret}"  # it was really used
  files = [path for path in tmp_path.rglob("*") if path.is_file()]
  assert len(files) == 2
  for text in [path.read_text() for path in files] + [report.getvalue(), str(raised.value)]:
    assert secret not in text


def test_backoff_and_retry_after_parsing():
  rng = random.Random(0)
  waits = [retry_policy.backoff_s(retry, 1.0, 60.0, rng) for retry in range(8)]
  for retry, wait in enumerate(waits):
    ceiling = min(60.0, 2.0 ** retry)
    assert ceiling / 2 <= wait <= ceiling

  class Error:
    def __init__(self, headers):
      self.response = type("Response", (), {"headers": headers})()

  assert retry_policy.retry_after_s(Error({"retry-after": "7"})) == 7.0
  assert retry_policy.retry_after_s(Error({"retry-after-ms": "250", "retry-after": "7"})) == 0.25
  now = time.time()
  date = email.utils.formatdate(now + 30, usegmt=True)
  assert retry_policy.retry_after_s(Error({"retry-after": date}), now=now) == pytest.approx(
      30, abs=1)
  assert retry_policy.retry_after_s(Error({})) is None
  assert retry_policy.wait_s(Error({"retry-after": "120"}), 0, 1.0, 60.0, 600.0, rng) == 120.0
  assert retry_policy.wait_s(Error({"retry-after": "86400"}), 0, 1.0, 60.0, 600.0, rng) == 600.0
  assert retry_policy.wait_s(Error({}), 0, 1.0, 60.0, 600.0, rng) <= 1.0


def test_bad_service_config():
  with pytest.raises(UserInputError, match="ChatServiceConfig: max_concurrency must be at least 1"):
    ChatServiceConfig(max_concurrency=0)
  with pytest.raises(UserInputError, match="requests_per_minute must be positive"):
    ChatServiceConfig(requests_per_minute=0)


def test_the_services_package_needs_no_jax():
  # Judges run in processes that never train: importing the client must not load JAX.
  code = ("import sys, xlt_jax.services.chat_client; "
          "assert 'jax' not in sys.modules, 'jax imported'")
  subprocess.run([sys.executable, "-c", code], check=True,
                 env={**os.environ, "PYTHONPATH": str(pathlib.Path(REPO_ROOT))})
