"""A loopback HTTP server that answers like OpenAI's `/v1/chat/completions`, for the tests.

It records every request it receives (`hits`), answers with `reply(body)` (the text of the
assistant message; by default an echo of the last user message), and can be told to
misbehave for the next requests, in order (`faults`):

- ("timeout", seconds): sleep that long before answering (longer than the client waits);
- ("status", code, headers): an error reply with OpenAI's error body and the given headers
  (429 with `Retry-After`, 500, 400, ...);
- ("truncated",): a 200 whose JSON body is cut in half (Content-Length matching the cut);
- ("drop",): close the connection without answering (a connection error for the client);
- ("content", text): a normal reply whose message is `text` (e.g. a judge verdict without
  `[[n]]`);
- ("hang",): never answer until `release` is set (a client killed while it waits).

Token counts in `usage` are whitespace words, so the tests can derive them by hand.
"""

import collections
import http.server
import json
import threading
import time
from collections.abc import Callable
from typing import Self


def words(text: str) -> int:
  return len(text.split())


def default_reply(body: dict) -> str:
  return "echo: " + body["messages"][-1]["content"]


class StubChatServer:
  """Call `start()`, point a client at `url`, call `stop()` (or use it as a context)."""

  def __init__(self, reply: Callable[[dict], str] = default_reply, delay_s: float = 0.0):
    self.reply = reply
    self.delay_s = delay_s  # every answer waits this long (to observe concurrency)
    self.faults = collections.deque()
    self.hits: list[dict] = []  # {"time", "body", "authorization"} per request received
    self.in_flight = 0
    self.max_in_flight = 0
    self.release = threading.Event()
    self.hung = threading.Event()  # set when a "hang" fault is reached
    self._lock = threading.Lock()
    self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
    self._server.daemon_threads = True
    self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

  @property
  def url(self) -> str:
    return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

  def start(self) -> "StubChatServer":
    self._thread.start()
    return self

  def stop(self) -> None:
    self.release.set()
    self._server.shutdown()
    self._server.server_close()

  def __enter__(self) -> Self:
    return self.start()

  def __exit__(self, *exc_info) -> None:
    self.stop()

  def prompts(self) -> list[str]:
    """The last user message of every request received, in order."""
    return [hit["body"]["messages"][-1]["content"] for hit in self.hits]

  def _answer(self, body: dict, authorization: str | None) -> tuple[int | None, dict, bytes]:
    with self._lock:
      self.hits.append({"time": time.monotonic(), "body": body,
                        "authorization": authorization})
      fault = self.faults.popleft() if self.faults else None
    if fault and fault[0] == "timeout":
      time.sleep(fault[1])
    if fault and fault[0] == "hang":
      self.hung.set()
      self.release.wait()
    if fault and fault[0] == "drop":
      return None, {}, b""
    if fault and fault[0] == "status":
      error = {"error": {"message": f"stub error {fault[1]}", "type": "stub", "code": fault[1]}}
      return fault[1], dict(fault[2] if len(fault) > 2 else {}), json.dumps(error).encode()
    if self.delay_s:
      time.sleep(self.delay_s)
    text = fault[1] if fault and fault[0] == "content" else self.reply(body)
    prompt_tokens = sum(words(message["content"]) for message in body["messages"])
    payload = {
        "id": f"chatcmpl-{len(self.hits)}", "object": "chat.completion", "created": 0,
        "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": words(text),
                  "total_tokens": prompt_tokens + words(text)}}
    data = json.dumps(payload).encode()
    if fault and fault[0] == "truncated":
      data = data[:len(data) // 2]
    return 200, {}, data

  def _handler_class(self):
    server = self

    class Handler(http.server.BaseHTTPRequestHandler):
      protocol_version = "HTTP/1.1"

      def log_message(self, *args) -> None:  # keep pytest output clean
        pass

      def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        with server._lock:
          server.in_flight += 1
          server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
          status, headers, data = server._answer(body, self.headers.get("Authorization"))
        finally:
          with server._lock:
            server.in_flight -= 1
        if status is None:  # "drop": hang up without a word
          self.close_connection = True
          return
        try:
          self.send_response(status)
          self.send_header("Content-Type", "application/json")
          self.send_header("Content-Length", str(len(data)))
          for name, value in headers.items():
            self.send_header(name, value)
          self.end_headers()
          self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
          pass  # the client gave up (a timeout): nothing to answer

    return Handler
