"""The `translate` and `complete` subcommands of `python -m xlt_jax.data`: flags -> configs.

    python -m xlt_jax.data translate DATASET --to=es,fr --engine=chat|google
        --out=DATA_DIR/variants/<variant>/ [--from=en] [--round_trip] [--data_dir=DATA_DIR]
    python -m xlt_jax.data complete sharegpt --model=NAME --base_url=URL --split=train
        --languages=en,es --data_dir=DATA_DIR

Bad input (an unknown engine, dataset or language, a missing API key) is a UserInputError,
which the binary prints as one `error:` line, exit 2. Requests that failed for good after
retries print one `error:` line too, exit 1 (their replies are not cached; a rerun asks
again and repeats nothing that was answered). The usage line of the service is printed at
the end of every run (standard error).
"""

import argparse
import os
import sys
from collections.abc import Mapping

from tasks.formats import sharegpt as sharegpt_format
from xlt_jax.core.errors import UserInputError
from xlt_jax.core.languages import check_language
from xlt_jax.data import completions, translate, translators
from xlt_jax.services import google_translate
from xlt_jax.services.chat_client import ChatClient
from xlt_jax.services.config import DEFAULT_API_KEY_ENV, ChatServiceConfig

TRANSLATE_EXAMPLE = ("example: python -m xlt_jax.data translate aya_dataset --to=es,ru,zh"
                     " --engine=google --out=/data/xlt/variants/translated_google\n"
                     "example: python -m xlt_jax.data translate guanaco --to=es --engine=chat"
                     " --model=gpt-4o --out=/data/xlt/variants/translated  (key in"
                     " OPENAI_API_KEY)")
COMPLETE_EXAMPLE = ("example: python -m xlt_jax.data complete sharegpt --model=command-r-plus"
                    " --base_url=https://api.cohere.ai/compatibility/v1"
                    " --api_key_env=COHERE_API_KEY --languages=en,es --data_dir=/data/xlt")


def add_parsers(commands) -> None:
  """Adds `translate` and `complete` to the binary's subcommands."""
  command = commands.add_parser("translate", help="write a translated copy of a dataset",
                                epilog=TRANSLATE_EXAMPLE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
  command.add_argument("dataset", help=f"one of {', '.join(translate.DATASETS)}")
  command.add_argument("--to", required=True, help="comma-separated target language codes")
  command.add_argument("--engine", required=True,
                       help=f"{' or '.join(translators.ENGINES)} (an OpenAI-compatible chat"
                            " model with P2's Figure 6 prompt, or Google Cloud Translation v2)")
  command.add_argument("--out", required=True, help="DATA_DIR/variants/<variant>/")
  command.add_argument("--from", dest="source", default="en",
                       help="source language (the pivot with --round_trip)")
  command.add_argument("--round_trip", action="store_true",
                       help="each target's native rows into --from and back (P2's RTT)")
  command.add_argument("--data_dir", help="where the base dataset is (default: the DATA_DIR"
                       " of --out=DATA_DIR/variants/<variant>)")
  command.add_argument("--split", help="aya_dataset, guanaco: the split (default train)")
  command.add_argument("--limit", type=int, help="translate only the first N source rows")
  command.add_argument("--prompt_version", default=translators.PROMPT_VERSION,
                       help=f"chat engine: {' or '.join(translators.PROMPTS)} (P2's Figure 6,"
                            " P3's GPT-3.5-Turbo prompt)")
  _service_flags(command, default_model="gpt-4o", default_url=None)
  command = commands.add_parser("complete", help="generate ShareGPT's assistant turns",
                                epilog=COMPLETE_EXAMPLE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
  command.add_argument("dataset", choices=["sharegpt"])
  command.add_argument("--data_dir", required=True, help="DATA_DIR")
  command.add_argument("--split", default="train")
  command.add_argument("--languages", required=True, help="comma-separated codes")
  command.add_argument("--temperature", type=float, default=0.0)
  _service_flags(command, default_model=None, default_url="https://api.openai.com/v1")


def _service_flags(command: argparse.ArgumentParser, default_model: str | None,
                   default_url: str | None) -> None:
  command.add_argument("--model", default=default_model, required=default_model is None,
                       help="chat model name (chat engine)")
  command.add_argument("--base_url", default=default_url,
                       help="OpenAI-compatible base URL (e.g. http://localhost:8000/v1), or the"
                            f" Google endpoint (default {google_translate.DEFAULT_URL})")
  command.add_argument("--api_key_env", default=None,
                       help=f"environment variable holding the key (default {DEFAULT_API_KEY_ENV},"
                            f" {google_translate.DEFAULT_API_KEY_ENV} for google; '' for none)")
  command.add_argument("--cache_dir", help="reply cache (default DATA_DIR/.cache/<command>)")
  command.add_argument("--max_concurrency", type=int, default=8)
  command.add_argument("--max_tokens", type=int, default=None)


def _languages(value: str, what: str) -> tuple[str, ...]:
  codes = tuple(code.strip() for code in value.split(",") if code.strip())
  if not codes:
    raise UserInputError(f"{what} names no language")
  return tuple(check_language(code, what=what) for code in codes)


def _data_dir_of(out: str) -> str:
  variants_dir = os.path.dirname(os.path.normpath(out))
  if os.path.basename(variants_dir) != "variants":
    raise UserInputError(f"--out {out} is not DATA_DIR/variants/<variant>: pass --data_dir")
  return os.path.dirname(variants_dir)


def _chat_client(arguments, cache_dir: str, environ: Mapping[str, str]) -> ChatClient:
  config = ChatServiceConfig(
      base_url=arguments.base_url or "https://api.openai.com/v1", model=arguments.model,
      api_key_env=DEFAULT_API_KEY_ENV if arguments.api_key_env is None else arguments.api_key_env,
      cache_dir=arguments.cache_dir or cache_dir, max_concurrency=arguments.max_concurrency)
  return ChatClient.from_environment(config, environ)


def run_translate(arguments, environ: Mapping[str, str]) -> int:
  """The `translate` subcommand; see the module docstring."""
  if arguments.engine not in translators.ENGINES:
    raise UserInputError(f"unknown --engine {arguments.engine!r}; known:"
                         f" {', '.join(translators.ENGINES)}")
  if arguments.dataset not in translate.DATASETS:
    raise UserInputError(f"translate knows {', '.join(translate.DATASETS)}, not"
                         f" {arguments.dataset!r}")
  if arguments.engine == "chat" and arguments.prompt_version not in translators.PROMPTS:
    raise UserInputError(f"unknown --prompt_version {arguments.prompt_version!r}; known:"
                         f" {', '.join(translators.PROMPTS)}")
  targets = _languages(arguments.to, "--to language")
  source = check_language(arguments.source, what="--from language")
  data_dir = arguments.data_dir or _data_dir_of(arguments.out)
  cache_dir = os.path.join(data_dir, ".cache", "translate")
  if arguments.engine == "chat":
    client = _chat_client(arguments, cache_dir, environ)
    engine = translators.ChatEngine(client, arguments.max_tokens, arguments.prompt_version)
    close = client.close
  else:
    config = google_translate.GoogleTranslateConfig(
        base_url=arguments.base_url or google_translate.DEFAULT_URL,
        api_key_env=(google_translate.DEFAULT_API_KEY_ENV if arguments.api_key_env is None
                     else arguments.api_key_env),
        cache_dir=arguments.cache_dir or cache_dir, max_concurrency=arguments.max_concurrency)
    translator = google_translate.GoogleTranslator(
        config, google_translate.api_key_from(config, environ))
    engine = translators.GoogleEngine(translator)

    def close() -> None:
      print(f"translation service usage: {translator.usage().line()}", file=sys.stderr)
  try:
    summary = translate.translate_dataset(
        arguments.dataset, data_dir, arguments.out, targets, engine, source=source,
        round_trip=arguments.round_trip, splits=(arguments.split,) if arguments.split else None,
        limit=arguments.limit)
  except translators.TranslationFailed as error:
    print(f"error: {error}; rerun to ask again (answered texts are cached)", file=sys.stderr)
    return 1
  finally:
    close()
  print(f"wrote {arguments.dataset} ({', '.join(targets)}) under {arguments.out}: {summary}")
  return 0


def run_complete(arguments, environ: Mapping[str, str]) -> int:
  """The `complete sharegpt` subcommand; see the module docstring."""
  languages = tuple(check_language(code, sharegpt_format.LANGUAGES, "--languages")
                    for code in _languages(arguments.languages, "--languages"))
  client = _chat_client(arguments, os.path.join(arguments.data_dir, ".cache", "complete"),
                        environ)
  params = {"temperature": arguments.temperature,
            **({"max_tokens": arguments.max_tokens} if arguments.max_tokens else {})}
  try:
    counts = completions.complete_sharegpt(client, arguments.data_dir, languages,
                                           arguments.split, params)
  except completions.CompletionsFailed as error:
    print(f"error: {error}", file=sys.stderr)
    return 1
  finally:
    client.close()
  print(f"wrote sharegpt completions by {arguments.model}: {counts}")
  return 0
