"""The PyTorch peers of the benchmark suite, each run in its own process.

  python -m scaling.bench.peers ROW_JSON RESULT_JSON

`nanogpt`: Karpathy's nanoGPT model (its own model.py, imported at run time
from PEERS_DIR/nanoGPT; none of its code is in this repository) and the
training step of its train.py/bench.py: bf16 autocast, TF32 allowed,
torch.compile, fused AdamW (configure_optimizers), grad clip 1.0.
On the CPU (row["device"] == "cpu", `scaling-bench --suite cpu`) the peer runs
in float32 (no autocast: the project's CPU dtype), with
torch.set_num_threads(row["threads"]), eager or torch.compile (row["compile"]),
and nanoGPT's own choice of AdamW off CUDA (not fused).
`torch_lstm`: our own PyTorch model of the same function as scaling's LSTM:
embedding, nn.LSTM (cuDNN), final LayerNorm, logits tied to the embedding,
fused AdamW, bf16 autocast, fp32 master weights; the dtype cuDNN ran the
recurrence in under autocast is recorded in the row's note.
This module imports no JAX, so the peer has the GPU to itself.
`prepare(src, dest)` copies nanoGPT's model.py from a local checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

from scaling.results.io import write_json

NANOGPT_FILES = ("model.py", "LICENSE")


def nanogpt_dir(peers_dir: str) -> str:
  return os.path.join(peers_dir, "nanoGPT")


def prepare(src: str, peers_dir: str) -> str:
  """Copies nanoGPT's model.py (and its LICENSE) from checkout `src` into PEERS_DIR/nanoGPT."""
  if not os.path.isfile(os.path.join(src, "model.py")):
    raise FileNotFoundError(f"{src!r} has no model.py; point at a karpathy/nanoGPT checkout")
  dest = nanogpt_dir(peers_dir)
  os.makedirs(dest, exist_ok=True)
  for name in NANOGPT_FILES:
    if os.path.isfile(os.path.join(src, name)):
      shutil.copy(os.path.join(src, name), os.path.join(dest, name))
  return dest


def unavailable(row: dict, peers_dir: str) -> str | None:
  """Why the peer cannot run here (one line), or None; imports nothing heavy."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  if row["kind"] == "nanogpt" and not os.path.isfile(
      os.path.join(nanogpt_dir(peers_dir), "model.py")):
    return (f"nanoGPT's files are absent ({nanogpt_dir(peers_dir)}/model.py; "
            "scaling-bench --prepare_peers=PATH/TO/nanoGPT)")
  if importlib.util.find_spec("torch") is None:
    return "PyTorch is not installed"
  return None


def _nanogpt(row, torch, device):
  sys.path.insert(0, nanogpt_dir(row["peers_dir"]))
  from model import GPT, GPTConfig  # pylint: disable=g-import-not-at-top,import-error
  model = GPT(GPTConfig(block_size=row["n_ctx"], vocab_size=row["vocab"],
                        n_layer=row["n_layer"], n_head=row["n_heads"],
                        n_embd=row["d_model"], dropout=0.0, bias=True)).to(device)
  opt = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-4, betas=(0.9, 0.95),
                                   device_type=device)
  # one shape per process: static kernels
  compiled = torch.compile(model, dynamic=False) if row.get("compile", True) else model
  return (lambda x, y: compiled(x, y)[1]), model, opt


def _torch_lstm(row, torch, device):
  """Embedding + nn.LSTM + LayerNorm + tied logits (torch is imported late, in the child)."""
  nn = torch.nn
  d, v = row["d_model"], row["vocab"]

  class Model(nn.Module):
    def __init__(self):
      super().__init__()
      self.embed = nn.Embedding(v, d)
      self.lstm = nn.LSTM(d, d, num_layers=row["n_layer"], batch_first=True)
      self.ln_f = nn.LayerNorm(d)
      self.recurrence_dtype = None

    def forward(self, x, y):
      h, _ = self.lstm(self.embed(x))
      self.recurrence_dtype = str(h.dtype).replace("torch.", "")
      logits = self.ln_f(h) @ self.embed.weight.T
      return nn.functional.cross_entropy(logits.view(-1, v).float(), y.view(-1))

  model = Model().to(device)
  opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1,
                          fused=device == "cuda")
  return model, model, opt


def measure(row: dict) -> dict:
  """Times the peer's train step after warm-up (torch.compile runs in the warm-up).

  row["device"] (default cuda) and row["compile"] (default True) exist so that
  a CPU smoke test can run the same code without a GPU.
  """
  import torch  # pylint: disable=g-import-not-at-top
  device = row.get("device", "cuda")
  if device == "cuda" and not torch.cuda.is_available():
    return {"status": "skipped", "reason": "the PyTorch peer needs a CUDA GPU"}
  sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
  if row.get("threads"):
    torch.set_num_threads(row["threads"])
  bf16 = row.get("dtype", "bf16" if device == "cuda" else "float32") == "bf16"
  torch.manual_seed(0)
  torch.backends.cuda.matmul.allow_tf32 = True
  torch.backends.cudnn.allow_tf32 = True
  loss_fn, model, opt = (_nanogpt(row, torch, device) if row["kind"] == "nanogpt"
                         else _torch_lstm(row, torch, device))
  x = torch.randint(row["vocab"], (row["batch"], row["n_ctx"]), device=device)
  y = torch.randint(row["vocab"], (row["batch"], row["n_ctx"]), device=device)

  def step():
    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
      loss = loss_fn(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss

  def timed(n):
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
      loss = step()
    sync()
    return (time.perf_counter() - t0) / n, loss

  compile_s, _ = timed(row.get("warmup", 3))
  one_s, _ = timed(1)
  steps = int(min(row.get("steps", 50), max(3, (row.get("target_s") or 0) / one_s)))
  step_s, loss = timed(steps)
  cuda = device == "cuda"
  return {"status": "measured", "tokens_per_sec": row["batch"] * row["n_ctx"] / step_s,
          "step_time_s": step_s, "compile_time_s": compile_s * row.get("warmup", 3),
          "steps_timed": steps,
          "peak_memory_bytes": torch.cuda.max_memory_allocated() if cuda else None,
          "final_loss": float(loss), "dtype": "bf16 autocast" if bf16 else "float32",
          "note": (f"LSTM output {model.recurrence_dtype}" if row["kind"] == "torch_lstm"
                   else ("torch.compile" if row.get("compile", True) else "eager")
                   + (", fused AdamW" if cuda else
                      f", AdamW (not fused), {torch.get_num_threads()} threads")),
          "versions": {"torch": torch.__version__, "cuda_runtime": torch.version.cuda,
                       "cudnn": torch.backends.cudnn.version() if cuda else None,
                       "device": torch.cuda.get_device_name(0) if cuda else device}}


def main(argv) -> int:
  row_path, out_path = argv[1:3]
  with open(row_path) as f:
    row = json.load(f)
  try:
    why = unavailable(row, row["peers_dir"])
    result = {"status": "unavailable", "reason": why} if why else measure(row)
  except Exception as e:  # pylint: disable=broad-except
    first = str(e).splitlines()[0][:300] if str(e) else ""
    result = {"status": "failed", "reason": f"{type(e).__name__}: {first}"}
  write_json(out_path, result)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
