"""scaling-bench measures the real train step."""

import json

import pytest

from conftest import run_cli, small_config
from scaling import accounting
from scaling.bench.measure import benchmark, peak_flops


def test_benchmark_reports_throughput_and_mfu_against_a_given_peak():
  r = benchmark(small_config("nano"), steps=3, warmup=1, vocab_size=259, peak=1e12)
  assert r["tokens_per_sec"] == pytest.approx(16 * 64 / r["step_time_s"])
  assert r["compile_time_s"] > 0
  per_token = accounting.mfu_flops_per_token(r["n_params_nonembedding"], 32, 259, 1, 64)
  assert r["mfu_flops_per_token"] == per_token
  assert r["mfu"] == pytest.approx(r["tokens_per_sec"] * per_token / 1e12)


def test_peak_table_knows_the_h100():
  class Dev:
    device_kind = "NVIDIA H100 80GB HBM3"
    platform = "gpu"
  assert peak_flops(Dev())[0] == 989e12


@pytest.mark.slow
def test_cli_writes_json(tmp_path):
  out = tmp_path / "b.json"
  r = run_cli("scaling.cli.bench", "--config", "configs/transformer.py:size=nano",
              "--steps", "2", "--vocab_size", "259", "--out", str(out))
  assert r.returncode == 0, r.stderr[-2000:]
  assert "tokens/s" in r.stdout and "MFU" in r.stdout
  assert json.loads(out.read_text())["tokens_per_sec"] > 0


def test_gns_overhead_compares_against_plain_accumulation():
  from scaling.bench.measure import gns_overhead
  r = gns_overhead(small_config("nano"), steps=2, warmup=1, vocab_size=259)
  assert r["gns_microbatches"] == 2
  assert r["gns_overhead"] == pytest.approx(
      r["step_time_s"] / r["step_time_without_gns_s"] - 1)


def test_lstm_mfu_count_has_no_attention_term():
  c = small_config("nano", **{"model.kind": "lstm"})
  r = benchmark(c, steps=1, warmup=0, vocab_size=259, peak=1e12)
  assert r["mfu_flops_per_token"] == 6 * (r["n_params_nonembedding"] + 32 * 259)


# --- scaling-bench --suite gns (the estimator's cost) ------------------------------

def test_gns_cost_only_row_counts_both_programs_without_running_them():
  from scaling.bench import plan as bench_plan, report as bench_report, rows as bench_rows  # pylint: disable=g-import-not-at-top
  row = bench_plan.gns_rows(tiny=True)[1]
  assert row["cost_only"] and row["kind"] == "gns"
  r = {**row, **bench_rows.run_row(row)}
  assert r["status"] == "measured" and "step_time_s" not in r
  assert set(r["xla"]) == set(bench_rows.GNS_VARIANTS)
  plain, gns = (r["xla"][v] for v in bench_rows.GNS_VARIANTS)
  assert gns["flops"] > plain["flops"] > 0 and gns["bytes"] > 0
  assert r["xla_flops_overhead"] == pytest.approx(gns["flops"] / plain["flops"] - 1)
  assert "XLA cost analysis" in bench_report.one_line(r)


@pytest.mark.slow
def test_gns_suite_times_interleaved_blocks_and_compares_xla_costs(tmp_path):
  out = tmp_path / "gns"
  r = run_cli("scaling.cli.bench", "--suite", "gns", "--tiny", "--noisolate", "--out", str(out))
  assert r.returncode == 0, r.stderr[-2000:]
  timed, cost = json.loads((out / "bench.json").read_text())["rows"]
  assert timed["status"] == cost["status"] == "measured"
  assert [len(b) for b in timed["blocks_s"].values()] == [2, 2]  # A, B, A, B
  assert timed["gns_overhead"] == pytest.approx(
      timed["step_time_s"] / timed["step_time_without_gns_s"] - 1)
  assert timed["best_step_time_s"] <= timed["step_time_s"]
  for key in ("gns_overhead_best", "gns_overhead_paired", "xla_flops_overhead",
              "xla_bytes_overhead"):
    assert isinstance(timed[key], float), key
  assert "gns_overhead" not in cost and cost["xla_flops_overhead"] > 0
  assert "adjacent block pairs" in r.stdout and "bytes accessed" in r.stdout


# --- scaling-bench --suite paper (the GPU rows at CPU size) ---------------------

_TEST_LEVERS = "logits_bf16,xla_lhs"  # one config lever, one XLA-flags lever (own process)


@pytest.mark.slow
def test_paper_suite_runs_every_row_at_tiny_shapes(tmp_path):
  from scaling.bench import plan as bench_plan  # pylint: disable=g-import-not-at-top
  out = tmp_path / "bench"
  r = run_cli("scaling.cli.bench", "--suite", "paper", "--tiny", "--noisolate",
              "--levers", _TEST_LEVERS, "--budget_s", "600", "--out", str(out))
  assert r.returncode == 0, r.stderr[-2000:]
  suite = json.loads((out / "bench.json").read_text())
  want = [row["id"] for row in bench_plan.paper_rows(tiny=True, levers=_TEST_LEVERS.split(","))]
  rows = {row["id"]: row for row in suite["rows"]}
  assert list(rows) == want
  for row in rows.values():
    assert row["status"] in ("measured", "skipped", "unavailable"), (row["id"], row.get("reason"))
    assert row["status"] == "measured" or row["reason"]
  for row in rows.values():
    if row["group"] == "peer":  # no CUDA here: never measured, and the ratio says why
      assert row["status"] != "measured"
    elif "cudnn" in row["id"]:
      assert row["status"] == "skipped" and "GPU" in row["reason"]
    else:
      assert row["status"] == "measured", row["id"]
  assert rows["transformer 12x768 b16"]["tokens_per_sec"] > 0
  assert rows["transformer 12x768 b16"]["ratio_source"].startswith("peer not measured")
  assert rows["gns overhead 12x768 b16 k4"]["gns_microbatches"] == 4
  assert rows["compile 48x768 scan"]["ratio"] > 0
  assert rows["lever xla_lhs"]["ratio"] > 0  # ran in its own process with XLA_FLAGS
  table = (out / "bench.md").read_text()
  assert all(f"| {i} |" in table for i in want)
  assert "TINY shapes" in table and "JAX" in table


def test_suite_skips_every_row_when_the_budget_is_spent(tmp_path):
  from scaling.bench import plan as bench_plan, suite as bench_suite  # pylint: disable=g-import-not-at-top
  rows = bench_plan.paper_rows(tiny=True)
  suite = bench_suite.run_suite(rows, str(tmp_path), budget_s=0, tiny=True, log=lambda _: None)
  assert [r["id"] for r in suite["rows"]] == [r["id"] for r in rows]
  assert all(r["status"] == "skipped" and "time budget" in r["reason"] for r in suite["rows"])
  assert (tmp_path / "bench.md").exists()


def test_ratio_falls_back_to_the_paper_table_and_says_so():
  from scaling.bench import plan as bench_plan, suite as bench_suite  # pylint: disable=g-import-not-at-top
  ours = {"id": "transformer 12x768 b16", "status": "measured", "tokens_per_sec": 500e3,
          "mfu": 0.4, "peer": "nanogpt 12x768 b16"}
  peer = {"id": "nanogpt 12x768 b16", "status": "unavailable", "reason": "absent"}
  bench_suite._ratios([ours, peer], tiny=False)  # pylint: disable=protected-access
  assert ours["ratio"] == pytest.approx(500 / 454.5)
  assert ours["ratio_source"] == bench_plan.PAPER_TABLE_SOURCE
  peer.update(status="measured", tokens_per_sec=400e3)
  bench_suite._ratios([ours, peer], tiny=False)  # pylint: disable=protected-access
  assert ours["ratio"] == pytest.approx(1.25) and ours["ratio_source"] == "same call"
  assert peer["mfu"] == pytest.approx(0.32)


def test_prepare_peers_copies_model_py_and_refuses_a_wrong_path(tmp_path):
  from scaling.bench import peers as bench_peers  # pylint: disable=g-import-not-at-top
  src = tmp_path / "nanoGPT"
  src.mkdir()
  (src / "model.py").write_text("# stand-in\n")
  peers = tmp_path / "peers"
  row = {"kind": "nanogpt"}
  assert "absent" in bench_peers.unavailable(row, str(peers))
  r = run_cli("scaling.cli.bench", "--prepare_peers", str(src), "--peers_dir", str(peers))
  assert r.returncode == 0, r.stderr[-2000:]
  assert (peers / "nanoGPT" / "model.py").exists()
  assert bench_peers.unavailable(row, str(peers)) in (None, "PyTorch is not installed")
  bad = run_cli("scaling.cli.bench", "--prepare_peers", str(tmp_path / "nope"))
  assert bad.returncode == 2 and bad.stderr.startswith("error:")
  assert "Traceback" not in bad.stderr


def test_unknown_lever_is_a_one_line_error(tmp_path):
  r = run_cli("scaling.cli.bench", "--suite", "paper", "--tiny", "--levers", "warp_drive",
              "--out", str(tmp_path))
  assert r.returncode == 2 and "unknown lever" in r.stderr and "Traceback" not in r.stderr


def test_hlo_inspector_sees_donation_fused_qkv_and_the_f32_logits():
  from scaling.bench import hlo as bench_hlo  # pylint: disable=g-import-not-at-top
  base, lowp, chunk = bench_hlo.inspect_rows(tiny=True, levers=("logits_bf16", "chunk_bf16"))
  r = bench_hlo.inspect(base, run=True)
  assert r["aliased_outputs"] == r["state_buffers"] > 0  # the donated state is reused
  assert r["host_transfers"] == []
  assert r["qkv_projections"] == r["n_layer"]  # one [B,T,3A] product per layer
  assert r["outputs_match_inputs"] and r["jit_cache_entries_after_3_steps"] == 1
  assert r["f32_logits_buffers"] >= 1  # the plain loss upcasts the whole logits
  assert bench_hlo.inspect(lowp)["f32_logits_buffers"] < r["f32_logits_buffers"]
  assert bench_hlo.inspect(chunk)["f32_logits_buffers"] == 0


def test_hlo_parser_skips_fused_computations():
  from scaling.bench.hlo import materialised_f32  # pylint: disable=g-import-not-at-top
  text = ("%fused_computation.1 (p: f32[4,8]) -> f32[4,8] {\n"
          "  %p = f32[4,8]{1,0} parameter(0)\n}\n"
          "ENTRY %main.2 (a: f32[4,8]) -> f32[2] {\n"
          "  %a = f32[4,8]{1,0} parameter(0)\n  ROOT %r = f32[2]{0} reduce(%a)\n}\n")
  assert materialised_f32(text) == [(4, 8), (2,)]


def test_only_keeps_peers_and_the_levers_base_rows():
  from scaling.bench import plan as bench_plan  # pylint: disable=g-import-not-at-top
  rows = bench_plan.paper_rows(levers=("logits_bf16", "lstm_unroll8"))
  ids = [r["id"] for r in bench_plan.select(rows, "gns,lever")]
  assert ids == ["transformer 12x768 b16", "lstm 2x1024 b64 scan", "gns overhead 12x768 b16 k4",
                 "lever logits_bf16", "lever lstm_unroll8"]
  assert "nanogpt 12x768 b16" in [r["id"] for r in bench_plan.select(rows, "transformer")]
  with pytest.raises(ValueError, match="unknown group"):
    bench_plan.select(rows, "gpu")


@pytest.mark.parametrize("kind", ["torch_lstm", "nanogpt"])
def test_peer_harness_runs_on_the_cpu_where_torch_is_installed(kind):
  """Where PyTorch is installed, the peer's train step runs (CPU, no torch.compile)."""
  pytest.importorskip("torch")
  import os  # pylint: disable=g-import-not-at-top
  from scaling.bench import peers as bench_peers  # pylint: disable=g-import-not-at-top
  peers = os.path.join(os.path.dirname(os.path.dirname(__file__)), ".peers")
  row = {"kind": kind, "n_layer": 1, "d_model": 32, "n_heads": 2, "n_ctx": 16, "batch": 2,
         "vocab": 128, "steps": 2, "warmup": 1, "device": "cpu", "compile": False,
         "peers_dir": peers}
  if bench_peers.unavailable(row, peers):
    pytest.skip(bench_peers.unavailable(row, peers))
  r = bench_peers.measure(row)
  assert r["status"] == "measured" and r["tokens_per_sec"] > 0


def test_cpu_suite_pairs_ours_with_nanogpt_at_the_same_shapes_and_threads():
  from scaling.bench import plan as bench_plan  # pylint: disable=g-import-not-at-top
  by_id = {r["id"]: r for r in bench_plan.cpu_rows(threads=2)}
  for shape in ("4x128 b16x128", "2x128 b4x512"):
    ours = by_id[f"transformer {shape} cpu"]
    eager, compiled = (by_id[f"nanogpt {shape} cpu {m}"] for m in ("eager", "compiled"))
    assert ours["peer"] == eager["id"] and ours["peers"] == [eager["id"], compiled["id"]]
    for peer in (eager, compiled):
      assert [peer[k] for k in ("n_layer", "d_model", "n_heads", "batch", "n_ctx")] == \
          [ours[k] for k in ("n_layer", "d_model", "n_heads", "batch", "n_ctx")]
      assert (peer["device"], peer["threads"], peer["dtype"]) == ("cpu", 2, "float32")
      assert ours["vocab"] == 259 and peer["vocab"] == 384  # our rows padded to a multiple of 128
    assert not eager["compile"] and compiled["compile"]
    assert by_id[f"transformer {shape} cpu no xnnpack"]["xla_flags"] == \
        "--xla_cpu_use_xnnpack=false"


def test_rounds_report_the_median_of_per_round_ratios(tmp_path, monkeypatch):
  """Each round's ratio comes from that round's two rows; the median of those is reported."""
  from scaling.bench import suite as bench_suite  # pylint: disable=g-import-not-at-top
  speeds = {"a": iter([10.0, 20.0, 30.0]), "b": iter([10.0, 5.0, 30.0])}
  monkeypatch.setattr(bench_suite, "_run_one", lambda row, **_: {
      "status": "measured", "tokens_per_sec": next(speeds[row["id"]])})
  rows = [{"id": "a", "kind": "train", "peer": "b", "peers": ["b"], "est_s": 0, "n_layer": 1,
           "d_model": 8, "n_ctx": 8, "batch": 1, "vocab": 8},
          {"id": "b", "kind": "nanogpt", "est_s": 0, "n_layer": 1, "d_model": 8, "n_ctx": 8,
           "batch": 1, "vocab": 8}]
  suite = bench_suite.run_suite(rows, str(tmp_path), rounds=3, name="cpu", log=lambda _: None)
  a, b = suite["rows"]
  assert a["rounds_ratio"] == [1.0, 4.0, 1.0] and a["ratio"] == 1.0 and a["ratios"] == {"b": 1.0}
  assert a["tokens_per_sec"] == 20.0 and b["tokens_per_sec"] == 10.0  # medians, not the ratio
  assert suite["rounds"] == 3 and "3 rounds" in (tmp_path / "bench.md").read_text()
  assert "# scaling-bench --suite cpu" in (tmp_path / "bench.md").read_text()
