"""Translation engines behind one interface, with protected spans masked and checked.

Two engines:

- `chat`: any OpenAI-compatible chat model (GPT-4o, Cohere's compatibility endpoint, a
  local vLLM, `python -m xlt_jax.serve`) through `xlt_jax.services.ChatClient`, with one of
  two versioned prompts (`PROMPTS`):
  - `p2-figure6-v1` (default): P2's Command R prompt (Chen et al., Figure 6, verbatim in
    papers.md; its line breaks there are the figure's wrapping), one user message;
  - `p3-gpt35-v1`: P3's GPT-3.5-Turbo prompt, as its release sends it
    (github.com/ZurichNLP/multilingual-instruction-tuning, translate_with_gpt.py: system
    "You are a helpful assistant.", the user message verbatim, trailing spaces included,
    the text in double quotes; seed 42, max_tokens 2048). Its model wraps the translation
    in the quotes it was shown (P3's AlpacaEval files keep them; tasks/formats/
    alpaca_eval.py explains), so one wrapping pair is removed when the source had none.
  Greedy (temperature 0), so a rerun asks the same request and hits the cache.
- `google`: Google Cloud Translation v2 (`xlt_jax.services.google_translate`), as P0 (MGSM
  pt/ko/ar), P1 and P2 used.

`translate_texts` masks protected spans (`masking`), translates, restores, and re-asks a
chat model once (a new cache entry, `attempt` 1) when a marker did not survive; a text that
still loses one, or whose request failed for good, is reported in `TranslationFailed`
after every other text is done (and cached), so a rerun asks only for those.
"""

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from xlt_jax.core.errors import UserInputError
from xlt_jax.core.languages import LANGUAGES
from xlt_jax.data import masking
from xlt_jax.services.chat_client import ChatClient, ChatRequest, ChatServiceError
from xlt_jax.services.google_translate import GoogleTranslator

PROMPT_VERSION = "p2-figure6-v1"
# Chen et al. (P2), Figure 6: the prompt given to Cohere Command R.
FIGURE_6_PROMPT = ("Please translate from {source_lang} to {target_lang}. Do your best to"
                   " preserve the formatting. The following content should and should only"
                   " be translated.\n\n{text}")
P3_PROMPT_VERSION = "p3-gpt35-v1"
# Kew et al. (P3), translate_with_gpt.py's system and user messages.
P3_SYSTEM = "You are a helpful assistant."
P3_USER = ("Translate the following text into {target_lang}. \n"
           "Keep the structure of the original text and preserve things like code and names. \n"
           "Please ensure that your response contains only the translated text. \n"
           "The translation must convey the same meaning as the original and be natural for"
           " native speakers with correct grammar and proper word choices. \n"
           "Your translation must also use exact terminology to provide accurate information"
           " even for the experts in the related fields.\n\n"
           "Original: \"{text}\"\n\nTranslation into {target_lang}:")


@dataclasses.dataclass(frozen=True)
class ChatPrompt:
  """A versioned translation prompt: an optional system message, the user message, and the
  sampling parameters it was used with."""
  system: str | None
  user: str  # str.format fields: source_lang, target_lang, text
  params: tuple[tuple[str, object], ...]
  unquote: bool  # remove one pair of wrapping double quotes the source did not have


PROMPTS = {
    PROMPT_VERSION: ChatPrompt(None, FIGURE_6_PROMPT, (("temperature", 0),), False),
    P3_PROMPT_VERSION: ChatPrompt(P3_SYSTEM, P3_USER, (("temperature", 0.0), ("seed", 42),
                                                       ("max_tokens", 2048)), True),
}
ENGINES = ("chat", "google")


class TranslationFailed(Exception):
  """Some texts could not be translated; `failures` maps their index to why."""

  def __init__(self, failures: dict[int, str]):
    first = next(iter(failures.items()))
    super().__init__(f"{len(failures)} texts were not translated (first: text {first[0]}:"
                     f" {first[1]})")
    self.failures = failures


@dataclasses.dataclass(frozen=True)
class Provenance:
  """Who translated: written into every translated record."""
  engine: str
  model: str
  prompt_version: str | None
  date: str  # ISO date of the run that wrote the file

  def as_dict(self) -> dict:
    return dataclasses.asdict(self)


class Engine(Protocol):
  name: str
  model: str
  prompt_version: str | None
  reasks: bool  # whether asking again can give another answer

  def translate_many(self, texts: Sequence[str], source: str, target: str,
                     attempt: int) -> list[str | Exception]: ...


def language_name(code: str) -> str:
  return LANGUAGES[code][0] if code in LANGUAGES else code


class ChatEngine:
  """A versioned prompt (`PROMPTS`) to any OpenAI-compatible chat model."""
  name = "chat"
  reasks = True

  def __init__(self, client: ChatClient, max_tokens: int | None = None,
               prompt_version: str = PROMPT_VERSION):
    if prompt_version not in PROMPTS:
      raise UserInputError(f"unknown translation prompt {prompt_version!r}; known:"
                           f" {', '.join(PROMPTS)}")
    self.client = client
    self.model = client.config.model
    self.prompt_version = prompt_version
    self._prompt = PROMPTS[prompt_version]
    self._params = {**dict(self._prompt.params),
                    **({"max_tokens": max_tokens} if max_tokens else {})}

  def request(self, text: str, source: str, target: str, attempt: int = 0) -> ChatRequest:
    user = self._prompt.user.format(source_lang=language_name(source),
                                    target_lang=language_name(target), text=text)
    system = [{"role": "system", "content": self._prompt.system}] if self._prompt.system else []
    return ChatRequest([*system, {"role": "user", "content": user}], self._params,
                       self.prompt_version, attempt)

  def _clean(self, reply: str, text: str) -> str:
    reply = reply.strip()
    quoted = len(reply) >= 2 and reply[0] == reply[-1] == '"'
    if self._prompt.unquote and quoted and not text.strip().startswith('"'):
      return reply[1:-1].strip()
    return reply

  def translate_many(self, texts: Sequence[str], source: str, target: str,
                     attempt: int) -> list[str | Exception]:
    replies = self.client.complete_many([self.request(text, source, target, attempt)
                                         for text in texts])
    return [reply if isinstance(reply, ChatServiceError) else self._clean(reply.content, text)
            for reply, text in zip(replies, texts)]


class GoogleEngine:
  """Google Cloud Translation v2 (deterministic: asking again gives the same answer)."""
  name = "google"
  reasks = False
  prompt_version = None

  def __init__(self, translator: GoogleTranslator):
    self.translator = translator
    self.model = "google-translate-v2"

  def translate_many(self, texts: Sequence[str], source: str, target: str,
                     attempt: int) -> list[str | Exception]:
    del attempt
    return list(self.translator.translate_many(texts, source, target))


def translate_texts(engine: Engine, texts: Sequence[str], source: str,
                    target: str) -> list[str]:
  """Each of `texts` in `target`, protected spans intact; empty texts stay empty.

  Raises:
    TranslationFailed: after all others are done, naming each text that failed.
  """
  masked = [masking.mask(text) for text in texts]
  results: list[str | None] = [text if not text.strip() else None for text in texts]
  failures: dict[int, str] = {}
  attempts = (0, 1) if engine.reasks else (0,)
  for attempt in attempts:
    todo = [i for i, result in enumerate(results) if result is None]
    if not todo:
      break
    replies = engine.translate_many([masked[i].text for i in todo], source, target, attempt)
    for i, reply in zip(todo, replies):
      if isinstance(reply, Exception):
        failures[i] = str(reply)
        results[i] = ""  # a failed request is not re-asked in this run
        continue
      try:
        results[i] = masking.restore(reply, masked[i])
        failures.pop(i, None)
      except masking.MaskLost as error:
        failures[i] = str(error)
  if failures:
    raise TranslationFailed(dict(sorted(failures.items())))
  return [result or "" for result in results]
