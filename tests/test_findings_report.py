"""The findings report (scaling.findings.report, scaling-report) on synthetic
sweeps: a ladder drawn from a known L(N) law holds L_N, the same ladder with
its largest model lifted 5% does not; findings without a sweep are "not run";
an exported sweep gives the verdicts of the sweep itself."""

import json
import os
import shutil

import numpy as np
import pytest

from scaling.cli import report as cli
from scaling.findings import export, registry, report
from sweep_fixtures import Member, write_sweep

EXPERIMENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "experiments")
N_M = np.geomspace(6.9e3, 7.9e5, 8)
E, N_C, ALPHA_N = 1.2, 2e3, 0.4


def ladder_members(lift: float = 1.0) -> list[Member]:
  """Final losses on L = E + (N_c/N)^alpha_N (the largest times `lift`), with
  curves that end there and a metrics file with columns the checks never read."""
  out = []
  for i, n in enumerate(N_M):
    final = (E + (N_C / n) ** ALPHA_N) * (lift if i == len(N_M) - 1 else 1.0)
    evals = [{"step": s, "tokens": s * 2048, "val_loss": final + 30.0 / max(s, 10)}
             for s in range(0, 851, 50)]
    evals[-1]["val_loss"] = final
    metrics = [{"step": s, "tokens": s * 2048, "loss": final + 1 / s, "lr": 3e-3,
                "grad_norm": 1.0, "gns_b_simple": 7.0, "gns_b_simple_tokens": 900.0}
               for s in range(1, 851)]
    out.append(Member(f"m{i}", {"n_params_nonembedding": int(n), "steps": 850,
                                "val_loss": final}, evals, metrics))
  return out


@pytest.fixture()
def experiments(tmp_path):
  """The real experiments/model_size.py and shape.py, but with small bootstrap
  counts for L_N and the frontier so that the tests are quick (criteria are data)."""
  d = tmp_path / "experiments"
  d.mkdir()
  text = open(os.path.join(EXPERIMENTS, "model_size.py")).read()
  for old, new in (('"bootstrap": 200}', '"bootstrap": 10}'),
                   ('"min_gap": 0.05}', '"min_gap": 0.05, "bootstrap": 10}')):
    assert old in text
    text = text.replace(old, new)
  (d / "model_size.py").write_text(text)
  shutil.copy(os.path.join(EXPERIMENTS, "shape.py"), d / "shape.py")
  return str(d)


def sweep(tmp_path, name, lift=1.0):
  return write_sweep(str(tmp_path / name), "experiments/model_size.py", "cpu",
                     ladder_members(lift)).path


def verdicts(results):
  return {d.finding.key: v for d, v, _ in results}


def test_a_known_law_holds_and_a_lifted_point_does_not(tmp_path, experiments):
  good = verdicts(report.write_report([sweep(tmp_path, "good")], str(tmp_path / "a.md"),
                                      experiments))
  assert good["L_N"].status == "reproduced", good["L_N"].summary
  assert good["L_N"].measured["alpha_N"] == pytest.approx(ALPHA_N, rel=0.01)
  bad = verdicts(report.write_report([sweep(tmp_path, "bad", lift=1.05)],
                                     str(tmp_path / "b.md"), experiments))
  assert bad["L_N"].status == "not reproduced"
  assert bad["L_N"].measured["rel_error"] < -0.04


def test_markdown_has_one_row_per_finding_and_the_figures(tmp_path, experiments):
  out = tmp_path / "docs" / "findings.md"
  results = report.write_report([sweep(tmp_path, "bad", lift=1.05)], str(out), experiments,
                                command="scaling-report bad")
  text = out.read_text()
  keys = [d.finding.key for d, _, _ in results]
  assert set(keys) >= {"L_N", "L_N_S", "transfer", "sample_efficiency",
                       "compute_frontier", "shape"}
  rows = [l for l in text.splitlines() if l.startswith("| [")]
  assert len(rows) == len(keys)
  (row,) = [r for r in rows if "L(N): loss is a power law" in r and "py:cpu`]" in r]
  assert "**not reproduced**" in row and "(registered 2026-11-29)" in row
  assert "[`model_size.py:cpu`](../experiments/model_size.py)" in row
  assert "[L_N.png](findings/img/L_N.png)" in row
  assert (tmp_path / "docs" / "findings" / "img" / "L_N.png").is_file()
  assert "scaling-report bad" in text  # how to regenerate it
  # the if_not text of a finding not reproduced, in its section
  (l_n,) = [d for d in registry.collect(experiments) if d.finding.key == "L_N"]
  assert l_n.finding.if_not.split(".")[0] in text
  # in the paper's order: shape first, each second attempt after its first
  keys_in_order = [d.finding.key for d in registry.collect(experiments)]
  assert keys_in_order[:4] == ["shape", "shape_nltk", "L_N", "L_N_3ep"]
  shape = verdicts(results)["shape"]
  assert shape.status == "not run"
  assert "scaling-sweep --config experiments/shape.py:cpu" in shape.summary


def test_export_is_small_and_gives_the_same_verdicts(tmp_path, experiments):
  src = sweep(tmp_path, "bad", lift=1.05)
  first = verdicts(report.write_report([src], str(tmp_path / "a.md"), experiments,
                                       export=str(tmp_path / "export")))
  copy = tmp_path / "export" / "model_size-cpu"
  assert json.loads((copy / "experiment.json").read_text())["arg"] == "cpu"
  # the ladder's checks read summaries and eval.jsonl only: no metrics.jsonl
  assert (copy / "m0" / "eval.jsonl").is_file()
  assert not (copy / "m0" / "metrics.jsonl").exists()
  again = verdicts(report.write_report([str(copy)], str(tmp_path / "b.md"), experiments))
  def same(vs, path):  # a not-run reason names its sweep directory
    return {k: (v.status, v.measured, v.summary.replace(path, "DIR")) for k, v in vs.items()}
  assert same(again, str(copy)) == same(first, src)
  assert sum(v.status != "not run" for v in first.values()) >= 4
  with pytest.raises(Exception, match="overwrite"):
    export.export_sweep(str(copy), str(copy))


def test_the_runs_commit_is_recorded_and_reported(tmp_path, experiments):
  from scaling.results import SweepDir  # pylint: disable=g-import-not-at-top
  src = sweep(tmp_path, "good")
  record = SweepDir(src).experiment()
  SweepDir(src).write_experiment(record["path"], record["arg"], commit="abc1234")
  out = tmp_path / "r.md"
  report.write_report([src], str(out), experiments)
  assert "runs made by the code at commit abc1234" in out.read_text()
  from scaling import provenance  # pylint: disable=g-import-not-at-top
  if os.path.exists(os.path.join(provenance.ROOT, ".git")):  # a git checkout
    commit = provenance.code_commit()
    assert commit and len(commit.split()[0]) >= 7
  assert provenance.code_commit(str(tmp_path)) is None  # not a checkout


def test_thin_metrics_keeps_every_row_the_read_columns_and_float32_values():
  import numpy as np  # pylint: disable=g-import-not-at-top
  values = np.random.default_rng(0).normal(size=50).astype(np.float32)
  rows = [{"step": i, "tokens": 64 * i, "loss": float(v), "gns_g2_raw": float(v) * 3,
           "grad_norm": 1.0, "lr": 0.1} for i, v in enumerate(values)]
  thin = export.thin_metrics(rows)
  assert len(thin) == len(rows)
  assert set(thin[0]) == {"step", "tokens", "loss", "gns_g2_raw"}
  assert [np.float32(r["loss"]) for r in thin] == list(values)  # exact at float32
  assert len(json.dumps(thin)) < len(json.dumps([{k: r[k] for k in thin[0]} for r in rows]))


def test_cli_prints_a_line_per_finding(tmp_path, experiments, capsys):
  out = tmp_path / "r.md"
  assert cli.main([sweep(tmp_path, "good"), "--out", str(out),
                   "--experiments", experiments]) == 0
  lines = capsys.readouterr().out.splitlines()
  (l_n,) = [l for l in lines if l.startswith("L_N ")]
  assert l_n.split()[1] == "reproduced"
  assert any(l.startswith("shape ") and "not run" in l for l in lines)
  assert out.is_file()


def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, experiments, capsys):
  plain = tmp_path / "plain"
  plain.mkdir()
  out = tmp_path / "r.md"
  assert cli.main([str(plain), "--out", str(out), "--experiments", experiments]) == 2
  err = capsys.readouterr().err
  assert err == (f"error: {plain} has no experiment.json; it was not made by scaling-sweep "
                 "(or rerun scaling-sweep there)\n")
  os.remove(sweep(tmp_path, "noresults") + "/results.jsonl")
  assert cli.main([str(tmp_path / "noresults"), "--out", str(out),
                   "--experiments", experiments]) == 2
  assert "has no results.jsonl" in capsys.readouterr().err
  assert not out.exists() and not (tmp_path / "r").exists()


def test_the_newest_attempt_of_each_finding_is_the_last_declared(tmp_path, experiments):
  # A repeat declared after the others whose key sorts before theirs: declaration
  # order, not the key, makes it the newest (and it is reported last of its family).
  path = os.path.join(experiments, "model_size.py")
  with open(path, "a") as f:
    f.write('\nFINDINGS = FINDINGS + (FINDINGS[0].repeat("cpu", suffix="a_later", '
            'title="later", why=" later."),)\n')
  out = tmp_path / "findings.md"
  results = report.write_report([sweep(tmp_path, "good")], str(out), experiments)
  family = [d.finding.key for d, _, _ in results if (d.finding.repeats or d.finding.key) == "L_N"]
  assert family == ["L_N", "L_N_3ep", "L_N_nltk", "L_N_a_later"]
  newest = report.newest_attempts(results)
  assert newest["L_N"][0].finding.key == "L_N_a_later"
  assert newest["L_N"][1].status == "reproduced"  # the cpu sweep given
  frontier = [d.finding.key for d, _, _ in results
              if (d.finding.repeats or d.finding.key) == "compute_frontier"]
  assert len(frontier) > 2 and newest["compute_frontier"][0].finding.key == frontier[-1]
  assert newest["compute_frontier"][1].status == "not run"
  line = next(l for l in out.read_text().splitlines() if l.startswith("Newest attempt"))
  assert f"each of the {len(newest)} findings" in line
  assert "reproduced (L_N_a_later" in line and "L_N_nltk" not in line
