"""`scaling-bench --suite paper`: every row of the throughput targets in one call.

Each row runs in its own process by default (JAX rows: scaling.bench.rows;
PyTorch peers: scaling.bench.peers), one after another, so that the frameworks
never share the GPU and a lever's XLA_FLAGS apply from the start. A row that
would not fit in what is left of the time budget, or that the device cannot
run, is skipped with a one-line reason; a row that overruns is stopped.
Writes DIR/bench.json and DIR/bench.md (scaling.bench.report).

`rounds` > 1 measures every row that many times in turn (A B A B ...), takes
each round's ratio to the peer from that round's two rows, and reports the
median ratio and the median tokens/s: on a shared machine whose speed drifts,
only ratios of rows run in the same moment mean anything (`--suite cpu`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from scaling.bench import peers as bench_peers
from scaling.bench import report as bench_report
from scaling.bench import rows as bench_rows
from scaling.bench.plan import PAPER_TABLE, PAPER_TABLE_SOURCE
from scaling.results.io import write_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_KINDS = ("nanogpt", "torch_lstm")


def _child_env(row) -> dict:
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH")) if p)
  env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # the next row (torch) needs the GPU
  if row.get("xla_flags"):  # the row's own value of a flag replaces the inherited one
    named = {f.split("=")[0] for f in row["xla_flags"].split()}
    kept = [f for f in env.get("XLA_FLAGS", "").split() if f.split("=")[0] not in named]
    env["XLA_FLAGS"] = " ".join([*kept, row["xla_flags"]])
  return env


def _in_child(module: str, row: dict, timeout_s: float) -> dict:
  """Runs `python -m module ROW RESULT` in a new process group; kills it on timeout."""
  with tempfile.TemporaryDirectory() as tmp:
    row_path, out_path = os.path.join(tmp, "row.json"), os.path.join(tmp, "result.json")
    write_json(row_path, row)
    proc = subprocess.Popen([sys.executable, "-m", module, row_path, out_path], cwd=REPO,
                            env=_child_env(row), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
      log, _ = proc.communicate(timeout=max(timeout_s, 1))
    except subprocess.TimeoutExpired:
      os.killpg(proc.pid, signal.SIGKILL)
      proc.communicate()
      return {"status": "timeout", "reason": f"stopped after {timeout_s:.0f} s"}
    if os.path.exists(out_path):
      with open(out_path) as f:
        return json.load(f)
    tail = (log or "").strip().splitlines()[-1:] or ["no output"]
    return {"status": "failed", "reason": f"exit {proc.returncode}: {tail[0][:300]}"}


def _run_one(row: dict, *, isolate: bool, timeout_s: float, peers_dir: str) -> dict:
  if row["kind"] in PEER_KINDS:
    peers_dir = os.path.abspath(peers_dir)  # the child runs in the repository root
    row = dict(row, peers_dir=peers_dir)
    why = bench_peers.unavailable(row, peers_dir)
    if why:
      return {"status": "unavailable", "reason": why}
    return _in_child("scaling.bench.peers", row, timeout_s)
  if isolate or row.get("xla_flags"):
    return _in_child("scaling.bench.rows", row, timeout_s)
  try:
    return bench_rows.run_row(row)
  except Exception as e:  # pylint: disable=broad-except
    first = str(e).splitlines()[0][:300] if str(e) else ""
    return {"status": "failed", "reason": f"{type(e).__name__}: {first}"}


def _ratios(rows: list[dict], tiny: bool) -> None:
  """Ratio of each row to its peer (same call), else to paper.md's table, marked."""
  by_id = {r["id"]: r for r in rows}
  for r in rows:
    if r.get("status") != "measured":
      continue
    if r.get("peers"):  # every peer of the row (e.g. nanoGPT eager and compiled)
      r["ratios"] = {p: r["tokens_per_sec"] / by_id[p]["tokens_per_sec"] for p in r["peers"]
                     if by_id.get(p, {}).get("status") == "measured"}
    if r.get("peer"):
      peer = by_id.get(r["peer"], {})
      if peer.get("status") == "measured":
        r["ratio"], r["ratio_source"] = r["tokens_per_sec"] / peer["tokens_per_sec"], "same call"
        if r.get("mfu") and "mfu" not in peer:  # same FLOP count per token, same peak
          peer["mfu"] = r["mfu"] * peer["tokens_per_sec"] / r["tokens_per_sec"]
      elif tiny:
        r["ratio_source"] = "peer not measured; tiny shapes have no table value"
      else:
        r["ratio"] = r["tokens_per_sec"] / PAPER_TABLE[r["peer"]]
        r["ratio_source"] = PAPER_TABLE_SOURCE
    elif r.get("base") and by_id.get(r["base"], {}).get("status") == "measured":
      r["ratio"] = r["tokens_per_sec"] / by_id[r["base"]]["tokens_per_sec"]
      r["ratio_source"] = f"against {r['base']}, same call"
  compile_12 = by_id.get("compile 12x768 scan", {})
  compile_48 = by_id.get("compile 48x768 scan", {})
  if compile_12.get("status") == compile_48.get("status") == "measured":
    compile_48["ratio"] = compile_48["compile_time_s"] / compile_12["compile_time_s"]
    compile_48["ratio_source"] = "compile time, 48 layers over 12"


def _median(xs):
  xs = sorted(xs)
  return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def _merge_rounds(rounds: list[list[dict]]) -> list[dict]:
  """One row per suite row: median tokens/s and step time, median per-round ratio."""
  merged = []
  for versions in zip(*rounds):
    measured = [r for r in versions if r.get("status") == "measured"]
    if not measured:
      merged.append(versions[0])
      continue
    out = dict(measured[0])
    out["rounds_tokens_per_sec"] = [r.get("tokens_per_sec") for r in measured]
    for key in ("tokens_per_sec", "step_time_s", "compile_time_s"):
      if all(r.get(key) is not None for r in measured):
        out[key] = _median([r[key] for r in measured])
    ratios = [r["ratio"] for r in measured if r.get("ratio") is not None]
    if ratios:
      out["ratio"], out["rounds_ratio"] = _median(ratios), ratios
    if any(r.get("ratios") for r in measured):
      out["ratios"] = {p: _median([r["ratios"][p] for r in measured if p in r.get("ratios", {})])
                       for p in out.get("peers", ()) if any(p in r.get("ratios", {})
                                                           for r in measured)}
    out["rounds"] = len(measured)
    merged.append(out)
  return merged


def run_suite(rows: list[dict], out_dir: str, *, budget_s: float = 420.0, isolate: bool = True,
              peers_dir: str = ".peers", tiny: bool = False, log=print, rounds: int = 1,
              name: str = "paper") -> dict:
  """Measures `rows` in order, `rounds` times, within `budget_s` seconds; writes
  bench.json and bench.md."""
  os.makedirs(out_dir, exist_ok=True)
  start = time.monotonic()
  per_round = []
  for _ in range(max(rounds, 1)):
    done = []
    for row in rows:
      left = budget_s - (time.monotonic() - start)
      if left < row["est_s"]:
        result = {"status": "skipped", "reason": f"time budget: {max(left, 0):.0f} s left of "
                                                 f"{budget_s:.0f} s, the row needs ~{row['est_s']} s"}
      else:
        result = _run_one(row, isolate=isolate, timeout_s=min(left, max(4 * row["est_s"], 120)),
                          peers_dir=peers_dir)
      done.append({**row, **result})
      log(bench_report.one_line(done[-1]))
    _ratios(done, tiny)
    per_round.append(done)
  done = per_round[0] if len(per_round) == 1 else _merge_rounds(per_round)
  if not isolate and not all(r.get("versions") for r in done):
    jax_versions = bench_rows.versions()
  else:
    jax_versions = next((r["versions"] for r in done if r.get("versions")
                         and r["kind"] not in PEER_KINDS), {})
  torch_versions = next((r["versions"] for r in done if r.get("versions")
                         and r["kind"] in PEER_KINDS), {})
  suite = {"suite": name, "rounds": len(per_round), "tiny": tiny, "budget_s": budget_s,
           "elapsed_s": time.monotonic() - start, "isolate": isolate,
           "jax": jax_versions, "torch": torch_versions,
           "peak": next((r["peak"] for r in done if r.get("peak")), None), "rows": done}
  write_json(os.path.join(out_dir, "bench.json"), suite)
  with open(os.path.join(out_dir, "bench.md"), "w") as f:
    f.write(bench_report.markdown(suite))
  return suite
