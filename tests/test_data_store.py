"""The token store: one build when processes race, truncation detected with a
clear line, and the scaling-data CLI (build, info, list)."""

import fcntl
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, run_cli
from data_texts import book_text, write
from scaling.data import store as storelib
from scaling.data.sources import get_source
from scaling.data.vocab import ByteVocab

_BUILD = """
import sys
from scaling.data import store
from scaling.data.sources import get_source
from scaling.data.vocab import ByteVocab
s = store.build_store(get_source(sys.argv[1]), ByteVocab(), sys.argv[2], use_seqio=False)
print(s.path, s.manifest["splits"]["train"]["tokens"])
"""


@pytest.mark.slow
def test_two_processes_building_one_store_build_it_once(tmp_path):
  book = write(tmp_path / "book.txt", book_text(200_000))
  cache = str(tmp_path / "cache")
  source = get_source(f"text:{book}")
  lock_path = storelib.store_path(source, ByteVocab(), cache) + ".lock"
  os.makedirs(cache)
  env = dict(os.environ, PYTHONPATH=REPO)
  with open(lock_path, "a") as lock:  # hold the lock so both start waiting on it
    fcntl.flock(lock, fcntl.LOCK_EX)
    procs = [subprocess.Popen([sys.executable, "-c", _BUILD, f"text:{book}", cache], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    time.sleep(2)  # both are started and blocked on the lock by now
    fcntl.flock(lock, fcntl.LOCK_UN)
  outs = [p.communicate(timeout=300) for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outs
  assert sum(err.count("building token store") for _, err in outs) == 1
  assert outs[0][0] == outs[1][0]  # same path, same token count
  store = storelib.open_store(outs[0][0].split()[0], checksums=True)
  assert store.manifest["splits"]["train"]["tokens"] > 100_000
  assert [n for n in os.listdir(cache) if n.startswith(".building")] == []


def test_a_truncated_store_names_the_source_and_the_fix(tmp_path):
  book = write(tmp_path / "book.txt", book_text(50_000))
  source = get_source(f"text:{book}")
  store = storelib.build_store(source, ByteVocab(), str(tmp_path), use_seqio=False,
                               progress=False)
  path = os.path.join(store.path, "train.bin")
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)
  with pytest.raises(storelib.StoreError) as e:
    storelib.build_store(source, ByteVocab(), str(tmp_path), use_seqio=False)
  assert f"text:{book}" in str(e.value) and "truncated" in str(e.value)
  assert "scaling-data build --force" in str(e.value)
  result = run_cli("scaling.cli.data", "info", "--path", store.path)
  assert result.returncode == 2 and result.stderr.startswith("error: the token store of")
  rebuilt = storelib.build_store(source, ByteVocab(), str(tmp_path), use_seqio=False,
                                 progress=False, force=True)
  rebuilt.verify(checksums=True)


@pytest.mark.slow
def test_scaling_data_build_info_and_list(tmp_path):
  book = write(tmp_path / "book.txt", book_text(50_000))
  cache = str(tmp_path / "cache")
  spec = f"text:{book}"
  missing = run_cli("scaling.cli.data", "--cache_dir", cache, "info", "--source", spec)
  assert missing.returncode == 1 and "not built" in missing.stderr
  built = run_cli("scaling.cli.data", "--cache_dir", cache, "build", "--source", spec,
                  "--no-progress")
  assert built.returncode == 0, built.stderr[-2000:]
  info = run_cli("scaling.cli.data", "--cache_dir", cache, "info", "--source", spec,
                 "--checksums")
  assert info.returncode == 0 and info.stdout == built.stdout
  (store_dir,) = [d for d in os.listdir(cache) if not d.endswith(".lock")]
  with open(os.path.join(cache, store_dir, "manifest.json")) as f:
    manifest = json.load(f)
  train = manifest["splits"]["train"]
  row = next(line for line in info.stdout.splitlines() if line.startswith("train"))
  assert row.split() == ["train", f"{train['documents']:,}", f"{train['tokens']:,}",
                         f"{train['bytes']:,}", f"{train['tokens'] / train['bytes']:.4f}"]
  listed = run_cli("scaling.cli.data", "--cache_dir", cache, "list")
  assert listed.returncode == 0 and "token stores in" in listed.stdout
  assert spec in listed.stdout and store_dir in listed.stdout
  bad = run_cli("scaling.cli.data", "--cache_dir", cache, "build", "--source", "nonsense")
  assert bad.returncode == 2 and bad.stderr.startswith("error: source 'nonsense' is unknown")


def test_an_altered_store_fails_its_checksum_when_opened(tmp_path):
  book = write(tmp_path / "book.txt", book_text(50_000))
  source = get_source(f"text:{book}")
  store = storelib.build_store(source, ByteVocab(), str(tmp_path), use_seqio=False,
                               progress=False)
  path = os.path.join(store.path, "train.bin")
  with open(path, "r+b") as f:  # same size, one token changed
    f.seek(1000)
    byte = f.read(1)
    f.seek(1000)
    f.write(bytes([byte[0] ^ 1]))
  with pytest.raises(storelib.StoreError, match="fails its checksum: train.bin was altered"):
    storelib.build_store(source, ByteVocab(), str(tmp_path), use_seqio=False)
  storelib.open_store(store.path, checksums=False)  # a large store: only the size check


def test_a_full_disk_while_building_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
  import errno  # pylint: disable=g-import-not-at-top
  source = get_source(f"text:{write(tmp_path / 'book.txt', book_text(2000))}")

  def full(*args, **kwargs):
    raise OSError(errno.EFBIG, "File too large")

  monkeypatch.setattr(storelib, "_write_split", full)
  with pytest.raises(storelib.StoreError, match="cannot build the token store .*: File too "
                     "large; free space in "):
    storelib.build_store(source, ByteVocab(), str(tmp_path / "cache"), use_seqio=False)
  assert not [d for d in os.listdir(tmp_path / "cache") if not d.endswith(".lock")]
