"""The nltk: source: NLTK's data layout, tags stripped, a fixed three-way split."""

import os
import zipfile

import pytest

from conftest import REPO, run_cli, small_config
from scaling.data import nltk_source
from scaling.data.errors import DataError
from scaling.data.sources import SourceOptions, get_source
from scaling.train.loop import prepare
from scaling.validation import ConfigError

SHARED = os.path.join(os.path.dirname(REPO), "shared", "nltk_data")
TRAIN, HELD_OUT = "nltk:brown,movie_reviews,abc,webtext", "nltk:state_union,inaugural"


def _zip(root, corpus, files: dict) -> str:
  os.makedirs(os.path.join(root, "corpora"), exist_ok=True)
  path = os.path.join(root, "corpora", f"{corpus}.zip")
  with zipfile.ZipFile(path, "w") as z:
    z.writestr(f"{corpus}/README", "not a document")
    for name, data in files.items():
      z.writestr(f"{corpus}/{name}", data)
  return path


def _docs(spec, split, **options):
  return list(get_source(spec, SourceOptions(**options)).documents(split))


def test_brown_tags_are_stripped_and_each_sample_is_a_document(tmp_path):
  _zip(tmp_path, "brown", {"ca01": b"\n\n\tThe/at cat/nn sat/vbd ./.\n\n\n\tA/at 1/2/cd mat/nn\n",
                           "cats.txt": b"ca01 news"})
  source = get_source("nltk:brown", SourceOptions(nltk_data=str(tmp_path)))
  docs = [d for split in ("train", "validation") for d in source.documents(split)]
  tune = list(get_source("nltk:brown:tune", SourceOptions(nltk_data=str(tmp_path)))
              .documents("validation"))
  assert docs + tune == ["The cat sat .\nA 1/2 mat"]  # cats.txt and README are no documents


def test_each_corpus_is_decoded_with_nltks_encoding(tmp_path):
  _zip(tmp_path, "inaugural", {"1789-Washington.txt": "Fellow café".encode("latin-1")})
  _zip(tmp_path, "abc", {"rural.txt": "naïve\n\nsecond story".encode("utf-8"),
                         "science.txt": "Zürich".encode("latin-1")})
  every = lambda spec: sorted(d for s in ("train", "validation") for d in _docs(
      spec, s, nltk_data=str(tmp_path)) + _docs(spec + ":tune", "validation",
                                                 nltk_data=str(tmp_path)))
  assert every("nltk:inaugural") == ["Fellow café"]
  assert every("nltk:abc") == ["Zürich", "naïve", "second story"]  # abc: one per block


def test_the_shared_corpora_split_three_ways_by_document_without_overlap():
  options = {"nltk_data": SHARED}
  train, val = (set(_docs(TRAIN, s, **options)) for s in ("train", "validation"))
  tune = set(_docs(TRAIN + ":tune", "validation", **options))
  assert not (train & val) and not (train & tune) and not (val & tune)
  total = len(train) + len(val) + len(tune)
  for part in (val, tune):  # one in 20 each, by a hash of the text
    assert 0.04 < len(part) / total < 0.06
  brown = _docs("nltk:brown", "train", **options)
  assert len(brown) > 400 and not any("/at " in d or "/nn " in d for d in brown)
  first = _docs(TRAIN, "validation", **options)
  assert len(first) == len(val) and first == _docs(TRAIN, "validation", **options)


def test_the_fingerprint_follows_the_content_not_the_path(tmp_path):
  a, b = tmp_path / "a", tmp_path / "b"
  _zip(a, "webtext", {"wine.txt": b"red\nwhite\n"})
  _zip(b, "webtext", {"wine.txt": b"red\nwhite\n"})
  fp = lambda root, spec="nltk:webtext": get_source(spec, SourceOptions(
      nltk_data=str(root))).fingerprint
  assert fp(a) == fp(b) and fp(a) != fp(a, "nltk:webtext:tune")
  _zip(b, "webtext", {"wine.txt": b"red\nrose\n"})
  assert fp(a) != fp(b)


@pytest.mark.parametrize("spec, fragment", [
    ("nltk:", "names nothing"), ("nltk:bronw", "unknown corpus 'bronw'"),
    ("nltk:brown:test", "':test' is unknown"), ("nltk:brown,brown", "twice")])
def test_bad_specs_say_what_to_fix(spec, fragment):
  with pytest.raises(DataError, match=fragment):
    get_source(spec, SourceOptions(nltk_data=SHARED))


def test_missing_corpora_name_the_downloader_command_in_one_line(tmp_path):
  with pytest.raises(DataError) as e:
    get_source("nltk:brown,abc", SourceOptions(nltk_data=str(tmp_path)))
  assert "python -m nltk.downloader" in str(e.value) and "brown abc" in str(e.value)
  out = run_cli("scaling.cli.data", "build", "--source", "nltk:brown",
                "--nltk_data", str(tmp_path))
  assert out.returncode == 2 and "Traceback" not in out.stderr
  assert out.stderr.strip().count("\n") == 0 and "nltk.downloader" in out.stderr


def test_nltk_data_comes_from_the_environment(tmp_path, monkeypatch):
  _zip(tmp_path, "webtext", {"pirates.txt": b"a line\n" * 3})
  monkeypatch.setenv("NLTK_DATA", f"{tmp_path / 'none'}{os.pathsep}{tmp_path}")
  assert nltk_source.search_path(SourceOptions())[:2] == [str(tmp_path / "none"), str(tmp_path)]
  assert get_source("nltk:webtext").name == "nltk:webtext"


def test_the_tuning_split_cannot_be_trained_on():
  with pytest.raises(ConfigError, match="tuning split"):
    prepare(small_config("nano", **{"data.source": TRAIN + ":tune"}))
