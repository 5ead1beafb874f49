"""The OpenAI API's request and response shapes, as this server reads and writes them.

Requests are validated here into plain dataclasses; anything wrong is an `ApiError`
with the status and the `{"error": {"message", "type", "param", "code"}}` body the
OpenAI API answers with (400 for a malformed request, 404 for an unknown model).
Fields follow the OpenAI reference (`/v1/completions`, `/v1/chat/completions`) and
vLLM's extensions (`top_k`); a prompt may be a string, a list of strings, a list of
token ids or a list of such lists, as lm-evaluation-harness's `local-completions`
sends token ids (lm_eval/models/api_models.py, `TemplateAPI`, `tokenized_requests=True`).
Fields the API has but this server does not implement (`best_of` > 1, `suffix`,
`logit_bias`, tools, chat `logprobs`) are refused by name rather than ignored.
"""

import dataclasses
import secrets
import time
import uuid
from typing import Any

# OpenAI's defaults where a field is left out.
DEFAULT_COMPLETION_MAX_TOKENS = 16
MAX_LOGPROBS = 20  # vLLM's cap on `logprobs` / `top_logprobs`
MAX_N = 64


class ApiError(Exception):
  """A request the server refuses, with its HTTP status and OpenAI error body."""

  def __init__(self, status: int, message: str, param: str | None = None,
               error_type: str = "invalid_request_error", code: str | None = None):
    super().__init__(message)
    self.status, self.message, self.param = status, message, param
    self.error_type, self.code = error_type, code

  def body(self) -> dict:
    return {"error": {"message": self.message, "type": self.error_type, "param": self.param,
                      "code": self.code}}


@dataclasses.dataclass(frozen=True)
class Sampling:
  """The sampling fields common to both endpoints (engine.SamplingParams' meaning)."""

  max_tokens: int
  temperature: float
  top_p: float
  top_k: int  # 0: off
  frequency_penalty: float
  presence_penalty: float
  stop: tuple[str, ...]
  n: int
  seed: int


@dataclasses.dataclass(frozen=True)
class CompletionRequest:
  model: str | None
  prompts: list[str | list[int]]  # each a text or token ids
  sampling: Sampling
  stream: bool
  stream_usage: bool  # stream_options.include_usage: a last chunk with the usage
  echo: bool
  logprobs: int | None  # alternatives per token; None: no logprobs


@dataclasses.dataclass(frozen=True)
class ChatRequest:
  model: str | None
  messages: list[dict]  # {"role", "content": str}
  sampling: Sampling
  stream: bool
  stream_usage: bool


def _number(body: dict, name: str, default, low: float, high: float, integer: bool = False):
  value = body.get(name)
  if value is None:
    return default
  kinds = (int,) if integer else (int, float)
  if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
    kind = "an integer" if integer else "a number"
    raise ApiError(400, f"{name} must be {kind} in [{low}, {high}], not {value!r}", name)
  return value


def _refuse_unsupported(body: dict, names: dict[str, Any]) -> None:
  for name, harmless in names.items():
    if name in body and body[name] not in harmless:
      raise ApiError(400, f"{name} is not supported by this server", name)


def _sampling(body: dict, default_max_tokens: int) -> Sampling:
  stop = body.get("stop")
  if stop is None:
    stop = ()
  elif isinstance(stop, str):
    stop = (stop,)
  elif isinstance(stop, list) and all(isinstance(item, str) and item for item in stop):
    stop = tuple(stop)
  else:
    raise ApiError(400, f"stop must be a string or a list of non-empty strings, not {stop!r}",
                   "stop")
  top_k = _number(body, "top_k", 0, -1, 1 << 30, integer=True)
  temperature = float(_number(body, "temperature", 1.0, 0.0, 2.0))
  seed = _number(body, "seed", None, -(1 << 63), (1 << 64) - 1, integer=True)
  if seed is None:  # as the OpenAI API: a request without a seed samples afresh
    seed = 0 if temperature == 0 else secrets.randbits(31)
  return Sampling(
      max_tokens=_number(body, "max_tokens", default_max_tokens, 0, 1 << 20, integer=True),
      temperature=temperature,
      top_p=float(_number(body, "top_p", 1.0, 1e-9, 1.0)),
      top_k=max(top_k, 0),  # vLLM spells "off" -1, the engine 0
      frequency_penalty=float(_number(body, "frequency_penalty", 0.0, -2.0, 2.0)),
      presence_penalty=float(_number(body, "presence_penalty", 0.0, -2.0, 2.0)),
      stop=stop, n=_number(body, "n", 1, 1, MAX_N, integer=True), seed=int(seed) % (1 << 31))


def _stream_usage(body: dict) -> bool:
  options = body.get("stream_options") or {}
  if not isinstance(options, dict):
    raise ApiError(400, f"stream_options must be an object, not {options!r}", "stream_options")
  return bool(options.get("include_usage", False))


def _model(body: dict) -> str | None:
  model = body.get("model")
  if model is not None and not isinstance(model, str):
    raise ApiError(400, f"model must be a string, not {model!r}", "model")
  return model


def _prompts(prompt) -> list[str | list[int]]:
  def is_ids(value):
    return isinstance(value, list) and value and all(
        isinstance(item, int) and not isinstance(item, bool) for item in value)

  if isinstance(prompt, str):
    return [prompt]
  if is_ids(prompt):
    return [prompt]
  if isinstance(prompt, list) and prompt and all(isinstance(p, str) or is_ids(p) for p in prompt):
    return list(prompt)
  raise ApiError(400, "prompt must be a string, a list of strings, a list of token ids or a"
                 " list of lists of token ids, none of them empty", "prompt")


def parse_completion(body: Any) -> CompletionRequest:
  """A /v1/completions body, checked (ApiError 400 naming the first bad field)."""
  if not isinstance(body, dict):
    raise ApiError(400, "the request body must be a JSON object")
  _refuse_unsupported(body, {"best_of": (None, 1), "suffix": (None, ""), "logit_bias": (None, {})})
  echo = body.get("echo", False)
  logprobs = _number(body, "logprobs", None, 0, MAX_LOGPROBS, integer=True)
  sampling = _sampling(body, DEFAULT_COMPLETION_MAX_TOKENS)
  if sampling.max_tokens == 0 and not echo:
    raise ApiError(400, "max_tokens may be 0 only with echo (scoring the prompt)", "max_tokens")
  return CompletionRequest(model=_model(body), prompts=_prompts(body.get("prompt")),
                           sampling=sampling, stream=bool(body.get("stream", False)),
                           stream_usage=_stream_usage(body), echo=bool(echo), logprobs=logprobs)


def _message(message: Any, index: int) -> dict:
  if not isinstance(message, dict) or not isinstance(message.get("role"), str):
    raise ApiError(400, f"messages[{index}] must be an object with a role", "messages")
  content = message.get("content")
  if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
    if not all(isinstance(part, dict) and part.get("type") == "text" for part in content):
      raise ApiError(400, f"messages[{index}]: only text content parts are supported",
                     "messages")
    content = "".join(str(part.get("text", "")) for part in content)
  if not isinstance(content, str):
    raise ApiError(400, f"messages[{index}] has no text content", "messages")
  return {"role": message["role"], "content": content}


def parse_chat(body: Any, default_max_tokens: int) -> ChatRequest:
  """A /v1/chat/completions body, checked (ApiError 400 naming the first bad field)."""
  if not isinstance(body, dict):
    raise ApiError(400, "the request body must be a JSON object")
  _refuse_unsupported(body, {"logprobs": (None, False), "top_logprobs": (None, 0),
                             "tools": (None, []), "logit_bias": (None, {})})
  messages = body.get("messages")
  if not isinstance(messages, list) or not messages:
    raise ApiError(400, "messages must be a non-empty list", "messages")
  body = {**body, "max_tokens": body.get("max_completion_tokens", body.get("max_tokens"))}
  return ChatRequest(model=_model(body),
                     messages=[_message(message, i) for i, message in enumerate(messages)],
                     sampling=_sampling(body, default_max_tokens),
                     stream=bool(body.get("stream", False)), stream_usage=_stream_usage(body))


def envelope(kind: str, model: str, choices: list[dict], usage: dict | None = None,
             request_id: str | None = None) -> dict:
  """A response or stream chunk: kind is "text_completion", "chat.completion" or
  "chat.completion.chunk"."""
  prefix = "cmpl" if kind == "text_completion" else "chatcmpl"
  response = {"id": request_id or f"{prefix}-{uuid.uuid4().hex}", "object": kind,
              "created": int(time.time()), "model": model, "choices": choices}
  if usage is not None:
    response["usage"] = usage
  return response


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
  return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
          "total_tokens": prompt_tokens + completion_tokens}
