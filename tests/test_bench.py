"""scaling-bench measures the real train step."""

import json

import pytest

from conftest import run_cli, small_config
from scaling import accounting
from scaling.bench import benchmark, peak_flops


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


def test_cli_writes_json(tmp_path):
  out = tmp_path / "b.json"
  r = run_cli("scaling.cli.bench", "--config", "configs/transformer.py:size=nano",
              "--steps", "2", "--vocab_size", "259", "--out", str(out))
  assert r.returncode == 0, r.stderr[-2000:]
  assert "tokens/s" in r.stdout and "MFU" in r.stdout
  assert json.loads(out.read_text())["tokens_per_sec"] > 0


def test_gns_overhead_compares_against_plain_accumulation():
  from scaling.bench import gns_overhead
  r = gns_overhead(small_config("nano"), steps=2, warmup=1, vocab_size=259)
  assert r["gns_microbatches"] == 2
  assert r["gns_overhead"] == pytest.approx(
      r["step_time_s"] / r["step_time_without_gns_s"] - 1)


def test_lstm_mfu_count_has_no_attention_term():
  c = small_config("nano", **{"model.kind": "lstm"})
  r = benchmark(c, steps=1, warmup=0, vocab_size=259, peak=1e12)
  assert r["mfu_flops_per_token"] == 6 * (r["n_params_nonembedding"] + 32 * 259)
