"""text: sources (files, globs, directories, .gz, document modes, invalid UTF-8),
source specs, and the bad inputs that must give one clear line."""

import gzip
import os

import pytest

from conftest import run_cli
from scaling.data import sources, store as storelib
from scaling.data.errors import DataError
from scaling.data.sources import SourceOptions, get_source
from scaling.data.vocab import ByteVocab


def _all_docs(source):
  train, val = list(source.documents("train")), list(source.documents("validation"))
  assert not set(train) & set(val)
  return train, val


def test_text_documents_per_paragraph_file_and_line(tmp_path):
  paragraphs = [f"Paragraph {i} line one.\nParagraph {i} line two." for i in range(60)]
  (tmp_path / "a.txt").write_text("\n\n".join(paragraphs[:30]) + "\n")
  (tmp_path / "b.txt").write_text("\n\n\n".join(paragraphs[30:]))
  spec = f"text:{tmp_path}/a.txt,{tmp_path}/b.txt"
  train, val = _all_docs(get_source(spec))
  assert sorted(train + val) == sorted(paragraphs)
  assert 0 < len(val) < len(train)  # held out by hash, about one in 20
  train, val = _all_docs(get_source(spec, SourceOptions(text_documents="file")))
  assert len(train + val) == 2
  train, val = _all_docs(get_source(spec, SourceOptions(text_documents="line")))
  assert sorted(train + val) == sorted(line for p in paragraphs for line in p.split("\n"))


def test_gz_files_globs_and_directories(tmp_path):
  (tmp_path / "corpus" / "deep").mkdir(parents=True)
  docs = [f"document number {i} " * 5 for i in range(40)]
  with gzip.open(tmp_path / "corpus" / "deep" / "part1.txt.gz", "wt") as f:
    f.write("\n\n".join(docs[:20]))
  (tmp_path / "corpus" / "part2.md").write_text("\n\n".join(docs[20:]))
  (tmp_path / "corpus" / "image.png").write_bytes(b"\x89PNG\x00\xff" * 10)
  (tmp_path / "corpus" / "empty.txt").write_text("")
  by_dir = get_source(f"text:{tmp_path}/corpus")
  by_glob = get_source(f"text:{tmp_path}/corpus/*.md,{tmp_path}/corpus/**/*.*z")
  for source in (by_dir, by_glob):
    train, val = _all_docs(source)
    assert sorted(train + val) == sorted(d.strip() for d in docs)
  assert by_dir.fingerprint == by_glob.fingerprint  # the same files in the same order
  (tmp_path / "corpus" / "part2.md").write_text("changed")
  assert get_source(f"text:{tmp_path}/corpus").fingerprint != by_dir.fingerprint


def test_invalid_utf8_is_replaced_counted_and_reported(tmp_path, capsys):
  good = "A sentence of valid text that goes on for a while. " * 40
  data = b"".join(f"{i}: {good}".encode() + b"\xff\xfe bad \xc3(" + b"\n\n"
                  + f"{i}: {good}".encode()[:-40] + b"\x80\n\n" for i in range(30))
  path = tmp_path / "bad.txt"
  path.write_bytes(data)
  source = get_source(f"text:{path}")
  train, val = _all_docs(source)
  assert sum(d.count("\ufffd") for d in train + val) == 4 * 30
  store = storelib.build_store(get_source(f"text:{path}"), ByteVocab(), str(tmp_path / "cache"),
                               use_seqio=False)
  assert store.manifest["invalid_utf8_bytes"] == 4 * 30
  assert store.manifest["invalid_utf8_files"] == {str(path): 4 * 30}
  assert "120 bytes of invalid UTF-8 replaced" in capsys.readouterr().err


@pytest.mark.parametrize("make, spec_tail, fragment", [
    (lambda d: None, "missing.txt", "does not exist"),
    (lambda d: (d / "empty.txt").write_text(""), "empty.txt", "is empty"),
    (lambda d: None, "nothing-*.txt", "matches no file"),
    (lambda d: (d / "dir").mkdir() or (d / "dir" / "x.bin").write_bytes(b"x"), "dir",
     "has no text files"),
])
def test_bad_text_inputs_name_the_source_and_the_fix(tmp_path, make, spec_tail, fragment):
  make(tmp_path)
  spec = f"text:{tmp_path}/{spec_tail}"
  with pytest.raises(DataError) as e:
    get_source(spec)
  message = str(e.value)
  assert message.startswith(spec) and fragment in message and "\n" not in message


def test_a_single_file_as_one_document_cannot_make_a_validation_split(tmp_path):
  path = tmp_path / "one.txt"
  path.write_text("just one document " * 100)
  source = get_source(f"text:{path}", SourceOptions(text_documents="file"))
  with pytest.raises(storelib.StoreError, match="use data.text_documents=paragraph"):
    storelib.build_store(source, ByteVocab(), str(tmp_path / "cache"), use_seqio=False)
  assert not [n for n in os.listdir(tmp_path / "cache") if not n.endswith(".lock")]


def test_source_specs_are_checked_before_anything_runs():
  assert sources.spec_error("embedded") is None
  assert sources.spec_error("text:a.txt") is None
  assert "unknown" in sources.spec_error("webtext2")
  assert "names nothing" in sources.spec_error("tfds:")
  with pytest.raises(DataError, match="tfds:NAME"):
    get_source("tfds:Not A Name")


def test_the_cli_turns_a_bad_source_into_one_error_line(tmp_path):
  result = run_cli("scaling.cli.train", "--config", "configs/transformer.py:size=nano",
                   "--workdir", str(tmp_path / "w"), f"--config.data.source=text:{tmp_path}/no.txt")
  assert result.returncode == 2
  lines = result.stderr.strip().splitlines()
  assert lines[-1].startswith(f"error: text:{tmp_path}/no.txt: file") and "does not exist" in lines[-1]
  assert not os.path.exists(tmp_path / "w" / "summary.json")
