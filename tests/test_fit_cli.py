"""scaling-fit: end to end on tables and sweep directories, and bad input."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import run_cli
from scaling.cli import fit as fit_cli
from scaling.cli import plan as plan_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ND = {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13}


def loss_nd(n, d, p=ND):
  return ((p["N_c"] / n) ** (p["alpha_N"] / p["alpha_D"])
          + p["D_c"] / d) ** p["alpha_D"]


def write_nd_table(path, noise=0.02, seed=0, sizes=np.geomspace(1e6, 1e9, 6),
                   data=np.geomspace(2e7, 2e10, 8)):
  rng = np.random.default_rng(seed)
  with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["N", "D", "loss"])
    for n in sizes:
      for d in data:
        w.writerow([n, d, loss_nd(n, d) * np.exp(noise * rng.standard_normal())])
  return str(path)


def test_nd_table_with_2pct_noise_recovers_exponents(tmp_path, capsys):
  table = write_nd_table(tmp_path / "table.csv")
  out = tmp_path / "out"
  assert fit_cli.main(["law", "ND", table, "--out", str(out), "--bootstrap", "10"]) == 0
  text = capsys.readouterr().out
  fit = json.loads((out / "fit.json").read_text())
  assert fit["law"] == "ND" and fit["n_points"] == 48
  assert fit["params"]["alpha_N"] == pytest.approx(0.076, rel=0.10)
  assert fit["params"]["alpha_D"] == pytest.approx(0.103, rel=0.10)
  assert set(fit["ci95"]) == {"alpha_N", "alpha_D", "N_c", "D_c"}
  assert len(fit["residuals"]) == 48 and 0.9 < fit["r2"] <= 1.0
  assert fit["holdout"] is None
  for name in ("fit_ND.png", "residuals_ND.png"):
    data = (out / name).read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 5000
  # The printed table shows each constant beside the paper's.
  line = next(l for l in text.splitlines() if l.startswith("alpha_D"))
  assert f"{fit['params']['alpha_D']:.4g}" in line and "0.103" in line
  assert not [f for f in os.listdir(out) if f.startswith(".")]  # no temp files


def test_default_output_directory_and_module_entry_point(tmp_path):
  table = write_nd_table(tmp_path / "table.csv", noise=0.01)
  proc = subprocess.run(
      [sys.executable, "-m", "scaling.cli.fit", "law", "ND", table, "--bootstrap", "0"],
      capture_output=True, text=True, cwd=ROOT,
      env={**os.environ, "PYTHONPATH": ROOT})
  assert proc.returncode == 0, proc.stderr
  assert (tmp_path / "fit_ND" / "fit.json").exists()
  assert "alpha_N" in proc.stdout


def test_holdout_largest(tmp_path, capsys):
  table = write_nd_table(tmp_path / "table.csv", noise=0.005)
  out = tmp_path / "out"
  assert fit_cli.main(["law", "ND", table, "--out", str(out), "--bootstrap", "0",
                       "--holdout-largest", "2"]) == 0
  text = capsys.readouterr().out
  fit = json.loads((out / "fit.json").read_text())
  h = fit["holdout"]
  assert fit["n_points"] == 32 and h["k"] == 2 and h["by"] == "N"
  assert sorted({r["N"] for r in h["rows"]}) == pytest.approx([2.5118864e8, 1e9])
  for r in h["rows"]:
    assert r["observed"] == pytest.approx(loss_nd(r["N"], r["D"]), rel=0.03)
    assert r["predicted"] == pytest.approx(r["observed"], rel=0.05)
  assert "holdout: 2 largest N" in text and "mean |log(pred/obs)|" in text


@pytest.mark.parametrize("rows, law, match", [
    ([(1e6, 1e8, 3.0), (1e7, 1e8, 2.9), (1e8, 1e8, 2.8)], "ND", "4 parameters"),
    ([(0, 1e8, 3.0)] + [(1e7, 1e8, 2.9)] * 5, "ND", "'N' must be finite and > 0"),
    ([(1e6, 1e8, 3.0)] * 4 + [(1e6, 1e9, "nan")], "ND", "'loss' is missing or NaN"),
    ([(1e6, 1e8, -3.0)] * 5, "ND", "'loss' must be finite and > 0"),
    ([(1e6, 1e8, 3.0)] * 5, "Cmin", "needs column 'C_min'"),
    ([(1e6, 1e8, 3.0)] * 5, "foo", "unknown law 'foo'"),
])
def test_bad_input_one_error_line_exit_2_no_output(tmp_path, capsys, rows, law,
                                                   match):
  table = tmp_path / "bad.csv"
  table.write_text("N,D,loss\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
  out = tmp_path / "out"
  assert fit_cli.main(["law", law, str(table), "--out", str(out)]) == 2
  cap = capsys.readouterr()
  err = cap.err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("error: ") and match in err[0]
  assert cap.out == ""
  assert not out.exists() and sorted(os.listdir(tmp_path)) == ["bad.csv"]


def test_missing_input_and_bad_options(tmp_path, capsys):
  for argv, match in ((["law", "N", str(tmp_path / "nope.csv")], "does not exist"),
                      (["law", "N"], "the following arguments are required"),
                      (["law", "N", str(tmp_path), "--bootstrap", "x"], "invalid int"),
                      (["law", "N", str(tmp_path)], "no results.jsonl")):
    assert fit_cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and match in err[0]
  assert os.listdir(tmp_path) == []


def _write_run(root, name, summary):
  d = root / name
  d.mkdir(parents=True)
  (d / "summary.json").write_text(json.dumps({"status": "completed", **summary}))


def test_sweep_directory_prefers_dataset_size_for_data_limited_runs(tmp_path,
                                                                    capsys):
  # Data-limited runs: tokens_seen is several epochs of the dataset, the loss
  # follows the dataset size train_tokens_available.
  for i, d in enumerate(np.geomspace(1e7, 1e11, 9)):
    _write_run(tmp_path, f"run{i}", {
        "n_params_nonembedding": 1e9, "tokens_seen": 4 * d,
        "train_tokens_available": d, "val_loss": 9.0,
        "best_val_loss": (5.4e13 / d) ** 0.095})
  assert fit_cli.main(["law", "D", str(tmp_path), "--bootstrap", "0"]) == 0
  fit = json.loads((tmp_path / "fit_D" / "fit.json").read_text())
  assert fit["params"]["alpha_D"] == pytest.approx(0.095, rel=1e-3)
  assert fit["params"]["D_c"] == pytest.approx(5.4e13, rel=0.02)
  assert "alpha_D" in capsys.readouterr().out


def _write_curve_run(root, i, n, steps, batch=2.0 ** 19):
  d = root / f"run{i}"
  d.mkdir(parents=True)
  loss = (6.5e13 / n) ** 0.076 + (2.1e3 / steps) ** 0.76
  (d / "summary.json").write_text(json.dumps({
      "n_params_nonembedding": n, "batch_tokens": batch, "status": "completed",
      "val_loss": float(loss[-1])}))
  with open(d / "eval.jsonl", "w") as f:
    for s, l in zip(steps, loss):
      f.write(json.dumps({"step": int(s), "tokens": int(s * batch),
                          "val_loss": float(l)}) + "\n")


def test_frontier_cli_and_plan_from_its_fit(tmp_path, capsys):
  sweep = tmp_path / "sweep"
  steps = np.geomspace(10, 2e5, 40).round()
  for i, n in enumerate(np.geomspace(1e5, 1e9, 9)):
    _write_curve_run(sweep, i, n, steps)
  assert fit_cli.main(["frontier", str(sweep), "--bootstrap", "5",
                       "--holdout-largest", "1"]) == 0
  text = capsys.readouterr().out
  out = sweep / "fit_frontier"
  fit = json.loads((out / "fit.json").read_text())
  assert fit["law"] == "frontier" and fit["n_runs"] == 8
  assert fit["holdout"]["runs"] == ["run8"]
  assert 0.8 < fit["allocation"]["C"]["N"]["exponent"] < 1.0
  assert "C_min" in fit["allocation"] and "C_min.N_exp" in text
  for name in ("frontier_curves.png", "frontier_allocation.png"):
    assert (out / name).read_bytes().startswith(b"\x89PNG")
  assert plan_cli.main(["--compute", "1", "--pf-days", "--json",
                        "--fit", str(out / "fit.json")]) == 0
  p = json.loads(capsys.readouterr().out)
  a = fit["allocation"]["C_min"]["N"]
  assert p["N"] == pytest.approx(a["coef"])  # C_min = 1 PF-day
  assert "fit_frontier" in p["sources"]["allocation"]


def test_clis_import_no_jax():
  code = ("import sys, scaling.cli.fit, scaling.cli.plan, scaling.laws, "
          "scaling.laws.plots; print(sorted(m for m in sys.modules "
          "if m.split('.')[0] in ('jax', 'jaxlib', 'tensorflow', 'flax')))")
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, cwd=ROOT, env={**os.environ,
                                                  "PYTHONPATH": ROOT})
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip() == "[]"


_NN, _DD = (a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e10, 5),
                                           np.geomspace(1e7, 1e11, 5)))
EVERY_LAW = {  # law -> input columns; the paper's constants are the truth
    "N": {"N": np.geomspace(1e5, 1e10, 12)},
    "N+E": {"N": np.geomspace(1e5, 1e10, 12)},
    "D": {"D": np.geomspace(1e7, 1e11, 12)},
    "C": {"C": np.geomspace(1e15, 1e21, 12)},
    "Cmin": {"C_min": np.geomspace(1e15, 1e21, 12)},
    "ND": {"N": _NN, "D": _DD},
    "chinchilla": {"N": _NN, "D": _DD},
    "NS": {"N": _NN, "S_min": np.geomspace(1e2, 1e5, 5).repeat(5)},
    "bcrit": {"loss": np.linspace(2.5, 6.0, 12)},
    "position": {"T": np.arange(1.0, 1025.0, 16)},
    "lr": {"N": np.geomspace(1e5, 1e10, 12)},
}
TRUTH = {"N+E": {"alpha_N": 0.3, "N_c": 1e9, "E": 1.7},
         "chinchilla": {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7,
                        "beta": 0.28}}


@pytest.mark.parametrize("name", sorted(EVERY_LAW))
def test_every_law_through_the_cli_with_plots(tmp_path, capsys, name):
  from scaling import laws
  law = laws.get_law(name)
  truth = TRUTH.get(name, law.paper)
  cols = EVERY_LAW[name]
  y = law.predict(truth, cols) * np.exp(
      0.005 * np.random.default_rng(0).standard_normal(len(cols[law.inputs[0]])))
  path = tmp_path / "t.csv"
  names = list(cols) + [law.target]
  rows = zip(*[cols[c] for c in cols], y)
  path.write_text(",".join(names) + "\n"
                  + "".join(",".join(repr(float(v)) for v in r) + "\n"
                            for r in rows))
  assert fit_cli.main(["law", name, str(path), "--bootstrap", "0",
                       "--holdout-largest", "1"]) == 0
  out = tmp_path / f"fit_{name.replace('+', '_')}"
  fit = json.loads((out / "fit.json").read_text())
  assert fit["law"] == law.name and set(fit["params"]) == set(truth)
  assert fit["holdout"]["max_abs_rel_error"] < 0.05
  for k, v in truth.items():
    assert fit["params"][k] == pytest.approx(v, rel=0.3), k
  pngs = sorted(p for p in os.listdir(out) if p.endswith(".png"))
  assert len(pngs) == 2
  assert all((out / p).read_bytes().startswith(b"\x89PNG") for p in pngs)


def test_sweep_results_jsonl_as_written_by_the_sweep_runner(tmp_path, capsys):
  # Rows like scaling/sweep/runner.py writes: summary.json keys + name +
  # overrides; one member failed and is not listed as completed.
  rows = []
  for i, loss in enumerate(np.linspace(4.0, 3.0, 7)):
    # Pick the loss, then the compute that L(C_min) and eq. 5.5 give it.
    cmin = 8.64e19 * 3.1e8 / loss ** (1 / 0.05)
    c = cmin * (1 + 2 ** 19 / (2e8 / loss ** (1 / 0.21)))
    tokens = 2e9
    n = c / (6 * tokens)
    rows.append({"name": f"m{i}", "status": "completed",
                 "n_params_nonembedding": n, "tokens_seen": tokens,
                 "compute_flops": c, "steps": tokens / 2 ** 19,
                 "batch_size": 512, "n_ctx": 1024, "batch_tokens": 2 ** 19,
                 "train_tokens_available": 1e12, "val_loss": loss,
                 "best_val_loss": loss, "per_position_loss": None,
                 "overrides": {"model.d_model": 64 * (i + 1)}})
  rows.append({**rows[0], "name": "bad", "status": "failed", "val_loss": None})
  (tmp_path / "results.jsonl").write_text(
      "".join(json.dumps(r) + "\n" for r in rows))
  assert fit_cli.main(["law", "C", str(tmp_path), "--bootstrap", "0"]) == 0
  fit = json.loads((tmp_path / "fit_C" / "fit.json").read_text())
  assert fit["n_points"] == 7
  assert fit_cli.main(["law", "Cmin", str(tmp_path), "--bootstrap", "0"]) == 0
  text = capsys.readouterr().out
  assert "C_min = C/(1+B/B_crit) (eq. 5.5)" in text
  fit = json.loads((tmp_path / "fit_Cmin" / "fit.json").read_text())
  assert fit["params"]["alpha_Cmin"] == pytest.approx(0.05, rel=1e-3)
  assert fit["params"]["C_c_min"] == pytest.approx(3.1e8, rel=0.02)


def test_unwritable_output_is_a_clean_error(tmp_path, capsys):
  table = write_nd_table(tmp_path / "table.csv", noise=0.01)
  blocker = tmp_path / "file"
  blocker.write_text("")
  assert fit_cli.main(["law", "ND", table, "--bootstrap", "0", "--no-plots",
                       "--out", str(blocker / "sub")]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("error: cannot write")


# A byte-level model's B_crit(L): the tiny batch-size scan's fit (docs/gns.md).
BCRIT_MEASURED = (3.29e5, 0.182)
NS = {"alpha_N": 0.2, "N_c": 1e7, "alpha_S": 0.76, "S_c": 30.0}


def write_ns_table(path, batch_tokens=2048):
  """L(N, S_min) (Eq. 5.6) at known constants, logged as S = S_min·(1 + B_crit(L)/B)."""
  with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["N", "S", "B", "loss"])
    for n in (1e5, 3e5, 1e6):
      for s_min in np.geomspace(5, 200, 10):
        loss = (NS["N_c"] / n) ** NS["alpha_N"] + (NS["S_c"] / s_min) ** NS["alpha_S"]
        b_crit = BCRIT_MEASURED[0] / loss ** (1 / BCRIT_MEASURED[1])
        w.writerow([n, s_min * (1 + b_crit / batch_tokens), batch_tokens, loss])
  return str(path)


def test_ns_with_a_measured_bcrit_law_recovers_s_min_constants(tmp_path, capsys):
  """The paper's B_crit(L) (BPE) on byte-level losses shrinks S_min ~10^3-fold."""
  table = write_ns_table(tmp_path / "ns.csv")
  b_star, alpha_b = BCRIT_MEASURED
  assert fit_cli.main(["law", "NS", table, "--out", str(tmp_path / "m"), "--bootstrap", "0",
                       "--no-plots", "--b-star", str(b_star), "--alpha-b", str(alpha_b)]) == 0
  assert "B_crit(L) = 3.29e+05/L^(1/0.182)" in capsys.readouterr().out
  fit = json.loads((tmp_path / "m" / "fit.json").read_text())
  assert fit["params"]["alpha_S"] == pytest.approx(NS["alpha_S"], rel=0.05)
  assert fit["params"]["S_c"] == pytest.approx(NS["S_c"], rel=0.10)
  assert fit_cli.main(["law", "NS", table, "--out", str(tmp_path / "p"), "--bootstrap", "0",
                       "--no-plots"]) == 0
  assert "paper, for BPE losses" in capsys.readouterr().out
  paper = json.loads((tmp_path / "p" / "fit.json").read_text())
  assert paper["params"]["S_c"] < NS["S_c"] / 10  # what the default does to this table


def test_b_star_without_alpha_b_is_one_error_line(tmp_path, capsys):
  table = write_ns_table(tmp_path / "ns.csv")
  assert fit_cli.main(["law", "NS", table, "--b-star", "3e5"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "give --b-star and --alpha-b together" in err[0]


# ------------------------------------------------------------ the subcommands

@pytest.mark.parametrize("sub", sorted(fit_cli.COMMANDS))
def test_every_subcommand_help_exits_0_with_an_example(sub, capsys):
  assert fit_cli.main([sub, "--help"]) == 0
  text = capsys.readouterr().out
  assert text.startswith(f"usage: scaling-fit {sub} ")
  assert "example:\n" in text and f"\n  scaling-fit {sub} " in text.split("example:")[-1]


def test_top_help_lists_every_subcommand_with_an_example(capsys):
  assert fit_cli.main(["--help"]) == 0
  text = capsys.readouterr().out
  listed = text.split("subcommands:")[1].split("laws (")[0]
  shown = text.split("example:")[1]
  for sub in fit_cli.COMMANDS:
    assert f"\n    {sub} " in listed and f"\n  scaling-fit {sub} " in shown, sub


def test_each_subcommand_offers_only_its_options(capsys):
  for argv, bad in ((["frontier", ROOT, "--tolerance", "0.3"], "--tolerance"),
                    (["branches", ROOT, "--bootstrap", "3"], "--bootstrap"),
                    (["law", "N", ROOT, "--grid", "8"], "--grid"),
                    (["counts", ROOT, "--count", "total"], "--count")):
    assert fit_cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"unrecognized arguments: {bad}" in err[0], err
    assert f"see scaling-fit {argv[0]} --help" in err[0]


def test_every_subcommand_sets_what_the_report_reads():
  import dataclasses  # pylint: disable=g-import-not-at-top
  from scaling.laws.report import FitOptions  # pylint: disable=g-import-not-at-top
  parser = fit_cli.build_parser()
  for argv in (["law", "nd", "x"], ["frontier", "x"], ["isoflop", "x"], ["counts", "x"],
               ["branches", "x"]):
    args = vars(parser.parse_args(argv))
    assert {f.name for f in dataclasses.fields(FitOptions)} <= set(args), argv
    assert args["law"] == ("ND" if argv[0] == "law" else argv[0])


@pytest.mark.parametrize("argv, match", [
    (["foo", ROOT], "invalid choice: 'foo'"),
    ([], "required: SUBCOMMAND"),
    (["law", "foo", ROOT], "unknown law 'foo'"),
    (["law", "frontier", ROOT], "'frontier' is a subcommand, not a law"),
    (["ND", ROOT], "'ND' is a law: scaling-fit law ND INPUT"),  # the old spelling
    (["law", "N", "/no/such/path"], "does not exist"),
    (["bcrit", "/no/such/scan"], "does not exist"),
])
def test_bad_subcommand_law_or_path_is_one_line_exit_2(argv, match):
  out = run_cli("scaling.cli.fit", *argv)
  assert out.returncode == 2 and out.stdout == "", out
  err = out.stderr.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("error: ") and match in err[0], out.stderr


def test_law_bcrit_fits_a_table_and_bcrit_reads_a_scan(tmp_path, capsys):
  from test_bcrit import write_scan  # pylint: disable=g-import-not-at-top
  loss = np.linspace(2.5, 6.0, 12)
  table = tmp_path / "bcrit.csv"
  table.write_text("loss,B_crit\n" + "".join(f"{l},{2e8 / l ** (1 / 0.21)}\n" for l in loss))
  assert fit_cli.main(["law", "bcrit", str(table), "--bootstrap", "0", "--no-plots"]) == 0
  fit = json.loads((tmp_path / "fit_bcrit" / "fit.json").read_text())
  assert fit["law"] == "bcrit" and fit["params"]["alpha_B"] == pytest.approx(0.21, rel=1e-3)
  assert fit_cli.main(["bcrit", str(table)]) == 2  # a table is no scan: says the spelling
  assert "scaling-fit law bcrit" in capsys.readouterr().err
  scan = write_scan(tmp_path / "scan", gns=False)
  assert fit_cli.main(["bcrit", scan, "--target-losses", "3.4,3.1,2.9", "--no-plots"]) == 0
  fit = json.loads((tmp_path / "scan" / "fit_bcrit" / "fit.json").read_text())
  assert fit["kind"] == "bcrit" and [l["loss"] for l in fit["levels"]] == [3.4, 3.1, 2.9]
