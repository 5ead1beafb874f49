"""The papers' seeded evaluation samples as catalogue settings: XLSum 250 (P0), AlpacaEval
300 (P3), OASST 50 (P2)."""

import json

import seqio

from tasks import datasets, mixtures
from xlt_jax.studies.designs import StudyDesign


def _write_xlsum_test(data_dir, name: str, rows: int) -> None:
  """Rows in XL-Sum's official JSONL layout (id, url, title, summary, text)."""
  path = data_dir / "xlsum" / f"{name}_test.jsonl"
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join(json.dumps({
      "id": f"{name}-{number}", "url": f"https://www.bbc.com/{name}-{number}",
      "title": f"Title {number}", "summary": f"Summary {number}.",
      "text": f"Article {number}."}) + "\n" for number in range(rows)))


def _test_ids(task: str) -> list[str]:
  dataset = seqio.get_mixture_or_task(task).get_dataset(None, split="test", shuffle=False)
  return [example["id"].decode() for example in dataset.as_numpy_iterator()]


def test_catalogued_samples_are_the_papers():
  samples = {name: datasets.get_dataset(name).evaluation_sample
             for name in ("xlsum", "alpaca_eval", "oasst", "mgsm")}
  assert samples == {"xlsum": 250, "alpaca_eval": 300, "oasst": 50, "mgsm": None}


def test_a_study_evaluates_xlsum_on_its_seeded_250_item_sample(tmp_path):
  _write_xlsum_test(tmp_path, "english", 260)
  _write_xlsum_test(tmp_path, "spanish", 12)  # smaller than the sample: all of it
  design = StudyDesign(name="sample", dataset="xlsum", seen_languages=("es",),
                       unseen_languages=(), budgets=(0,), english_size=1, seed=3)
  tasks = mixtures.register_evaluation_tasks(design, str(tmp_path),
                                             seqio.ByteVocabulary())["xlsum"]
  english = _test_ids(tasks["en"])
  assert len(english) == len(set(english)) == 250
  assert set(english) < {f"xlsum_en_test:{line}" for line in range(1, 261)}
  assert len(_test_ids(tasks["es"])) == 12
  # A design's own evaluation_size still wins.
  sized = StudyDesign(name="sized", dataset="xlsum", seen_languages=("es",), unseen_languages=(),
                      budgets=(0,), english_size=1, seed=3, evaluation_size=10)
  tasks = mixtures.register_evaluation_tasks(sized, str(tmp_path),
                                             seqio.ByteVocabulary())["xlsum"]
  assert len(_test_ids(tasks["en"])) == 10
