"""python -m xlt_jax.inspect on generated demo files, as a user runs it."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from tasks import datasets
from xlt_jax import inspect
from xlt_jax.data import demo as demo_data
from xlt_jax.models.tokenizer import train_sentencepiece


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("inspect")
  demo_data.write_demo_dataset(str(root), {"train": 64, "validation": 8, "test": 8},
                               languages=("en", "es", "ja", "ar", "pt"))
  return root


def test_json_summary_of_a_mixture_from_the_command_line(demo_dir):
  environment = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run(
      [sys.executable, "-m", "xlt_jax.inspect", "smoke_budget00016", f"--data_dir={demo_dir}",
       "--json"], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  summary = json.loads(result.stdout)
  assert summary["languages"] == {"en": 48, "es": 16, "ja": 16}
  assert [(t["task"], t["count"]) for t in summary["tasks"]] == [
      ("demo_arith_en_train_n48", 48), ("demo_arith_es_train_n16", 16),
      ("demo_arith_ja_train_n16", 16)]
  assert [v["count"] for v in summary["validation"]] == [8, 8, 8]
  assert "SentencePiece trained on 160 texts" in summary["tokenizer"]["description"]
  for language in ("en", "es", "ja"):
    lengths = summary["token_lengths"][language]
    assert 1 < lengths["targets"]["median"] <= lengths["targets"]["max"]
    assert lengths["inputs"]["mean"] > lengths["targets"]["mean"]
    # Decoded examples are the source text (the tokenizer round-trips every script).
    source = {e["id"]: e for e in datasets.read_examples("demo_arith", str(demo_dir), language,
                                                          "train")}
    assert len(summary["examples"][language]) == 2
    for example in summary["examples"][language]:
      assert example["inputs"] == source[example["id"]]["inputs"]
      assert example["targets"] == source[example["id"]]["targets"]
  assert "reading demo_arith_ja_train_n16 (3/3)" in result.stderr  # progress on stderr


def test_text_summary_with_a_given_tokenizer(demo_dir, tmp_path, capsys):
  texts = [e["inputs"] for e in datasets.read_examples("demo_arith", str(demo_dir), "en", "train")]
  model = train_sentencepiece(texts, str(tmp_path / "spm.model"), 400)
  assert inspect.main(["smoke_budget00000", f"--data_dir={demo_dir}", f"--tokenizer={model}",
                       "--examples=1"]) == 0
  out = capsys.readouterr().out
  assert "smoke_budget00000 (study smoke, run budget00000, seed 0): 48 training examples" in out
  assert "demo_arith_en_train_n48" in out and "[en] demo_arith_en_train:" in out
  assert "tokenizer: the given tokenizer" in out


def test_listing_and_bad_input(demo_dir, capsys):
  assert inspect.main(["--json"]) == 0
  rows = json.loads(capsys.readouterr().out)
  assert len(rows) == 223 and rows[1]["mixture"] == "demo_budget00050"
  assert rows[1]["languages"] == ["en", "es", "fr", "ja", "zh"] and rows[1]["total"] == 800
  assert inspect.main(["smoke_budget0016", f"--data_dir={demo_dir}"]) == 2
  assert capsys.readouterr().err.strip().startswith(
      "error: unknown mixture 'smoke_budget0016'; did you mean smoke_budget00016")
  assert inspect.main(["smoke_budget00016"]) == 2
  assert "needs --data_dir" in capsys.readouterr().err
  assert inspect.main(["smoke_budget00016", f"--data_dir={demo_dir}",
                       "--tokenizer=/nope.model"]) == 2
  assert "error: tokenizer /nope.model does not exist" in capsys.readouterr().err


def test_a_mixture_typo_is_named_before_data_dir_is_asked_for(capsys):
  assert inspect.main(["smoke_budget0016"]) == 2
  error = capsys.readouterr().err
  assert error.startswith("error: unknown mixture 'smoke_budget0016'; did you mean smoke_budget00016")
  assert len(error.splitlines()) == 1 and "--data_dir" not in error
