"""scaling-compile: the real train step compiled by libtpu for TPU topologies on
this CPU (skipped, with the reason, where libtpu is not installed)."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, run_cli, small_config
from scaling.aot import compiled
from scaling.aot import hlo_stats
from scaling.aot import topology

pytestmark = pytest.mark.skipif(topology.libtpu_missing() is not None,
                                reason=str(topology.libtpu_missing()))

VOCAB = 512  # small logits: compiles in seconds


def _config(size="nano", kind="transformer", **overrides):
  if kind == "lstm":
    from scaling.config import load_config_file  # pylint: disable=g-import-not-at-top
    c = load_config_file(f"{REPO}/configs/lstm.py:size={size}")
  else:
    c = small_config(size)
  c.model.vocab_size = VOCAB
  for key, value in overrides.items():
    section, name = key.split(".")
    c[section][name] = value
  return c


def _compile(topo, **overrides):
  return compiled.compile_run(_config(**overrides), topology.devices(topo), eval_step=False)


def test_three_axis_mesh_compiles_for_one_host_and_for_four():
  one = _compile("v5e-8", **{"mesh.data": 2, "mesh.fsdp": 2, "mesh.model": 2})
  four = _compile("v5e-16", **{"mesh.data": 4, "mesh.fsdp": 2, "mesh.model": 2,
                               "train.batch_size": 32})
  assert (one["topology"]["hosts"], four["topology"]["hosts"]) == (1, 4)
  assert one["mesh"] == {"data": 2, "fsdp": 2, "model": 2}
  assert four["mesh"] == {"data": 4, "fsdp": 2, "model": 2}
  for r in (one, four):
    assert r["topology"]["device_kind"] == "TPU v5 lite" and r["model"]["dtype"] == "bfloat16"
    assert r["verdict"]["fits"] and r["verdict"]["line"].startswith("fits (")
    assert r["memory"]["temporaries"] > 0 and r["memory"]["donated"] > 0
    # fsdp gathers the parameters; model and data parallelism reduce
    assert r["collectives"]["all-gather"]["count"] > 0
    assert r["collectives"]["all-reduce"]["bytes"] > 0
    assert r["flops"]["xla_per_chip"] > 0


def test_fsdp_cuts_the_per_chip_state_by_the_chips_it_spans():
  k = 8
  dp = _compile("v5e-8", size="micro", **{"mesh.fsdp": 1})
  fsdp = _compile("v5e-8", size="micro", **{"mesh.fsdp": k})
  state = lambda r: r["memory"]["parameters"] + r["memory"]["optimizer_state"]
  assert state(dp) >= 0.8 * k * state(fsdp)
  # and the compiler sees the same: its argument buffers shrink too
  assert dp["memory"]["arguments"] >= 0.8 * k * (fsdp["memory"]["arguments"]
                                                  - fsdp["memory"]["batch"])


@pytest.mark.parametrize("size", ["micro", "tiny"])
def test_compiled_flops_agree_with_the_project_count(size):
  r = _compile("v5e-8", size=size, **{"model.vocab_size": 4096})
  f = r["flops"]
  assert 0.85 <= f["ratio"] <= 1.15, f
  # the traced matrix products are the count (+ the padded vocabulary)
  assert f["matmul_per_chip"] == pytest.approx(f["project_per_chip"], rel=0.02)


def test_lstm_scan_compiles_for_tpu():
  r = _compile("v5e-8", kind="lstm")
  assert r["model"]["lstm_impl"] == "scan" and r["verdict"]["fits"]
  assert r["flops"]["xla_per_chip"] > 0


def test_a_model_too_big_for_the_chip_does_not_fit_in_one_line():
  out = run_cli("scaling.cli.compile", "--config", "configs/transformer.py:size=nano",
                "--topology", "v5e-8", f"--config.model.vocab_size={VOCAB}",
                "--config.model.d_model=16384")  # 3.2e9 parameters, Adam: 51 GiB a chip
  assert out.returncode == 4, out.stderr[-2000:]
  lines = [l for l in out.stdout.splitlines() if "memory:" in l]
  assert len(lines) == 1 and "does not fit by" in lines[0], out.stdout


def test_cli_writes_the_report(tmp_path):
  out = run_cli("scaling.cli.compile", "--config", "configs/transformer.py:size=nano",
                "--topology", "v5p-8", f"--config.model.vocab_size={VOCAB}",
                "--config.mesh.fsdp=4", "--out", str(tmp_path))
  assert out.returncode == 0, out.stderr[-2000:]
  report = json.load(open(tmp_path / "compile.json"))
  assert report["topology"]["chips"] == 4 and report["hbm_bytes"] == 95 * 2**30
  assert report["eval"]["verdict"]["fits"] and "fits (" in out.stdout


@pytest.mark.parametrize("args, message", [
    (["--topology", "v9-8"], "topology 'v9-8' is unknown"),
    (["--topology", "v5e-8", "--config.mesh.fsdp=3"], "mesh.fsdp=3 x mesh.model=1"),
    (["--topology", "2xv5e-16", "--config.mesh.fsdp=32", "--config.train.batch_size=32"],
     "mesh.data=1 must be a multiple"),
    (["--topology", "v5e-8", "--config.model.attention=cudnn"], "GPU-only (cuDNN)"),
    (["--topology", "v5e-8", "--config.train.optimizer=sgd"], "train.optimizer='sgd'"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
  out = run_cli("scaling.cli.compile", "--config", "configs/transformer.py:size=nano", *args)
  lines = [l for l in out.stderr.splitlines() if l.strip()]
  assert out.returncode == 2 and len(lines) == 1, out.stderr[-2000:]
  assert lines[0].startswith("error: ") and message in lines[0], lines


def test_train_step_lowers_to_stablehlo_for_cuda():
  for c in (_config(), _config(kind="lstm")):
    text = compiled.lower_for_gpu(c)
    assert "func.func public @main" in text and "stablehlo.dot_general" in text


def test_collectives_count_a_channel_once_and_a_loop_body_per_trip():
  hlo = "\n".join([
      "%body (p: bf16[4]) -> bf16[4] {",
      "  %all-reduce.1 = bf16[4]{0} all-reduce(%p), channel_id=7, to_apply=%add",
      "}",
      "%fused_start (p: bf16[2]) -> bf16[8] {",
      "  %all-gather.2 = bf16[8]{0:T(128)} all-gather(%p), channel_id=9, dimensions={0}",
      "}",
      "%fused_done (p: bf16[2]) -> bf16[8] {",
      "  %all-gather.3 = bf16[8]{0:T(128)} all-gather(%p), channel_id=9, dimensions={0}",
      "}",
      "ENTRY %main (a: bf16[4]) -> bf16[4] {",
      '  %w = bf16[4] while(%a), condition=%cond, body=%body, '
      'backend_config={"known_trip_count":{"n":"12"}}',
      "  %cp = (bf16[4]{0}, bf16[4]{0}, u32[], u32[]) collective-permute-start(%a), "
      "channel_id=3, source_target_pairs={{0,1}}",
      "}",
  ])
  c = hlo_stats.collectives(hlo)
  assert c["all-reduce"] == {"count": 12, "bytes": 12 * 8}
  assert c["all-gather"] == {"count": 1, "bytes": 16}
  assert c["collective-permute"] == {"count": 1, "bytes": 8}


def test_a_loop_without_a_known_trip_count_counts_its_condition_s_bound():
  # libtpu's optimised HLO drops known_trip_count from a scan's while loop: the
  # bound is read off its condition; a fusion in the body runs as often as it
  hlo = "\n".join([
      "%fused_gather (p: bf16[2]) -> bf16[8] {",
      "  %all-gather.1 = bf16[8]{0} all-gather(%p), channel_id=4, dimensions={0}",
      "}",
      "%cond (p: (s32[], bf16[4])) -> pred[] {",
      "  %constant.7 = s32[]{:T(128)} constant(16)",
      "  %gte = s32[]{:T(128)} get-tuple-element(%p), index=0",
      "  ROOT %lt.1 = pred[]{:T(512)} compare(%gte, %constant.7), direction=LT",
      "}",
      "%body (p: (s32[], bf16[4])) -> (s32[], bf16[4]) {",
      "  %f = bf16[8]{0} fusion(%x), kind=kLoop, calls=%fused_gather",
      "}",
      "ENTRY %main (a: bf16[4]) -> bf16[4] {",
      "  %w = (s32[], bf16[4]) while(%t), condition=%cond, body=%body",
      "}",
  ])
  assert hlo_stats.collectives(hlo)["all-gather"] == {"count": 16, "bytes": 16 * 16}
  assert hlo_stats.has_loops(hlo)
  # a windowed einsum's loop counts by 2 (bidirectional): 16 / 2 trips
  stepped = hlo.replace("%body (p: (s32[], bf16[4])) -> (s32[], bf16[4]) {", "\n".join([
      "%body (p: (s32[], bf16[4])) -> (s32[], bf16[4]) {",
      "  %two = s32[]{:T(128)} constant(2)",
      "  %i = s32[]{:T(128)} get-tuple-element(%p), index=0",
      "  %next = s32[]{:T(128)} add(%i, %two)"]))
  assert hlo_stats.collectives(stepped)["all-gather"]["count"] == 8


def test_hlo_matmul_flops_count_a_convolution_per_loop_trip():
  hlo = "\n".join([
      "%fused_dot (a: bf16[8,16], b: bf16[16,4]) -> bf16[8,4] {",
      "  %a = bf16[8,16]{1,0} parameter(0)",
      "  %b = bf16[16,4]{1,0} parameter(1)",
      "  ROOT %convolution.1 = bf16[8,4]{1,0} convolution(%a, %b), dim_labels=bf_io->bf",
      "}",
      "%cond (p: (s32[], bf16[4])) -> pred[] {",
      "  %bound = s32[]{:T(128)} constant(3)",
      "  %gte = s32[]{:T(128)} get-tuple-element(%p), index=0",
      "  ROOT %lt = pred[] compare(%gte, %bound), direction=LT",
      "}",
      "%body (p: (s32[], bf16[4])) -> (s32[], bf16[4]) {",
      "  %f = bf16[8,4]{1,0} fusion(%x, %y), kind=kOutput, calls=%fused_dot",
      "}",
      "ENTRY %main (a: bf16[4]) -> bf16[4] {",
      "  %w = (s32[], bf16[4]) while(%t), condition=%cond, body=%body",
      "}",
  ])
  assert hlo_stats.hlo_matmul_flops(hlo) == 3 * 2 * 8 * 4 * 16


def test_a_multislice_mesh_whose_axes_split_the_torus_is_laid_out():
  # data 8 x fsdp 2 per 4x4 slice: 8 is no product of whole torus axes
  import ml_collections  # pylint: disable=g-import-not-at-top
  from scaling import sharding  # pylint: disable=g-import-not-at-top
  devices = topology.devices("2xv5e-16").devices
  mesh = sharding.make_mesh(ml_collections.ConfigDict({"data": -1, "fsdp": 2, "model": 1}),
                            devices)
  assert dict(mesh.shape) == {"data": 16, "fsdp": 2, "model": 1}
  # each fsdp group stays inside one slice
  for group in mesh.devices.reshape(-1, 2):
    assert len({d.slice_index for d in group}) == 1


def test_an_eval_step_libtpu_refuses_is_reported_not_raised():
  """The eval step sees the whole batch (no micro-batches), so it can be refused where
  the train step fits: that is a verdict in the report, never a traceback."""
  import jax  # pylint: disable=g-import-not-at-top
  import types  # pylint: disable=g-import-not-at-top

  class Refused:
    def trace(self, *args):
      raise jax.errors.JaxRuntimeError(
          "RESOURCE_EXHAUSTED: Ran out of memory on HBM, the total memory required for "
          "HLO temporaries (18.59G) exceeds available HBM (15.75G).")

  topo = topology.devices("v5e-8")
  eng = types.SimpleNamespace(eval_step=Refused(),
                              setup=types.SimpleNamespace(abstract_state={"params": {}}))
  report = compiled._eval(eng, None, {}, topo)  # pylint: disable=protected-access
  assert report["compiled"] is False and not report["verdict"]["fits"]
  assert "libtpu refused it" in report["verdict"]["line"]
  assert report["total"] == int(18.59 * 2 ** 30)
