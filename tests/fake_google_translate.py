"""A loopback stand-in for Google Cloud Translation v2's `translate` method, for the tests.

It answers `POST <url>?key=KEY` with a JSON body {"q": [...], "source", "target", "format"}
as Google documents it (https://cloud.google.com/translate/docs/basic/translating-text):
{"data": {"translations": [{"translatedText": ...}, ...]}}, one per `q`. The translation is
`translate(text, source, target)` (the test's own dictionary). It records every request
(`hits`: the parsed body and the `key` query parameter), answers 403 to a wrong key (as
Google answers an invalid API key), and can be told to fail the next requests (`faults`:
HTTP status codes, with an optional Retry-After header value).
"""

import collections
import http.server
import json
import threading
import urllib.parse
from collections.abc import Callable
from typing import Self


class FakeGoogleTranslate:
  def __init__(self, translate: Callable[[str, str, str], str], key: str = "test-key"):
    self.translate = translate
    self.key = key
    self.hits: list[dict] = []
    self.faults = collections.deque()  # (status, retry_after or None)
    self._lock = threading.Lock()
    self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
    self._server.daemon_threads = True
    self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

  @property
  def url(self) -> str:
    return f"http://127.0.0.1:{self._server.server_address[1]}/language/translate/v2"

  def __enter__(self) -> Self:
    self._thread.start()
    return self

  def __exit__(self, *exc_info) -> None:
    self._server.shutdown()
    self._server.server_close()

  def _answer(self, path: str, body: dict) -> tuple[int, dict, bytes]:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    with self._lock:
      self.hits.append({"body": body, "key": query.get("key", [None])[0]})
      fault = self.faults.popleft() if self.faults else None
    if fault:
      headers = {"Retry-After": fault[1]} if fault[1] is not None else {}
      return fault[0], headers, json.dumps({"error": {"code": fault[0]}}).encode()
    if query.get("key") != [self.key]:
      return 403, {}, json.dumps({"error": {"code": 403, "message": "API key not valid."}}).encode()
    if body.get("format") != "text" or not isinstance(body.get("q"), list):
      return 400, {}, json.dumps({"error": {"code": 400, "message": "bad request"}}).encode()
    translations = [{"translatedText": self.translate(text, body["source"], body["target"])}
                    for text in body["q"]]
    return 200, {}, json.dumps({"data": {"translations": translations}}).encode()

  def _handler(self):
    fake = self

    class Handler(http.server.BaseHTTPRequestHandler):
      protocol_version = "HTTP/1.1"

      def log_message(self, *args) -> None:
        pass

      def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        status, headers, data = fake._answer(self.path, body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
          self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    return Handler
