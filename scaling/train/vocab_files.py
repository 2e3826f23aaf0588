"""A run's vocabulary files: the run keeps its own copy of its vocabulary.

A run's vocabulary is fixed when it starts: it is written into the workdir
(vocab.json, and vocab.model for SentencePiece or vocab.tiktoken for GPT-2's
BPE), and a resumed run or an evaluation uses that copy, so all of them see
the same ids. Written by the training loop; read by it and by scaling-eval.
"""

from __future__ import annotations

from scaling.data.errors import DataError
from scaling.data.gpt2_vocab import Gpt2Vocab, is_gpt2
from scaling.data.sources import SourceOptions, get_source
from scaling.data.vocab import ByteVocab, SpmVocab, get_vocab
from scaling.results import run as run_files
from scaling.results.run import RunDir

RUN_VOCAB_JSON, RUN_VOCAB_MODEL = run_files.VOCAB_JSON, run_files.VOCAB_MODEL
RUN_VOCAB_BPE = run_files.VOCAB_BPE


def run_vocab(data_cfg, workdir: str, *, progress: bool = True):
  """The run's vocabulary: the workdir's copy if the run has one for this
  data.vocab, else data.vocab itself (trained or reused for spm:SIZE)."""
  if data_cfg.source == "synthetic":
    return None
  saved = RunDir(workdir).vocab_info()
  if saved and saved.get("spec") == data_cfg.vocab and saved.get("file"):
    vocab = _saved_spm(workdir, saved)
    spm_path = not is_gpt2(saved["spec"]) and not saved["spec"].partition(":")[2].isdigit()
    if spm_path:  # spm:PATH: must still match
      current = get_vocab(data_cfg.vocab)
      if current.sha256 != vocab.sha256:
        raise DataError(
            f"data.vocab={data_cfg.vocab} is not the SentencePiece model this run was "
            f"trained with (sha256 {current.sha256[:12]} vs {vocab.sha256[:12]}, kept in "
            f"{vocab.path}); put the original model back or use a new --workdir")
    return vocab
  text_source = get_source(data_cfg.source, SourceOptions.from_config(data_cfg))
  return get_vocab(data_cfg.vocab, source=text_source, cache_dir=data_cfg.cache_dir or None,
                   progress=progress, max_train_tokens=data_cfg.max_train_tokens)


def _saved_spm(workdir: str, saved: dict) -> SpmVocab | Gpt2Vocab:
  path = RunDir(workdir).file(saved["file"])
  if is_gpt2(saved["spec"]):
    vocab = Gpt2Vocab(saved["spec"], path=path)
  else:
    vocab = SpmVocab(path, spec=saved["spec"])
  if vocab.sha256 != saved.get("sha256"):
    raise DataError(f"{vocab.path} is not the vocabulary this run was trained with "
                    f"(its sha256 differs from {RUN_VOCAB_JSON}'s); restore it or use a "
                    "new --workdir")
  return vocab


def save_run_vocab(workdir: str, vocab) -> None:
  """Writes vocab.json (and a copy of the spm model) into the workdir."""
  if vocab is None:
    return
  info = {"spec": vocab.spec, "name": vocab.name, "vocab_size": vocab.vocab_size,
          "eos_id": vocab.eos_id, "sha256": vocab.sha256, "file": None}
  run = RunDir(workdir)
  if vocab.path:
    name = RUN_VOCAB_BPE if is_gpt2(vocab.spec) else RUN_VOCAB_MODEL
    run.copy_vocab_file(vocab.path, name)
    info["file"] = name
  if run.vocab_info() != info:
    run.write_vocab_info(info)


def load_run_vocab(workdir: str, data_cfg):
  """The vocabulary a run in `workdir` was trained with (for evaluation)."""
  saved = RunDir(workdir).vocab_info()
  if saved is None:
    if data_cfg.vocab == "byte":
      return ByteVocab()
    raise DataError(f"{workdir} has no {RUN_VOCAB_JSON}, so its data.vocab={data_cfg.vocab} "
                    "cannot be recovered; evaluate a run made by this version")
  if saved.get("file"):
    return _saved_spm(workdir, saved)
  return ByteVocab()
