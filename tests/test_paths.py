"""core/paths: the same operations on local paths and on gs:// (a GCS server on loopback)."""

import os

import fake_gcs  # tests/ is on sys.path (pytest's rootdir-relative import)
import pytest

from xlt_jax.core import atomic_io, paths

BUCKET = "paths-test"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
  with fake_gcs.FakeGcs(str(tmp_path_factory.mktemp("gcs-certificates"))) as server:
    with pytest.MonkeyPatch.context() as patch:
      for name, value in server.environment().items():
        patch.setenv(name, value)
      yield server


@pytest.fixture(params=["local", "gcs"])
def root(request, tmp_path):
  if request.param == "local":
    return str(tmp_path / "root")
  request.getfixturevalue("gcs")
  return f"gs://{BUCKET}/{os.path.basename(str(tmp_path))}"


def test_urls_are_not_local_paths():
  assert not paths.is_local("gs://bucket/x") and paths.is_local("relative/x")
  assert paths.absolute("gs://bucket/x/") == "gs://bucket/x"
  assert paths.absolute("relative") == os.path.abspath("relative")
  assert paths.join("gs://bucket/x", "y", "z.json") == "gs://bucket/x/y/z.json"
  assert paths.dirname("gs://bucket/x/y") == "gs://bucket/x"
  assert paths.basename("gs://bucket/x/y.json") == "y.json"
  assert paths.relpath("gs://bucket/x/y/z", "gs://bucket/x/") == "y/z"


def test_files_and_directories(root):
  data = paths.join(root, "data", "a.txt")
  assert not paths.exists(root)
  atomic_io.write_text(data, "één\r\ntwo\n")
  assert paths.isfile(data) and not paths.isdir(data)
  assert paths.isdir(paths.join(root, "data")) and not paths.isfile(paths.join(root, "data"))
  assert paths.read_text(data) == "één\ntwo\n"  # universal newlines, as builtin open
  with paths.open(data, newline="") as file:
    assert file.read() == "één\r\ntwo\n"
  with paths.open(data) as file:
    assert list(file) == ["één\n", "two\n"]
  assert paths.read_bytes(data) == "één\r\ntwo\n".encode()
  assert paths.getsize(data) == len("één\r\ntwo\n".encode())

  log = paths.join(root, "data", "log.jsonl")
  with paths.open(log, "a") as file:
    file.write("1\n")
    file.flush()
  with paths.open(log, "a") as file:
    file.write("2\n")
  assert paths.read_text(log) == "1\n2\n"

  paths.makedirs(paths.join(root, "data", "sub"))
  paths.makedirs(paths.join(root, "data", "sub"))  # existing: fine
  atomic_io.write_json(paths.join(root, "data", "sub", "b.json"), {"b": 1})
  assert paths.listdir(paths.join(root, "data")) == ["a.txt", "log.jsonl", "sub"]
  assert paths.glob(paths.join(root, "data", "*.txt")) == [data]
  walked = {paths.relpath(top, root).replace(os.sep, "/"): sorted(files)
            for top, _, files in paths.walk(root)}
  assert walked == {".": [], "data": ["a.txt", "log.jsonl"], "data/sub": ["b.json"]}

  paths.copy(data, paths.join(root, "copy.txt"))
  paths.replace(paths.join(root, "copy.txt"), paths.join(root, "data", "log.jsonl"))
  assert paths.read_text(paths.join(root, "data", "log.jsonl")) == "één\ntwo\n"
  assert not paths.exists(paths.join(root, "copy.txt"))
  paths.rename(paths.join(root, "data", "sub"), paths.join(root, "moved"))
  assert paths.listdir(paths.join(root, "moved")) == ["b.json"]
  paths.remove(data)
  assert not paths.exists(data)
  with pytest.raises(FileNotFoundError):
    paths.open(data)
  paths.rmtree(root)
  assert not paths.exists(root)


def test_local_copies_for_libraries_that_need_them(root):
  source = paths.join(root, "model.bin")
  paths.makedirs(root)
  with paths.local_output(source) as local:
    assert paths.is_local(local)
    with open(local, "wb") as file:
      file.write(b"\x00\x01")
  with paths.local_file(source) as local:
    assert paths.is_local(local)
    with open(local, "rb") as file:
      assert file.read() == b"\x00\x01"
  with paths.open(source, "rb") as file:  # a store's file seeks too (safetensors reads so)
    file.seek(1)
    assert file.read() == b"\x01"


def test_atomic_write_leaves_no_temporary_file_behind(root):
  target = paths.join(root, "out.json")
  atomic_io.write_json(target, {"a": 1})
  with pytest.raises(RuntimeError):
    def fail(file):
      file.write("partial")
      raise RuntimeError("crash mid-write")
    atomic_io.write_atomically(target, fail)
  assert paths.read_text(target) == '{\n  "a": 1\n}\n'
  assert paths.listdir(root) == ["out.json"]


def test_gcs_writes_reach_the_bucket_not_the_local_disk(gcs, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  atomic_io.write_text(f"gs://{BUCKET}/direct/file.txt", "x")
  assert gcs.read(BUCKET, "direct/file.txt") == b"x"
  assert not list(tmp_path.iterdir())
