"""notebooks/inspect_mixtures.ipynb runs top to bottom on demo data (nbclient, python3 kernel)."""

import nbclient
import nbformat
import pytest
from conftest import REPO_ROOT

from xlt_jax.data import demo as demo_data

NOTEBOOK = REPO_ROOT / "notebooks" / "inspect_mixtures.ipynb"


def _text(cell) -> str:
  """Everything a cell printed or displayed as text."""
  parts = []
  for output in cell.get("outputs", []):
    parts.append(output.get("text", ""))
    parts += [output.get("data", {}).get(kind, "") for kind in ("text/plain", "text/html")]
  return "\n".join(parts)


def test_notebook_shows_counts_tables_and_the_language_plot(tmp_path, monkeypatch):
  demo_data.write_demo_dataset(str(tmp_path), {"train": 64, "validation": 8, "test": 8},
                               languages=("en", "es", "ja", "ar", "pt"))
  monkeypatch.setenv("XLT_DATA_DIR", str(tmp_path))
  monkeypatch.setenv("XLT_MIXTURE", "smoke_budget00016")
  monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend shows the plot
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
  # The kernel starts in the repository root, so it imports this checkout's xlt_jax.
  client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                   resources={"metadata": {"path": str(REPO_ROOT)}})
  try:
    client.execute()
  except nbclient.exceptions.CellExecutionError as error:
    pytest.fail(f"the notebook failed: {error}")
  texts = [_text(cell) for cell in notebook.cells if cell.cell_type == "code"]
  everything = "\n".join(texts)
  assert f"data: {tmp_path}" in everything
  assert "smoke_budget00016: 80 training examples" in everything
  assert "demo_arith_es_train_n16" in everything  # the task table
  assert "{'en': 48, 'es': 16, 'ja': 16}" in everything  # the plotted composition
  assert any("image/png" in output.get("data", {})
             for cell in notebook.cells for output in cell.get("outputs", []))
  assert "demo_arith_ja_validation_n8" in everything  # the held-out validation table
