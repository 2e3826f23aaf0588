"""Compute-efficient allocation of a compute budget C_min (Section 6, Table 6).

With the paper's constants (C_min in PF-days):
  N = 1.3e9*C^0.73, B = 2.0e6*C^0.24 tokens, S_min = 5.4e3*C^0.03,
  D = 2e10*C^0.27 tokens, L = (3.1e8/C)^0.050.
Training at B = B_crit takes S = 2*S_min steps and C = 6*N*D ~ 2*C_min.
Also reported: the overfitting bound D >= 5e3*N^0.74 (eq. 4.4) and the early-
stopping step S_stop >= S_c/[L(N,D) - L(N,inf)]^(1/alpha_S) (eq. 5.7).
Fitted constants (fit.json of a frontier, Cmin, ND or NS fit) replace the
paper's where present.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Mapping

from scaling.laws import counting
from scaling.laws import forms
from scaling.laws.errors import LawInputError

# Table 6: quantity -> (value at C_min = 1 PF-day, exponent of C_min).
TABLE6: dict[str, tuple[float, float]] = {
    "N": (1.3e9, 0.73),
    "B": (2.0e6, 0.24),
    "S_min": (5.4e3, 0.03),
    "D": (2e10, 0.27),
}
OVERFIT_BOUND = (5e3, 0.74)  # eq. 4.4: D >= 5e3 * N^0.74
OVERFIT_DELTA_L = 0.02  # the loss penalty eq. 4.4 tolerates


@dataclasses.dataclass
class Plan:
  """The compute-efficient allocation for one budget C_min."""
  c_min_flops: float
  c_min_pf_days: float
  N: float
  B: float  # tokens per batch (= B_crit)
  B_seqs: float  # sequences of n_ctx tokens per batch
  S_min: float
  S: float  # steps when training at B = B_crit: 2*S_min
  D: float  # tokens processed
  loss: float  # expected L(C_min), nats
  C_flops: float  # 6*N*D, the compute actually spent (~2*C_min)
  n_ctx: int
  data_tokens: float  # dataset size assumed for eqs 4.4 and 5.7
  overfit_min_data: float  # D_data needed for no overfitting penalty
  overfit_ok: bool
  loss_converged: float  # L(N, inf), eq. 4.1
  loss_data_limited: float  # L(N, D_data), eq. 4.1
  S_stop: float  # eq. 5.7 lower bound on the early-stopping step
  constants: dict[str, Any]
  sources: dict[str, str]

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)


def _load_fit(fit) -> tuple[dict, str]:
  if isinstance(fit, Mapping):
    return dict(fit), "fit"
  path = os.fspath(fit)
  if not os.path.exists(path):
    raise LawInputError(f"fit file {path!r} does not exist")
  try:
    with open(path) as f:
      return json.load(f), path
  except json.JSONDecodeError as e:
    raise LawInputError(f"fit file {path!r} is not valid JSON ({e.msg})")


def _constants(fits) -> tuple[dict, dict]:
  """Merges the paper's constants with those of the given fit dicts."""
  alloc = {k: {"coef": v[0], "exponent": v[1]} for k, v in TABLE6.items()}
  const = {
      "allocation": alloc,
      "loss": dict(forms.LAWS["Cmin"].paper),
      "ND": dict(forms.LAWS["ND"].paper),
      "NS": {k: forms.LAWS["NS"].paper[k] for k in ("S_c", "alpha_S")},
      "overfit": {"coef": OVERFIT_BOUND[0], "exponent": OVERFIT_BOUND[1]},
  }
  src = {"allocation": "paper Table 6", "loss": "paper Table 5 L(C_min)",
         "ND": "paper Table 2 (eq. 4.1)", "NS": "paper Table 3",
         "overfit": "paper eq. 4.4"}
  for fit in fits or ():
    data, name = _load_fit(fit)
    try:
      used = _apply_fit(data, name, const, src)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
      raise LawInputError(f"fit file {name} lacks the expected constants "
                          f"({e!r}); pass a fit.json written by scaling-fit")
    if not used:
      raise LawInputError(f"fit file {name} (law {data.get('law')!r}) has no "
                          "constants the planner uses: give a frontier, Cmin, "
                          "ND or NS fit")
  return const, src


def _apply_fit(data: dict, name: str, const: dict, src: dict) -> bool:
  """Copies the constants of one fit.json into const; False if none apply."""
  alloc = const["allocation"]
  used = False
  allocation = data.get("allocation") or {}
  if "C_min" in allocation:
    for key, val in allocation["C_min"].items():
      if key in alloc:
        alloc[key] = {"coef": float(val["coef"]),
                      "exponent": float(val["exponent"])}
    src["allocation"] = f"{name} (C_min frontier)"
    used = True
  elif "C" in allocation:
    for key in ("N", "D"):
      val = allocation["C"][key]
      alloc[key] = {"coef": float(val["coef"]),
                    "exponent": float(val["exponent"])}
    kind = ("IsoFLOP profiles" if data.get("law") == "isoflop"
            else "fixed-batch C frontier")
    src["allocation"] = (f"{name} ({kind} for N, D; no batch "
                         "information) + paper Table 6 for B, S_min")
    used = True
  if data.get("count", "kaplan") != "kaplan":  # scaling.laws.counting
    src["count"] = f"{name}: N and C counted as {data['count']!r}"
  loss_fit = data.get("loss_fit") or {}
  if loss_fit.get("C_min"):
    p = loss_fit["C_min"]["params"]
    const["loss"] = {k: float(p[k]) for k in ("alpha_Cmin", "C_c_min")}
    src["loss"] = f"{name} (C_min frontier)"
    used = True
  law, params = data.get("law"), data.get("params") or {}
  if law == "Cmin":
    const["loss"] = {k: float(params[k]) for k in ("alpha_Cmin", "C_c_min")}
    src["loss"] = name
    used = True
  elif law == "ND":
    nd = {k: float(params[k]) for k in ("alpha_N", "alpha_D", "N_c", "D_c")}
    ratio = nd["alpha_N"] / nd["alpha_D"]
    const["ND"] = nd
    const["overfit"] = {"coef": nd["alpha_D"] * nd["D_c"] /
                                (OVERFIT_DELTA_L * nd["N_c"] ** ratio),
                        "exponent": ratio}
    src["ND"] = name
    src["overfit"] = f"{name} (eq. 4.3 with dL = {OVERFIT_DELTA_L})"
    used = True
  elif law == "NS":
    const["NS"] = {k: float(params[k]) for k in ("S_c", "alpha_S")}
    src["NS"] = name
    used = True
  return used


def loss_nd(n: float, d: float, nd: Mapping[str, float]) -> float:
  """Eq. 4.1: L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D."""
  a_n, a_d = nd["alpha_N"], nd["alpha_D"]
  return ((nd["N_c"] / n) ** (a_n / a_d) + nd["D_c"] / d) ** a_d


def early_stop_step(n: float, d: float, nd, ns) -> float:
  """Eq. 5.7: S_stop >= S_c / [L(N, D) - L(N, inf)]^(1/alpha_S)."""
  gap = loss_nd(n, d, nd) - (nd["N_c"] / n) ** nd["alpha_N"]
  return ns["S_c"] / gap ** (1.0 / ns["alpha_S"]) if gap > 0 else math.inf


def check_count(fits, count: str) -> None:
  """Refuses fits (or Table 6) made under another counting convention
  (scaling.laws.counting) than `count`."""
  count = counting.get(count).name
  made = [(_load_fit(f)[1], _load_fit(f)[0].get("count", counting.DEFAULT))
          for f in fits or ()]
  wrong = [f"{name} ({c})" for name, c in made if c != count]
  if wrong:
    raise LawInputError(f"--count {count} but {', '.join(wrong)} counted otherwise; refit "
                        f"with scaling-fit ... --count {count}")
  if count != counting.DEFAULT and not made:
    raise LawInputError(f"--count {count}: Table 6 counts non-embedding N (kaplan); give "
                        f"--fit with a fit.json made with --count {count}")


def plan(compute: float, pf_days: bool = False, fits=None,
         data_tokens: float | None = None, n_ctx: int = 1024,
         count: str | None = None) -> Plan:
  """The compute-efficient N, B, S_min, D and loss for a budget C_min.

  compute: C_min in FLOP (or in PF-days with pf_days=True).
  fits: fit.json paths or dicts whose constants replace the paper's.
  data_tokens: dataset size for eqs 4.4 and 5.7 (default: the planned D).
  """
  try:
    compute = float(compute)
  except (TypeError, ValueError):
    raise LawInputError(f"compute must be a number, got {compute!r}")
  if not math.isfinite(compute) or compute <= 0:
    raise LawInputError(f"compute must be finite and > 0, got {compute:g}")
  c_pf = compute if pf_days else compute / forms.PF_DAY
  if count is not None:
    check_count(fits, count)
  const, src = _constants(fits)
  alloc = const["allocation"]
  val = {k: v["coef"] * c_pf ** v["exponent"] for k, v in alloc.items()}
  loss = (const["loss"]["C_c_min"] / c_pf) ** const["loss"]["alpha_Cmin"]
  n, d = val["N"], val["D"]
  d_data = float(data_tokens) if data_tokens else d
  if d_data <= 0:
    raise LawInputError(f"data tokens must be > 0, got {d_data:g}")
  over = const["overfit"]["coef"] * n ** const["overfit"]["exponent"]
  return Plan(
      c_min_flops=c_pf * forms.PF_DAY, c_min_pf_days=c_pf, N=n, B=val["B"],
      B_seqs=val["B"] / n_ctx, S_min=val["S_min"], S=2.0 * val["S_min"], D=d,
      loss=loss, C_flops=6.0 * n * d, n_ctx=n_ctx, data_tokens=d_data,
      overfit_min_data=over, overfit_ok=bool(d_data >= over),
      loss_converged=(const["ND"]["N_c"] / n) ** const["ND"]["alpha_N"],
      loss_data_limited=loss_nd(n, d_data, const["ND"]),
      S_stop=early_stop_step(n, d_data, const["ND"], const["NS"]),
      constants=const, sources=src)
