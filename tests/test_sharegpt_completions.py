"""`python -m xlt_jax.data complete sharegpt` against the loopback chat stub: the completions
file the ShareGPT reader joins, each turn asked with the generated history, the model in
every record, and reruns (after success or a failure) that repeat no answered request."""

import json

import pytest
from openai_stub_server import StubChatServer

from tasks import datasets
from xlt_jax.data.__main__ import main

CONVERSATIONS = [
    {"id": "a1", "conversations": [
        {"from": "system", "value": "Eres un asistente."},
        {"from": "human", "value": "¿Qué es un volcán?"},
        {"from": "gpt", "value": "ORIGINAL, never used"},
        {"from": "human", "value": "¿Y un terremoto?"},
        {"from": "gpt", "value": "ORIGINAL, never used"}]},
    {"id": "b2", "conversations": [{"from": "human", "value": "Dime un chiste."}]},
]


def reply(body: dict) -> str:
  return f"respuesta a «{body['messages'][-1]['content']}» tras {len(body['messages'])} mensajes"


@pytest.fixture
def data_dir(tmp_path):
  (tmp_path / "sharegpt" / "train").mkdir(parents=True)
  (tmp_path / "sharegpt" / "train" / "es.json").write_text(json.dumps(CONVERSATIONS))
  return tmp_path


def _argv(server, data_dir, languages="es"):
  return ["complete", "sharegpt", "--model=command-r-plus", f"--base_url={server.url}",
          "--split=train", f"--languages={languages}", f"--data_dir={data_dir}",
          "--api_key_env=", "--max_concurrency=1"]


def test_completions_are_written_joined_by_the_reader_and_cached(data_dir):
  with StubChatServer(reply) as server:
    assert main(_argv(server, data_dir)) == 0
    assert len(server.hits) == 3
    # Turn 1 is asked with turn 0's *generated* answer, never the original gpt turn.
    assert server.hits[1]["body"]["messages"] == [
        {"role": "system", "content": "Eres un asistente."},
        {"role": "user", "content": "¿Qué es un volcán?"},
        {"role": "assistant", "content": "respuesta a «¿Qué es un volcán?» tras 2 mensajes"},
        {"role": "user", "content": "¿Y un terremoto?"}]
    assert main(_argv(server, data_dir)) == 0
    assert len(server.hits) == 3  # the rerun is served by the cache
  lines = (data_dir / "sharegpt" / "train" / "es.completions.jsonl").read_text().splitlines()
  assert [json.loads(line) for line in lines] == [
      {"id": "a1", "turn": 0, "completion": "respuesta a «¿Qué es un volcán?» tras 2 mensajes",
       "model": "command-r-plus"},
      {"id": "a1", "turn": 1, "completion": "respuesta a «¿Y un terremoto?» tras 4 mensajes",
       "model": "command-r-plus"},
      {"id": "b2", "turn": 0, "completion": "respuesta a «Dime un chiste.» tras 1 mensajes",
       "model": "command-r-plus"}]
  examples = datasets.read_examples("sharegpt", str(data_dir), "es", "train")
  assert [e["targets"] for e in examples] == [
      "respuesta a «¿Qué es un volcán?» tras 2 mensajes",
      "respuesta a «Dime un chiste.» tras 1 mensajes"]
  assert json.loads(examples[0]["conversation"])[4]["content"] == (
      "respuesta a «¿Y un terremoto?» tras 4 mensajes")


def test_a_failed_run_writes_nothing_and_the_rerun_asks_only_what_failed(data_dir, capsys):
  with StubChatServer(reply) as server:
    server.faults.extend([None, None, ("status", 400)])  # conversation b2 fails for good
    assert main(_argv(server, data_dir)) == 1
    assert "error: 1 conversations got no completion" in capsys.readouterr().err
    assert not (data_dir / "sharegpt" / "train" / "es.completions.jsonl").exists()
    assert main(_argv(server, data_dir)) == 0
    assert len(server.hits) == 4


def test_an_unknown_language_is_one_error_line(data_dir, capsys):
  with StubChatServer(reply) as server:
    assert main(_argv(server, data_dir, "es,xx")) == 2
    assert len(server.hits) == 0
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "error: unknown --languages code 'xx'" in err
