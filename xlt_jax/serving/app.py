"""The HTTP side: FastAPI routes for /v1/completions, /v1/chat/completions, /v1/models.

Streaming answers are server-sent events, `data: <chunk JSON>` per piece and
`data: [DONE]` last, as the OpenAI API and the `openai` client expect. Every refused
request gets the OpenAI error body with its status (400 malformed, 404 unknown model
or route, 500 when the model itself failed); one request's error never touches others.
`serve_in_thread` runs the app with uvicorn on a background thread (tests, notebooks).
"""

import json
import socket
import threading
import time
import traceback
from collections.abc import AsyncIterator

from xlt_jax.core.errors import UserInputError
from xlt_jax.serving import protocol
from xlt_jax.serving.protocol import ApiError
from xlt_jax.serving.service import ModelService


def _sse(payload) -> str:
  return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"


async def _completion_stream(service: ModelService, request: protocol.CompletionRequest,
                             choices: list[dict], usage: dict) -> AsyncIterator[str]:
  request_id = protocol.envelope("text_completion", service.name, [])["id"]
  for choice in choices:
    token_ids = choice.pop("token_ids")
    if request.echo or choice["logprobs"]:  # the prompt's text, or logprobs: sent whole
      pieces = [choice["text"]]
    else:
      pieces = list(service.text_pieces(token_ids, choice["text"])) or [""]
    for number, piece in enumerate(pieces):
      last = number == len(pieces) - 1
      yield _sse(protocol.envelope("text_completion", service.name, [{
          "index": choice["index"], "text": piece,
          "logprobs": choice["logprobs"] if number == 0 else None,
          "finish_reason": choice["finish_reason"] if last else None}], request_id=request_id))
  if request.stream_usage:
    yield _sse(protocol.envelope("text_completion", service.name, [], usage, request_id))
  yield _sse("[DONE]")


async def _chat_stream(service: ModelService, request: protocol.ChatRequest, choices: list[dict],
                       usage: dict) -> AsyncIterator[str]:
  request_id = protocol.envelope("chat.completion.chunk", service.name, [])["id"]

  def chunk(index, delta, finish_reason=None, chunk_usage=None):
    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return _sse(protocol.envelope("chat.completion.chunk", service.name, [choice], chunk_usage,
                                  request_id))

  for choice in choices:
    index, message = choice["index"], choice["message"]
    yield chunk(index, {"role": "assistant", "content": ""})
    for piece in service.text_pieces(choice["token_ids"], message["content"]):
      yield chunk(index, {"content": piece})
    yield chunk(index, {}, choice["finish_reason"])
  if request.stream_usage:
    yield _sse(protocol.envelope("chat.completion.chunk", service.name, [], usage, request_id))
  yield _sse("[DONE]")


def create_app(service: ModelService):
  """The FastAPI application serving `service` (its batcher starts with the app)."""
  import contextlib

  from fastapi import FastAPI, Request
  from fastapi.responses import JSONResponse, StreamingResponse
  from starlette.exceptions import HTTPException

  @contextlib.asynccontextmanager
  async def lifespan(_):
    service.batcher.start()
    yield
    await service.batcher.stop()

  app = FastAPI(title="xlt-jax", lifespan=lifespan)

  def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)

  @app.exception_handler(ApiError)
  async def api_error(_, error: ApiError):
    return error_response(error)

  @app.exception_handler(UserInputError)
  async def bad_input(_, error: UserInputError):  # e.g. the engine refusing a setting
    return error_response(ApiError(400, str(error)))

  @app.exception_handler(HTTPException)
  async def http_error(_, error: HTTPException):
    return error_response(ApiError(error.status_code, str(error.detail),
                                   error_type="not_found_error" if error.status_code == 404
                                   else "invalid_request_error"))

  @app.exception_handler(Exception)
  async def server_error(_, error: Exception):
    traceback.print_exception(error)
    return error_response(ApiError(500, f"the model failed on this request:"
                                   f" {type(error).__name__}: {error}", error_type="server_error"))

  async def read_json(request: Request):
    try:
      return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
      raise ApiError(400, f"the request body is not JSON: {error}") from error

  @app.get("/v1/models")
  async def models():
    return {"object": "list", "data": [{
        "id": service.name, "object": "model", "created": int(time.time()),
        "owned_by": "xlt-jax", "max_model_len": service.config.max_model_len}]}

  @app.post("/v1/completions")
  async def completions(request: Request):
    parsed = protocol.parse_completion(await read_json(request))
    service.check_model(parsed.model)
    choices, usage = await service.complete(parsed)
    if parsed.stream:
      return StreamingResponse(_completion_stream(service, parsed, choices, usage),
                               media_type="text/event-stream")
    for choice in choices:
      choice.pop("token_ids")
    return protocol.envelope("text_completion", service.name, choices, usage)

  @app.post("/v1/chat/completions")
  async def chat_completions(request: Request):
    parsed = protocol.parse_chat(await read_json(request), service.config.default_max_tokens)
    service.check_model(parsed.model)
    choices, usage = await service.chat(parsed)
    if parsed.stream:
      return StreamingResponse(_chat_stream(service, parsed, choices, usage),
                               media_type="text/event-stream")
    for choice in choices:
      choice.pop("token_ids")
    return protocol.envelope("chat.completion", service.name, choices, usage)

  return app


def free_port(host: str = "127.0.0.1") -> int:
  with socket.socket() as probe:
    probe.bind((host, 0))
    return probe.getsockname()[1]


class ServerThread:
  """uvicorn serving an app on a background thread; `url` is its /v1 base URL."""

  def __init__(self, app, host: str = "127.0.0.1", port: int | None = None):
    import uvicorn

    self.port = port or free_port(host)
    self.url = f"http://{host}:{self.port}/v1"
    self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port,
                                                 log_level="warning", lifespan="on"))
    self._thread = threading.Thread(target=self._server.run, daemon=True)

  def __enter__(self) -> "ServerThread":  # noqa: PYI034
    self._thread.start()
    deadline = time.monotonic() + 60
    while not self._server.started:
      if not self._thread.is_alive() or time.monotonic() > deadline:
        raise RuntimeError(f"the server on port {self.port} did not start")
      time.sleep(0.02)
    return self

  def __exit__(self, *_) -> None:
    self._server.should_exit = True
    self._thread.join(timeout=30)
