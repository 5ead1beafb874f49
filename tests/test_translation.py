"""`python -m xlt_jax.data translate`: protected spans, both engines on real loopback HTTP (the
chat stub and a fake Google Translate v2), each dataset's copy read back by its variant task,
round trip, provenance, and a rerun (or a failed run) that repeats no request."""

import json
import os
import re
import signal
import subprocess
import sys

import pyarrow
import pyarrow.parquet
import pytest
from conftest import REPO_ROOT
from fake_google_translate import FakeGoogleTranslate
from openai_stub_server import StubChatServer

from tasks import datasets
from tasks.formats import alpaca_eval as alpaca_eval_format
from tasks.formats import aya_dataset, guanaco, rows
from xlt_jax.core.languages import LANGUAGES
from xlt_jax.data import masking, translate, translators
from xlt_jax.data.__main__ import main
from xlt_jax.services.chat_client import ChatClient
from xlt_jax.services.config import ChatServiceConfig
from xlt_jax.services.google_translate import (
  GoogleTranslateConfig,
  GoogleTranslator,
  TranslateServiceError,
)

# The tests' "translator": whole phrases, longest first; never touches the ⟦n⟧ markers.
EN_ES = {
    "How do I sort a list in Python?": "¿Cómo ordeno una lista en Python?",
    "Use the sorted function, for example:": "Usa la función sorted, por ejemplo:",
    "Write a short poem about the sea and the waves of the beach at night.":
        "Escribe un poema corto sobre el mar y las olas de la playa por la noche.",
    "The sea is blue and the waves sing all night long.":
        "El mar es azul y las olas cantan durante toda la noche.",
    "What is the capital of France?": "¿Cuál es la capital de Francia?",
    "The capital of France is Paris, a beautiful city.":
        "La capital de Francia es París, una ciudad muy bonita.",
    "Janet has 3 ducks and buys 2 more. How many ducks does she have?":
        "Janet tiene 3 patos y compra 2 más. ¿Cuántos patos tiene?",
    "Hello ": "Hola ", ", you have ": ", tienes ", " new messages.": " mensajes nuevos.",
    "Name": "Nombre", "Age": "Edad", "Reply with": "Responde con",
}
DICTIONARIES = {("en", "es"): EN_ES, ("es", "en"): {v: k for k, v in EN_ES.items()}}
CODES = {name: code for code, (name, _) in LANGUAGES.items()}


def dictionary_translate(text: str, source: str, target: str) -> str:
  if (source, target) not in DICTIONARIES:
    return f"[{target}] {text}"
  for phrase, translation in sorted(DICTIONARIES[(source, target)].items(),
                                    key=lambda item: -len(item[0])):
    text = text.replace(phrase, translation)
  return text


def chat_translate(body: dict) -> str:
  """The stub chat model: reads P2's Figure 6 prompt and translates its text."""
  match = re.fullmatch(r"Please translate from (\w+) to (\w+)\. Do your best to preserve the"
                       r" formatting\. The following content should and should only be"
                       r" translated\.\n\n(.*)", body["messages"][-1]["content"], re.DOTALL)
  assert match, body["messages"][-1]["content"]
  return dictionary_translate(match.group(3), CODES[match.group(1)], CODES[match.group(2)])


def chat_engine(server, cache_dir=None) -> translators.ChatEngine:
  config = ChatServiceConfig(base_url=server.url, model="command-r", api_key_env="",
                             cache_dir=cache_dir, initial_backoff_s=0.01, max_concurrency=4)
  return translators.ChatEngine(ChatClient(config, "unused"))


RICH = """Use the sorted function, for example:

```python
data = {"name": "x", "age": 3}
print(sorted(data))  # Hello {name}
```

| Name | Age |
|------|----:|
| Ana | 30 |

Reply with {"answer": "yes", "count": 2}: Hello {name}, you have %d new messages.
Hello ${user}, you have %(count)s new messages. <b>Hello </b>{0} `x = 1` https://example.com/a?b=1"""


def test_masking_hides_code_tables_json_keys_and_placeholders_and_restores_them():
  masked = masking.mask(RICH)
  spans = masked.spans
  assert spans[0].startswith("```python\n") and spans[0].endswith("```")  # the whole block
  assert "|------|----:|" in spans and spans.count("|") == 6  # delimiter row; 2 rows x 3 pipes
  for span in ('"answer":', '"count":', "{name}", "%d", "${user}", "%(count)s", "<b>", "</b>",
               "{0}", "`x = 1`", "https://example.com/a?b=1"):
    assert span in spans, span
  # Nothing protected is left to the translator; JSON values and braces are text.
  assert not any(char in masked.text for char in "`|%<>$") and "{name}" not in masked.text
  assert 'Reply with {⟦8⟧ "yes", ⟦9⟧ 2}: Hello ⟦10⟧' in masked.text
  translated = dictionary_translate(masked.text, "en", "es")
  restored = masking.restore(translated, masked)
  assert restored.startswith("Usa la función sorted, por ejemplo:\n\n```python\n")
  assert RICH.split("```")[1] == restored.split("```")[1]  # code block byte for byte
  assert "| Nombre | Edad |\n|------|----:|\n| Ana | 30 |" in restored
  assert ('Responde con {"answer": "yes", "count": 2}: Hola {name}, tienes %d mensajes nuevos.'
          in restored)
  assert "Hola ${user}, tienes %(count)s mensajes nuevos. <b>Hola </b>{0} `x = 1`" in restored


def test_a_lost_repeated_or_invented_marker_is_an_error():
  masked = masking.mask("Hello {name}, you have %d new messages.")
  assert masked.text == "Hello ⟦0⟧, you have ⟦1⟧ new messages."
  assert masking.restore("Hola ⟦ 0 ⟧, tienes ⟦1⟧.", masked) == "Hola {name}, tienes %d."
  for broken in ("Hola, tienes ⟦1⟧.", "Hola ⟦0⟧ ⟦0⟧ ⟦1⟧", "Hola ⟦0⟧ ⟦1⟧ ⟦2⟧"):
    with pytest.raises(masking.MaskLost):
      masking.restore(broken, masked)
  assert masking.mask("50% of people, a < b > c").spans == ()  # prose is not a placeholder


def test_google_client_speaks_v2_retries_and_caches(tmp_path):
  with FakeGoogleTranslate(dictionary_translate) as google:
    google.faults.extend([(500, None), (429, "0")])
    config = GoogleTranslateConfig(base_url=google.url, api_key_env="GT_KEY",
                                   cache_dir=str(tmp_path), initial_backoff_s=0.01)
    client = GoogleTranslator(config, "test-key")
    assert client.translate("What is the capital of France?", "en", "es") == (
        "¿Cuál es la capital de Francia?")
    assert google.hits[-1] == {"key": "test-key", "body": {
        "q": ["What is the capital of France?"], "source": "en", "target": "es",
        "format": "text"}}
    usage = client.usage()
    assert (usage.requests, usage.retries, usage.replies) == (3, 2, 1)
    again = GoogleTranslator(config, "test-key")  # a rerun: from the cache
    assert again.translate("What is the capital of France?", "en", "es").startswith("¿Cuál")
    assert len(google.hits) == 3 and again.usage().cache_hits == 1
    assert "test-key" not in "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    with pytest.raises(TranslateServiceError, match="HTTP 403 .not retryable"):
      GoogleTranslator(config, "wrong-key").translate("Name", "en", "es")
    assert len(google.hits) == 4  # a 403 is asked once


def test_google_batches_segments_and_a_failed_batch_alone_is_asked_again(tmp_path):
  texts = [f"Hello {n}" for n in range(5)]
  with FakeGoogleTranslate(dictionary_translate) as google:
    config = GoogleTranslateConfig(base_url=google.url, api_key_env="", cache_dir=str(tmp_path),
                                   max_segments=2, max_concurrency=1)
    google.faults.extend([None, (400, None)])  # the second request (texts 2, 3) fails for good
    results = GoogleTranslator(config, "test-key").translate_many(texts, "en", "es")
    assert [len(hit["body"]["q"]) for hit in google.hits] == [2, 2, 1]
    assert [r if isinstance(r, str) else "error" for r in results] == [
        "Hola 0", "Hola 1", "error", "error", "Hola 4"]
    again = GoogleTranslator(config, "test-key").translate_many(texts, "en", "es")
    assert again == [f"Hola {n}" for n in range(5)]
    assert google.hits[-1]["body"]["q"] == ["Hello 2", "Hello 3"] and len(google.hits) == 4


def _english_aya(root, extra=()):
  english = [("What is the capital of France?",
              "The capital of France is Paris, a beautiful city."),
             ("How do I sort a list in Python?", ("Use the sorted function, for example:\n\n"
                                                  "```python\nsorted([3, 1, 2])\n```"))]
  rows_ = [("English", "eng", q, a) for q, a in english] + list(extra)
  path = root / "aya_dataset" / aya_dataset.hub_file("train")
  path.parent.mkdir(parents=True)
  pyarrow.parquet.write_table(pyarrow.table({
      "inputs": [r[2] for r in rows_], "targets": [r[3] for r in rows_],
      "language": [r[0] for r in rows_], "language_code": [r[1] for r in rows_],
      "annotation_type": ["original-annotations"] * len(rows_),
      "user_id": ["u"] * len(rows_)}), path)


def test_aya_translated_with_google_reads_back_as_the_variant_and_a_rerun_asks_nothing(tmp_path):
  _english_aya(tmp_path)
  out = tmp_path / "variants" / "translated_google"
  with FakeGoogleTranslate(dictionary_translate) as google:
    argv = ["translate", "aya_dataset", "--to=es", "--engine=google", f"--out={out}",
            f"--base_url={google.url}", "--api_key_env=GT_KEY"]
    assert main(argv, environ={"GT_KEY": "test-key"}) == 0
    # One request: 2 rows x (instruction, response), each its own segment, code masked.
    [hit] = google.hits
    assert hit["body"]["q"] == ["What is the capital of France?",
                                "How do I sort a list in Python?",
                                "The capital of France is Paris, a beautiful city.",
                                "Use the sorted function, for example:\n\n⟦0⟧"]
    assert main(argv, environ={"GT_KEY": "test-key"}) == 0
    assert len(google.hits) == 1  # the rerun is served by the cache
  examples = datasets.read_examples("aya_dataset_translated_google", str(tmp_path), "es", "train")
  assert [(e["id"], e["inputs"], e["parallel_id"]) for e in examples] == [
      ("aya_dataset_translated_google_es_train:0", "¿Cuál es la capital de Francia?", "0"),
      ("aya_dataset_translated_google_es_train:1", "¿Cómo ordeno una lista en Python?", "1")]
  assert examples[1]["targets"] == ("Usa la función sorted, por ejemplo:\n\n"
                                    "```python\nsorted([3, 1, 2])\n```")
  table = pyarrow.parquet.read_table(out / "aya_dataset" / aya_dataset.hub_file("train"))
  record = json.loads(table.column("translation")[0].as_py())
  assert record["engine"] == "google" and record["model"] == "google-translate-v2"
  assert record["prompt_version"] is None and re.fullmatch(r"\d{4}-\d\d-\d\d", record["date"])
  assert table.column("language_code").to_pylist() == ["spa", "spa"]


def test_aya_round_trip_with_a_chat_model_pivots_through_english(tmp_path):
  native = [("Spanish", "spa", "¿Cuál es la capital de Francia?",
             "La capital de Francia es París, una ciudad muy bonita.")]
  _english_aya(tmp_path, native)
  out = tmp_path / "variants" / "rtt_cohere"
  with StubChatServer(chat_translate) as server:
    summary = translate.translate_dataset(
        "aya_dataset", str(tmp_path), str(out), ["es"], chat_engine(server, str(tmp_path / "c")),
        round_trip=True, date="2026-01-02")
    prompts = server.prompts()
  assert summary == {"train": 1}
  assert [p.split("\n\n", 1)[0][:40] for p in prompts] == [
      "Please translate from Spanish to English"] * 2 + [
      "Please translate from English to Spanish"] * 2
  examples = datasets.read_examples("aya_dataset_rtt_cohere", str(tmp_path), "es", "train")
  # No parallel_id: a round trip translates no English row (selection must not pool it).
  assert [(e["inputs"], e["targets"], "parallel_id" in e) for e in examples] == [
      (native[0][2], native[0][3], False)]
  table = pyarrow.parquet.read_table(out / "aya_dataset" / aya_dataset.hub_file("train"))
  assert json.loads(table.column("translation")[0].as_py()) == {
      "engine": "chat", "model": "command-r", "prompt_version": "p2-figure6-v1",
      "date": "2026-01-02", "source_language": "en", "method": "round_trip",
      "source_row": 2}  # row 2 of the file: the native row it round-trips


def test_guanaco_turns_are_translated_separately_and_read_back(tmp_path):
  source = tmp_path / "guanaco" / "openassistant_best_replies_train.jsonl"
  source.parent.mkdir()
  source.write_text(json.dumps({"text": "### Human: Write a short poem about the sea and"
                                        " the waves of the beach at night.### "
                                        "Assistant: The sea is blue and the waves sing all night"
                                        " long.### Human: What is the capital of France?###"
                                        " Assistant: The capital of France is Paris, a beautiful"
                                        " city."}) + "\n")
  with StubChatServer(chat_translate) as server:
    translate.translate_dataset("guanaco", str(tmp_path), str(tmp_path / "variants" /
                                "translated"), ["es"], chat_engine(server))
    assert len(server.hits) == 4
  [example] = datasets.read_examples("guanaco_translated", str(tmp_path), "es", "train")
  assert example["inputs"] == ("Escribe un poema corto sobre el mar y las olas de la playa por"
                               " la noche.")
  assert [turn["content"] for turn in json.loads(example["conversation"])][2:] == [
      "¿Cuál es la capital de Francia?", "La capital de Francia es París, una ciudad muy bonita."]
  assert example["parallel_id"] == "1"


def test_alpaca_farm_and_mgsm_copies_read_back(tmp_path):
  farm = tmp_path / "alpaca_farm" / "alpaca_farm_evaluation.json"
  farm.parent.mkdir()
  farm.write_text(json.dumps([
      {"instruction": "What is the capital of France?", "input": "", "output": "Paris.",
       "dataset": "koala"},
      {"instruction": "Name", "input": "", "output": "...",
       "dataset": "oasst"}]))
  (tmp_path / "mgsm").mkdir()
  (tmp_path / "mgsm" / "mgsm_en.tsv").write_text(
      "Janet has 3 ducks and buys 2 more. How many ducks does she have?\t5\n")
  shots = {str(n): {"q": "Question: What is the capital of France?",
                    "a": "Step-by-Step Answer: The capital of France is Paris, a beautiful city."
                         " The answer is 1."} for n in range(1, 9)}
  (tmp_path / "mgsm" / "exemplars.json").write_text(json.dumps({"MGSM_EXEMPLARS": {"en": shots}}))
  DICTIONARIES[("en", "pt")] = {"Question": "Pergunta", "Step-by-Step Answer": "Resposta",
                                "Janet has": "Janet tem"}
  out = tmp_path / "variants" / "translated_google"
  with FakeGoogleTranslate(dictionary_translate) as google:
    environ = {"GT_KEY": "test-key"}
    flags = ["--engine=google", f"--base_url={google.url}", "--api_key_env=GT_KEY"]
    assert main(["translate", "alpaca_farm", "--to=es", f"--out={out}", *flags],
                environ=environ) == 0
    assert main(["translate", "mgsm", "--to=pt", f"--out={tmp_path}", f"--data_dir={tmp_path}",
                 *flags], environ=environ) == 0
  farm_examples = datasets.read_examples("alpaca_farm_translated_google", str(tmp_path), "es",
                                         "test")
  assert [e["inputs"] for e in farm_examples] == ["¿Cuál es la capital de Francia?"]
  result = datasets.load("mgsm_translated", str(tmp_path), "pt", "test", rows.DEFAULT_POLICY)
  [example] = result.examples
  assert example["inputs"].startswith("Pergunta: What is the capital")
  assert example["inputs"].endswith("Pergunta: Janet tem 3 ducks and buys 2 more. How many"
                                    " ducks does she have?\nResposta:")
  assert example["answer"] == "5" and result.tags["translation"].startswith("google")


def test_a_chat_reply_that_drops_a_marker_is_asked_again_then_reported(tmp_path):
  with StubChatServer(chat_translate) as server:
    engine = chat_engine(server, str(tmp_path))
    server.faults.append(("content", "Hola, tienes mensajes nuevos."))  # both markers lost
    assert translators.translate_texts(
        engine, ["Hello {name}, you have %d new messages."], "en", "es") == [
            "Hola {name}, tienes %d mensajes nuevos."]
    first, second = (hit["body"]["messages"] for hit in server.hits)
    assert first == second  # the same prompt, asked again as attempt 1
    server.faults.extend([("content", "Hola."), ("content", "Hola.")])
    with pytest.raises(translators.TranslationFailed, match="missing"):
      translators.translate_texts(engine, ["Hello {name}, you have %d new messages!"], "en",
                                  "es")


def test_a_failed_run_resumes_without_repeating_answered_requests(tmp_path, capsys):
  _english_aya(tmp_path)
  out = tmp_path / "variants" / "translated_cohere"
  with StubChatServer(chat_translate) as server:
    argv = ["translate", "aya_dataset", "--to=es", "--engine=chat", f"--out={out}",
            f"--base_url={server.url}", "--model=command-r", "--api_key_env=",
            "--max_concurrency=1"]
    server.faults.extend([None, None, ("status", 400)])  # the third request fails for good
    assert main(argv) == 1
    assert "error: 1 texts were not translated" in capsys.readouterr().err
    assert not out.exists()  # nothing half-written
    assert len(server.hits) == 4
    assert main(argv) == 0
    assert len(server.hits) == 5  # only the failed text is asked again
  assert len(datasets.read_examples("aya_dataset_translated_cohere", str(tmp_path), "es",
                                    "train")) == 2


def test_bad_input_is_one_error_line(tmp_path, capsys):
  out = str(tmp_path / "variants" / "v")
  cases = [(["--to=es,xx", "--engine=google"], "unknown --to language code 'xx'"),
           (["--to=es", "--engine=deepl"], "unknown --engine 'deepl'; known: chat, google"),
           (["--to=es", "--engine=google"], "environment variable GOOGLE_TRANSLATE_API_KEY"),
           (["--to=es", "--engine=chat"], "set the environment variable OPENAI_API_KEY")]
  for flags, message in cases:
    assert main(["translate", "aya_dataset", f"--out={out}", *flags], environ={}) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_a_killed_run_resumes_without_repeating_a_request(tmp_path):
  _english_aya(tmp_path)
  out = tmp_path / "variants" / "translated_cohere"
  with StubChatServer(chat_translate) as server:
    argv = ["translate", "aya_dataset", "--to=es", "--engine=chat", f"--out={out}",
            f"--base_url={server.url}", "--model=command-r", "--api_key_env=",
            "--max_concurrency=1"]
    server.faults.extend([None, None, ("hang",)])  # killed while waiting for the 3rd reply
    child = subprocess.Popen([sys.executable, "-m", "xlt_jax.data", *argv],
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
      assert server.hung.wait(120), "the first run never reached its 3rd request"
    finally:
      child.send_signal(signal.SIGKILL)
      child.wait()
    server.release.set()
    assert len(server.hits) == 3 and not out.exists()
    assert main(argv) == 0
    # The rerun asks for the reply that never came and the text never sent, nothing else.
    prompts = server.prompts()
    assert len(prompts) == 5 and prompts[3] == prompts[2]
    assert "The capital of France is Paris" in prompts[2]
    assert prompts[4].endswith("Use the sorted function, for example:\n\n⟦0⟧")  # code masked
  assert len(datasets.read_examples("aya_dataset_translated_cohere", str(tmp_path), "es",
                                    "train")) == 2


def test_a_second_language_is_added_to_the_copy_and_lima_oasst_is_translated(tmp_path):
  _english_aya(tmp_path)
  (tmp_path / "lima").mkdir()
  (tmp_path / "lima" / "train.jsonl").write_text(json.dumps(
      {"conversations": ["What is the capital of France?",
                         "The capital of France is Paris, a beautiful city."]}) + "\n")
  pyarrow.parquet.write_table(pyarrow.Table.from_pylist([
      {"message_id": "q-1", "parent_id": None, "text": "How do I sort a list in Python?",
       "role": "prompter", "lang": "en", "rank": None},
      {"message_id": "a-1", "parent_id": "q-1", "text": "Use the sorted function, for example:",
       "role": "assistant", "lang": "en", "rank": 0}]), _mkdir(tmp_path / "oasst1") / "train.parquet")
  out = tmp_path / "variants" / "translated_google"
  with FakeGoogleTranslate(dictionary_translate) as google:
    flags = ["--engine=google", f"--base_url={google.url}", "--api_key_env=GT_KEY"]
    for language in ("es", "fr"):
      assert main(["translate", "aya_dataset", f"--to={language}", f"--out={out}", *flags],
                  environ={"GT_KEY": "test-key"}) == 0
    assert main(["translate", "lima_oasst", "--to=es", f"--out={tmp_path}",
                 f"--data_dir={tmp_path}", *flags], environ={"GT_KEY": "test-key"}) == 0
  name = "aya_dataset_translated_google"
  assert [e["inputs"] for e in datasets.read_examples(name, str(tmp_path), "es", "train")] == [
      "¿Cuál es la capital de Francia?", "¿Cómo ordeno una lista en Python?"]
  assert [e["inputs"] for e in datasets.read_examples(name, str(tmp_path), "fr", "train")] == [
      "[fr] What is the capital of France?", "[fr] How do I sort a list in Python?"]
  spanish = datasets.read_examples("lima_oasst", str(tmp_path), "es", "train")
  assert sorted((e["parallel_id"], e["inputs"], e["targets"]) for e in spanish) == [
      ("lima.1", "¿Cuál es la capital de Francia?",
       "La capital de Francia es París, una ciudad muy bonita."),
      ("oasst.q-1", "¿Cómo ordeno una lista en Python?", "Usa la función sorted, por ejemplo:")]


def _mkdir(path):
  path.mkdir(parents=True)
  return path


def test_guanaco_round_trip_with_google_reads_back_in_the_base_layout(tmp_path):
  source = _mkdir(tmp_path / "guanaco") / "openassistant_best_replies_train.jsonl"
  source.write_text(json.dumps({
      "text": "### Human: Escribe un poema corto sobre el mar y las olas de la playa por la"
              " noche.### Assistant: El mar es azul y las olas cantan durante toda la noche.",
      "lang": "spa_Latn"}) + "\n")
  out = tmp_path / "variants" / "rtt_google"
  with FakeGoogleTranslate(dictionary_translate) as google:
    assert main(["translate", "guanaco", "--to=es", "--round_trip", "--engine=google",
                 f"--out={out}", f"--base_url={google.url}", "--api_key_env=GT_KEY"],
                environ={"GT_KEY": "test-key"}) == 0
    assert [(hit["body"]["source"], hit["body"]["target"], len(hit["body"]["q"]))
            for hit in google.hits] == [("es", "en", 2), ("en", "es", 2)]
  [example] = guanaco.load(str(out), "es", "train", rows.DEFAULT_POLICY).examples
  assert example["targets"] == "El mar es azul y las olas cantan durante toda la noche."
  line = json.loads((out / "guanaco" / "openassistant_best_replies_train.jsonl").read_text())
  assert line["translation"]["method"] == "round_trip" and line["translation"]["source_row"] == 1
  assert "parallel_id" not in line


def p3_translate(body: dict) -> str:
  """The stub GPT-3.5: reads P3's prompt and answers in quotes, as P3's files show."""
  match = re.search(r'Original: "(.*)"\n\nTranslation into (\w+):\Z',
                    body["messages"][-1]["content"], re.DOTALL)
  return f'"{dictionary_translate(match.group(1), "en", CODES[match.group(2)])}"'


def test_p3_prompt_is_sent_as_its_release_sends_it_and_alpaca_eval_reads_back(tmp_path):
  english = [{"instruction": "What is the capital of France?"},
             {"instruction": "Hello {name}, you have %d new messages."}]
  (_mkdir(tmp_path / "alpaca_eval") / "alpaca_eval.json").write_text(json.dumps(english))
  out = tmp_path / "variants" / "translated_p3"
  with StubChatServer(p3_translate) as server:
    assert main(["translate", "alpaca_eval", "--to=es", "--engine=chat", f"--out={out}",
                 f"--base_url={server.url}", "--model=gpt-3.5-turbo-0613", "--api_key_env=",
                 "--prompt_version=p3-gpt35-v1", "--max_concurrency=1"]) == 0
    body = server.hits[0]["body"]
  assert body["messages"] == [
      {"role": "system", "content": "You are a helpful assistant."},
      {"role": "user", "content":
          "Translate the following text into Spanish. \nKeep the structure of the original text"
          " and preserve things like code and names. \nPlease ensure that your response"
          " contains only the translated text. \nThe translation must convey the same meaning"
          " as the original and be natural for native speakers with correct grammar and proper"
          " word choices. \nYour translation must also use exact terminology to provide"
          " accurate information even for the experts in the related fields.\n\nOriginal:"
          ' "What is the capital of France?"\n\nTranslation into Spanish:'}]
  assert (body["temperature"], body["seed"], body["max_tokens"]) == (0.0, 42, 2048)
  written = [json.loads(line) for line in
             (out / "alpaca_eval" / "alpaca_eval_instructions_es.json").read_text().splitlines()]
  assert [line["instruction"] for line in written] == [
      "¿Cuál es la capital de Francia?", "Hola {name}, tienes %d mensajes nuevos."]
  assert written[0]["translation"]["prompt_version"] == "p3-gpt35-v1"
  examples = alpaca_eval_format.load(str(out), "es", "test", rows.DEFAULT_POLICY).examples
  assert [e["id"] for e in examples] == ["alpaca_eval_es_test:1", "alpaca_eval_es_test:2"]
