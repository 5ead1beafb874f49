"""`xlt_jax.serve` on real HTTP on loopback (uvicorn on a free port, in a thread), for a
tiny random Llama with a real tokenizer and Llama 3's chat template
(tests/test_base_checkpoint.py builds it with `transformers`).

The external references are the clients people use: the `openai` package, and
lm-evaluation-harness 0.4's `local-completions` (log-likelihood through `echo` and
`logprobs`, generation from token ids) and `local-chat-completions`. Each must get the
same answers as the inference engine called directly on the same token ids.
"""

import asyncio
import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
transformers = pytest.importorskip("transformers")

from test_base_checkpoint import _save_base
from test_model_loading import write_run

from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo
from xlt_jax.evaluation import model_loading
from xlt_jax.evaluation.engine import InferenceEngine, SamplingParams
from xlt_jax.models import chat_templates
from xlt_jax.serving.app import ServerThread, create_app, free_port
from xlt_jax.serving.batcher import DynamicBatcher
from xlt_jax.serving.service import ModelService, ServerConfig

REPO = pathlib.Path(__file__).resolve().parents[1]
PROMPTS = ["What is 3 + 4?", "Combien font 12 + 30 ?", "¿Cuánto es 7 por 6?"]
CONFIG = ServerConfig(max_wait_ms=20, max_batch_rows=64, max_model_len=512, engine_batch_size=8,
                      length_bucket=16)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
  """(the running server, the loaded model, an engine of our own, the HF directory)."""
  demo_dir = tmp_path_factory.mktemp("demo")
  demo.write_demo_dataset(str(demo_dir), {"train": 16, "validation": 4, "test": 4}, seed=0)
  hf_dir = _save_base("llama", tmp_path_factory.mktemp("hf") / "tiny-llama", demo_dir)
  loaded = model_loading.load(str(hf_dir))
  direct = InferenceEngine(loaded.model, loaded.params, loaded.vocabulary,
                           stop_ids=loaded.stop_ids, batch_size=CONFIG.engine_batch_size,
                           length_bucket=CONFIG.length_bucket, max_length=CONFIG.max_model_len)
  service = ModelService(loaded, CONFIG)
  with ServerThread(create_app(service)) as running:
    yield running, service, direct, hf_dir


def _client(running) -> "openai.OpenAI":
  return openai.OpenAI(base_url=running.url, api_key="unused", max_retries=0)


def _plain_ids(loaded, text: str) -> list[int]:
  return list(loaded.start_ids) + list(loaded.vocabulary.encode(text))


@pytest.mark.slow  # compiles greedy, sampled and penalised decoding: ~30 s on 2 cores
def test_openai_completions_equal_the_engine_greedy_sampled_and_stopped(server):
  running, service, direct, _ = server
  loaded, client = service.loaded, _client(running)
  assert [model.id for model in client.models.list().data] == ["tiny-llama"]
  ids = [_plain_ids(loaded, prompt) for prompt in PROMPTS]

  greedy = client.completions.create(model="tiny-llama", prompt=PROMPTS, max_tokens=12,
                                     temperature=0)
  expected = direct.generate(ids, SamplingParams(max_new_tokens=12))
  assert [choice.text for choice in greedy.choices] == [c[0].text for c in expected]
  assert [choice.finish_reason for choice in greedy.choices] == [
      c[0].finish_reason for c in expected]
  assert greedy.usage.prompt_tokens == sum(map(len, ids))
  assert greedy.usage.completion_tokens == sum(len(c[0].token_ids) for c in expected)

  settings = {"temperature": 0.9, "top_p": 0.9, "frequency_penalty": 0.5, "presence_penalty": 0.3,
              "seed": 11}
  sampled = client.completions.create(model="tiny-llama", prompt=PROMPTS[:2], max_tokens=10, n=2,
                                      extra_body={"top_k": 40}, **settings)
  expected = direct.generate(ids[:2], SamplingParams(max_new_tokens=10, n=2, top_k=40, **settings))
  # Choices go prompt by prompt, n each (the OpenAI API's order).
  assert [choice.text for choice in sampled.choices] == [c.text for per in expected for c in per]
  assert len({choice.text for choice in sampled.choices}) > 1

  text = expected[0][0].text
  stop = text[len(text) // 2:len(text) // 2 + 2]
  assert stop.strip()
  stopped = client.completions.create(model="tiny-llama", prompt=PROMPTS[0], max_tokens=10,
                                      n=2, stop=[stop], extra_body={"top_k": 40}, **settings)
  [expected] = direct.generate(ids[:1], SamplingParams(max_new_tokens=10, n=2, top_k=40,
                                                       stop=(stop,), **settings))
  assert [choice.text for choice in stopped.choices] == [c.text for c in expected]
  assert stopped.choices[0].text == text[:text.index(stop)]
  assert stopped.choices[0].finish_reason == "stop"


def test_chat_uses_the_checkpoints_template_and_streams_the_same_text(server):
  running, service, direct, hf_dir = server
  loaded, client = service.loaded, _client(running)
  messages = [{"role": "system", "content": "Answer briefly."},
              {"role": "user", "content": "What is 2 + 3?"}]
  ids = chat_templates.prompt_ids("llama3", messages, loaded.vocabulary.encode)
  tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
  official = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
  assert ids == list(official if isinstance(official, list) else official["input_ids"])

  [[expected]] = direct.generate([ids], SamplingParams(max_new_tokens=16))
  reply = client.chat.completions.create(model="tiny-llama", messages=messages, max_tokens=16,
                                         temperature=0)
  assert reply.choices[0].message.content == expected.text
  assert reply.choices[0].message.role == "assistant"
  assert reply.usage.prompt_tokens == len(ids)

  chunks = list(client.chat.completions.create(model="tiny-llama", messages=messages,
                                               max_tokens=16, temperature=0, stream=True,
                                               stream_options={"include_usage": True}))
  assert chunks[-1].usage.completion_tokens == len(expected.token_ids)
  pieces = [chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices]
  assert "".join(pieces) == expected.text and len([p for p in pieces if p]) > 1
  assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == (
      expected.finish_reason)

  [[plain]] = direct.generate([_plain_ids(loaded, PROMPTS[1])], SamplingParams(max_new_tokens=12))
  stream = client.completions.create(model="tiny-llama", prompt=PROMPTS[1], max_tokens=12,
                                     temperature=0, stream=True)
  chunks = list(stream)
  assert all(chunk.choices for chunk in chunks)  # no usage chunk unless asked for
  assert "".join(chunk.choices[0].text for chunk in chunks) == plain.text


@pytest.mark.slow  # ~25 s on 2 cores
def test_lm_eval_local_completions_loglikelihood_and_generation_equal_the_engine(server):
  pytest.importorskip("tenacity", reason="lm-eval's API models need lm-eval[api]")
  from lm_eval.api.instance import Instance
  from lm_eval.models.openai_completions import LocalCompletionsAPI

  running, _, direct, hf_dir = server
  lm = LocalCompletionsAPI(base_url=f"{running.url}/completions", model="tiny-llama",
                           tokenizer_backend="huggingface", tokenizer=str(hf_dir),
                           num_concurrent=1, max_retries=1, batch_size=4)
  contexts = ["Question: 5 + 4 = ? Answer:", "Pregunta: 8 + 1 = ? Respuesta:"]
  # A continuation the model itself would pick greedily (one whose text encodes back to
  # the same tokens): is_greedy must come back True for it, False for " 9".
  context_ids = list(lm._encode_pair(contexts[0], " 9")[0])
  [[greedy]] = direct.generate([context_ids], SamplingParams(max_new_tokens=3))
  greedy_text = None
  for count in (3, 2, 1):
    text = lm.tokenizer.decode(list(greedy.token_ids[:count]))
    context, continuation = lm._encode_pair(contexts[0], text)
    if (list(context), list(continuation)) == (context_ids, list(greedy.token_ids[:count])):
      greedy_text = text
      break
  assert greedy_text is not None, "no greedy continuation encodes back to its tokens"
  requests = [(context, " 9") for context in contexts] + [(contexts[0], greedy_text)]
  pairs = [lm._encode_pair(*request) for request in requests]
  answers = lm.loglikelihood([Instance("loglikelihood", {}, request, index)
                              for index, request in enumerate(requests)])
  expected = direct.loglikelihood(pairs)
  np.testing.assert_allclose([a[0] for a in answers], [e.logprob for e in expected], atol=1e-4)
  assert [a[1] for a in answers] == [e.is_greedy for e in expected]
  assert answers[2][1] is True

  # Perplexity (P2): one rolling window here, conditioned on the prefix token (BOS).
  text = " ".join(contexts) * 2
  [rolling] = lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (text,), 0)])
  np.testing.assert_allclose(rolling, direct.loglikelihood_rolling(lm.tok_encode(text)),
                             atol=1e-4)

  gen_kwargs = {"until": ["\n\n"], "max_gen_toks": 12, "do_sample": False}
  texts = lm.generate_until([Instance("generate_until", {}, (context, dict(gen_kwargs)), index)
                             for index, context in enumerate(contexts)])
  ids = [lm.tok_encode(context) for context in contexts]
  expected = direct.generate(ids, SamplingParams(max_new_tokens=12, stop=("\n\n",)))
  assert texts == [per[0].text for per in expected]


def test_lm_eval_local_chat_completions_generation_equals_the_engine(server):
  pytest.importorskip("tenacity", reason="lm-eval's API models need lm-eval[api]")
  from lm_eval.api.instance import Instance
  from lm_eval.models.api_models import JsonChatStr
  from lm_eval.models.openai_completions import LocalChatCompletion

  running, service, direct, _ = server
  lm = LocalChatCompletion(base_url=f"{running.url}/chat/completions", model="tiny-llama",
                           num_concurrent=1, max_retries=1)
  conversations = [[{"role": "user", "content": prompt}] for prompt in PROMPTS[:2]]
  gen_kwargs = {"until": ["\n\n"], "max_gen_toks": 12, "do_sample": False}
  texts = lm.generate_until([
      Instance("generate_until", {}, (JsonChatStr(json.dumps(messages)), dict(gen_kwargs)), index)
      for index, messages in enumerate(conversations)])
  ids = [chat_templates.prompt_ids("llama3", messages, service.loaded.vocabulary.encode)
         for messages in conversations]
  expected = direct.generate(ids, SamplingParams(max_new_tokens=12, stop=("\n\n",)))
  assert texts == [per[0].text for per in expected]


def test_a_job_that_fails_in_a_shared_batch_fails_alone(server):
  """The engine refuses an empty prompt; the batcher reruns the batch job by job, so the
  requests batched with it still get their completions."""
  _, service, direct, _ = server
  prompts = [_plain_ids(service.loaded, prompt) for prompt in PROMPTS[:2]]
  batcher = DynamicBatcher(direct.generate, service.score, max_wait_s=0.05)
  greedy = SamplingParams(max_new_tokens=4)

  async def together():
    batcher.start()
    try:
      return await asyncio.gather(batcher.generate(prompts[:1], greedy),
                                  batcher.generate([[]], greedy),
                                  batcher.generate(prompts[1:], greedy), return_exceptions=True)
    finally:
      await batcher.stop()

  first, empty, second = asyncio.run(together())
  assert isinstance(empty, UserInputError) and "prompt 0 is empty" in str(empty)
  assert [first[0][0].text, second[0][0].text] == [
      per[0].text for per in direct.generate(prompts, greedy)]
  # The shared call failed (not counted); then one call per job.
  assert (batcher.stats.batches, batcher.stats.jobs) == (3, 3)


def test_bad_requests_get_openai_errors_with_their_status(server):
  running, _, _, _ = server
  client = _client(running)
  with pytest.raises(openai.NotFoundError, match="`gpt-4o` does not exist"):
    client.completions.create(model="gpt-4o", prompt="1 + 1 =", max_tokens=2)
  with pytest.raises(openai.BadRequestError, match="temperature must be a number in"):
    client.completions.create(model="tiny-llama", prompt="1 + 1 =", temperature=5)
  with pytest.raises(openai.BadRequestError, match="outside \\[0, 512\\)"):
    client.completions.create(model="tiny-llama", prompt=[1, 2, 100000], max_tokens=2)
  with pytest.raises(openai.BadRequestError, match="maximum context length is 512"):
    client.completions.create(model="tiny-llama", prompt="1 + 1 =", max_tokens=600)
  with pytest.raises(openai.BadRequestError, match="must end with a user message"):
    client.chat.completions.create(model="tiny-llama", max_tokens=2,
                                   messages=[{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}])
  with pytest.raises(openai.BadRequestError, match="best_of is not supported"):
    client.completions.create(model="tiny-llama", prompt="1", best_of=3)


def test_64_concurrent_requests_all_complete_with_errors_per_request(server):
  running, service, direct, _ = server
  loaded = service.loaded
  prompts = [f"{a} + {b} = ?" for a in range(8) for b in range(8)]
  bad = set(range(5, 64, 16))  # these four send a token id the model does not have
  async def one(client, index):
    prompt = [1, 10**6] if index in bad else prompts[index]
    try:
      reply = await client.completions.create(model="tiny-llama", prompt=prompt, max_tokens=16,
                                              temperature=0)
      return reply.choices[0].text, reply.usage.completion_tokens
    except openai.BadRequestError as error:
      return error, 0

  async def all_of_them():
    # A client per round: its connection pool belongs to that round's event loop.
    # 64 connections at once: the client's default 5 s connect timeout is too short on a
    # loaded 2-core machine (the server accepts them all, just slowly).
    async with openai.AsyncOpenAI(base_url=running.url, api_key="unused", max_retries=0,
                                  timeout=120.0) as client:
      return await asyncio.gather(*(one(client, index) for index in range(64)))

  asyncio.run(all_of_them())  # the first round compiles the engine's batch shapes
  before = service.batcher.stats.batches
  start = time.perf_counter()
  results = asyncio.run(all_of_them())
  seconds = time.perf_counter() - start
  batches = service.batcher.stats.batches - before
  good = [index for index in range(64) if index not in bad]
  expected = direct.generate([_plain_ids(loaded, prompts[index]) for index in good],
                             SamplingParams(max_new_tokens=16))
  assert [results[index][0] for index in good] == [per[0].text for per in expected]
  assert all(isinstance(results[index][0], openai.BadRequestError) for index in bad)
  assert batches <= len(good) // 2, f"{batches} engine batches for {len(good)} requests"
  tokens = sum(count for _, count in results)
  print(f"\n64 concurrent requests, warm ({len(good)} served, {len(bad)} refused): {seconds:.2f} s,"
        f" {64 / seconds:.1f} requests/s, {tokens / seconds:.0f} generated tokens/s,"
        f" {batches} engine batches")


@pytest.mark.slow  # a fresh process: JAX start-up, loading, compiling (~40 s on 2 cores)
def test_the_binary_serves_a_hugging_face_checkpoint(server, tmp_path):
  _, service, direct, hf_dir = server
  port = free_port()
  environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
      [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
  process = subprocess.Popen(
      [sys.executable, "-m", "xlt_jax.serve", f"--model={hf_dir}", f"--port={port}",
       "--served_name=tiny", "--engine_batch_size=8", "--max_model_len=512"],
      cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  try:
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused",
                           max_retries=0, timeout=120)
    deadline = time.monotonic() + 300
    while True:
      try:
        assert [model.id for model in client.models.list().data] == ["tiny"]
        break
      except openai.APIConnectionError:
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(1)
    reply = client.completions.create(model="tiny", prompt=PROMPTS[0], max_tokens=8, temperature=0)
    [[expected]] = direct.generate([_plain_ids(service.loaded, PROMPTS[0])],
                                   SamplingParams(max_new_tokens=8))
    assert reply.choices[0].text == expected.text
  finally:
    process.terminate()
    process.wait(timeout=60)


@pytest.mark.slow  # the train step built on 8 devices, then serving compiled there: ~40 s
def test_a_run_on_the_8_device_mesh_serves_what_one_device_computes(server, tmp_path):
  _, service, _, _ = server
  write_run(tmp_path, service.loaded)
  run = model_loading.load(str(tmp_path))
  assert run.mesh.devices.size == 8 and run.name == "budget00050@10"
  single = InferenceEngine(run.model, jax.device_get(run.params), run.vocabulary,
                           stop_ids=run.stop_ids, batch_size=8, length_bucket=16)
  ids = [list(run.start_ids) + list(run.vocabulary.encode(prompt)) for prompt in PROMPTS]
  [expected] = single.loglikelihood([(ids[0][:1], ids[0][1:])])
  with ServerThread(create_app(ModelService(run, CONFIG))) as running:
    client = _client(running)
    greedy = client.completions.create(model=run.name, prompt=PROMPTS, max_tokens=8,
                                       temperature=0)
    echoed = client.completions.create(model=run.name, prompt=ids[0], max_tokens=0, echo=True,
                                       logprobs=1)
  assert [choice.text for choice in greedy.choices] == [
      per[0].text for per in single.generate(ids, SamplingParams(max_new_tokens=8))]
  np.testing.assert_allclose(echoed.choices[0].logprobs.token_logprobs[1:],
                             expected.token_logprobs, atol=1e-4)


@pytest.mark.slow  # judge prompts of ~1,000 tokens compiled at a new length: ~30 s
def test_the_judges_client_judges_offline_through_the_server(server, tmp_path):
  """The P0 judge (xlt_jax.evaluation.judges) asks a checkpoint served here: every request
  answered, nothing failed; the tiny random model writes no `[[n]]`, so every item is
  counted unparsable (after its re-ask), never scored."""
  from xlt_jax.evaluation.judges.protocols import JudgeConfig
  from xlt_jax.evaluation.judges.run import judge_predictions
  from xlt_jax.services.chat_client import ChatClient
  from xlt_jax.services.config import ChatServiceConfig

  _, service, _, _ = server
  long_prompts = dataclasses.replace(CONFIG, max_model_len=4096, length_bucket=128)
  predictions = [{"id": f"q{index}", "language": "en", "prompt": prompt,
                  "prediction": "The answer is seven, because three plus four makes seven."}
                 for index, prompt in enumerate(PROMPTS[:2])]
  with ServerThread(create_app(ModelService(service.loaded, long_prompts))) as running:
    config = ChatServiceConfig(base_url=running.url, model="tiny-llama", api_key_env="",
                               cache_dir=str(tmp_path / "cache"), max_retries=0)
    judge = JudgeConfig(protocol="p0_pointwise", switch_aware=False, max_tokens=8)
    with ChatClient.from_environment(config) as client:
      results = judge_predictions(predictions, judge, client)
    with ChatClient.from_environment(config) as client:  # a rerun: all from the cache
      again = judge_predictions(predictions, judge, client)
  assert results.summary["en"]["request_failed"] == 0
  assert results.summary["en"]["unparsable"] + results.summary["en"]["scored"] == 2
  assert again.usage["requests"] == 0 and again.items == results.items
