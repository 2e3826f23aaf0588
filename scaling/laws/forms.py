"""The scaling laws as named forms with named parameters.

Every law predicts the logarithm of its target (loss, B_crit or learning rate)
from a dict of input columns, so that fits work on log residuals. Parameter
names follow Kaplan et al. (2020); `paper` holds the paper's constants where it
has them (Tables 2, 3, 5 and Appendix D.6; see /work/shared/paper.md).

Units: N in non-embedding parameters, D, B and B_crit in tokens, S in steps,
T a token position, loss in nats per token. The input column C (and C_min) is in
FLOP, while the fitted C_c and C_c_min are in PF-days like the paper's.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import numpy as np

from scaling.laws.constants import BCRIT_ALPHA_B, BCRIT_B_STAR, LR_A, LR_B, PF_DAY

Array = np.ndarray
Params = Mapping[str, float]
Columns = Mapping[str, Array]


@dataclasses.dataclass(frozen=True)
class Param:
  """One fitted constant.

  `positive` constants are optimised through their logarithm; `grid` lists the
  starting values (in natural units) of the multi-start search.
  """
  name: str
  grid: tuple[float, ...]
  paper: float | None = None
  positive: bool = True
  doc: str = ""


@dataclasses.dataclass(frozen=True)
class Law:
  """A scaling law: target = f(inputs; params), evaluated as log(target)."""
  name: str
  formula: str
  params: tuple[Param, ...]
  inputs: tuple[str, ...]
  log_fn: Callable[[Params, Columns], Array]
  target: str = "loss"
  # Holdout: the K "largest" models are those with the largest size_key (or the
  # smallest if largest_first is False, e.g. the lowest loss for B_crit(L)).
  size_key: str = "N"
  largest_first: bool = True
  # Optional data-driven starting point: (columns, target) -> params or None.
  init: Callable[[Columns, Array], dict | None] | None = None
  description: str = ""
  log_y: bool = True  # plot the target on a log axis

  @property
  def param_names(self) -> tuple[str, ...]:
    return tuple(p.name for p in self.params)

  @property
  def paper(self) -> dict[str, float | None]:
    return {p.name: p.paper for p in self.params}

  @property
  def has_paper(self) -> bool:
    return all(p.paper is not None for p in self.params)

  def log_predict(self, params: Params, columns: Columns) -> Array:
    cols = {k: np.asarray(columns[k], dtype=float) for k in self.inputs}
    return np.asarray(self.log_fn(params, cols), dtype=float)

  def predict(self, params: Params, columns: Columns) -> Array:
    return np.exp(self.log_predict(params, columns))


# ----------------------------------------------------------------------------
# Data-driven starting points.

def _loglinear(x: Array, y: Array) -> tuple[float, float] | None:
  """Least squares ln y = c0 + c1 ln x; None when degenerate."""
  lx, ly = np.log(x), np.log(y)
  if len(lx) < 2 or np.ptp(lx) == 0:
    return None
  c1, c0 = np.polyfit(lx, ly, 1)
  return float(c0), float(c1)


def _power_init(col: str, alpha: str, scale: str, unit: float = 1.0):
  """Init for y = (scale/x)^alpha: ln y = alpha ln scale - alpha ln x."""
  def init(cols, y):
    fit = _loglinear(np.asarray(cols[col]) / unit, y)
    if fit is None or fit[1] >= 0:
      return None
    c0, c1 = fit
    return {alpha: -c1, scale: float(np.exp(c0 / -c1))}
  return init


def _offset_power_init(col: str, offset: str, coef_names, exponent: str):
  """Init for y = offset + k x^-e via a log-linear fit of y - 0.9 min(y)."""
  def init(cols, y):
    e0 = 0.9 * float(np.min(y))
    fit = _loglinear(np.asarray(cols[col]), y - e0)
    if fit is None or fit[1] >= 0:
      return None
    c0, c1 = fit
    out = {offset: e0, exponent: -c1}
    kind, name = coef_names
    # 'scale': (scale/x)^e  -> scale = exp(c0/e); 'coef': k x^-e -> k = exp(c0)
    out[name] = float(np.exp(c0 / -c1)) if kind == "scale" else float(np.exp(c0))
    return out
  return init


def _ns_e_init(cols, y):
  """Init for L = E + (N_c/N)^alpha_N + (S_c/S)^alpha_S: E below the lowest loss,
  the N term from each model's last point, the S term from what is left."""
  n, s = np.asarray(cols["N"], float), np.asarray(cols["S"], float)
  e0 = 0.8 * float(np.min(y))
  last = np.array([s_i == s[n == n_i].max() for n_i, s_i in zip(n, s)])
  n_fit = _loglinear(n[last], 0.5 * (y[last] - e0))
  if n_fit is None or n_fit[1] >= 0:
    return None
  alpha_n = -n_fit[1]
  n_c = float(np.exp(n_fit[0] / alpha_n))
  rest = y - e0 - (n_c / n) ** alpha_n
  ok = rest > 0
  s_fit = _loglinear(s[ok], rest[ok]) if ok.sum() >= 2 else None
  if s_fit is None or s_fit[1] >= 0:
    return None
  alpha_s = -s_fit[1]
  return {"alpha_N": alpha_n, "alpha_S": alpha_s, "N_c": n_c,
          "S_c": float(np.exp(s_fit[0] / alpha_s)), "E": e0}


def _bcrit_init(cols, y):
  fit = _loglinear(np.asarray(cols["loss"]), y)
  if fit is None or fit[1] >= 0:
    return None
  c0, c1 = fit
  return {"B_star": float(np.exp(c0)), "alpha_B": -1.0 / c1}


def _lr_init(cols, y):
  ln_n = np.log(np.asarray(cols["N"]))
  if len(ln_n) < 2 or np.ptp(ln_n) == 0:
    return None
  b, a = np.polyfit(ln_n, y, 1)
  return {"a": float(a), "b": float(b)}


# ----------------------------------------------------------------------------
# Log-space predictions.

def _l(x):
  return np.log(x)


def _log_n(p, c):
  return p["alpha_N"] * (_l(p["N_c"]) - _l(c["N"]))


def _log_n_e(p, c):
  return np.logaddexp(_l(p["E"]), p["alpha_N"] * (_l(p["N_c"]) - _l(c["N"])))


def _log_d(p, c):
  return p["alpha_D"] * (_l(p["D_c"]) - _l(c["D"]))


def _log_c(p, c):
  return p["alpha_C"] * (_l(p["C_c"]) - _l(c["C"] / PF_DAY))


def _log_cmin(p, c):
  return p["alpha_Cmin"] * (_l(p["C_c_min"]) - _l(c["C_min"] / PF_DAY))


def _log_nd(p, c):
  a_n, a_d = p["alpha_N"], p["alpha_D"]
  return a_d * np.logaddexp((a_n / a_d) * (_l(p["N_c"]) - _l(c["N"])),
                            _l(p["D_c"]) - _l(c["D"]))


def _log_chinchilla(p, c):
  terms = np.stack(np.broadcast_arrays(
      _l(p["E"]) + 0.0 * _l(c["N"]),
      _l(p["A"]) - p["alpha"] * _l(c["N"]),
      _l(p["B"]) - p["beta"] * _l(c["D"])))
  m = terms.max(axis=0)
  return m + np.log(np.exp(terms - m).sum(axis=0))


def _log_ns(p, c):
  return np.logaddexp(p["alpha_N"] * (_l(p["N_c"]) - _l(c["N"])),
                      p["alpha_S"] * (_l(p["S_c"]) - _l(c["S_min"])))


def _log_ns_e(p, c):
  terms = np.stack(np.broadcast_arrays(
      _l(p["E"]) + 0.0 * _l(c["N"]),
      p["alpha_N"] * (_l(p["N_c"]) - _l(c["N"])),
      p["alpha_S"] * (_l(p["S_c"]) - _l(c["S"]))))
  m = terms.max(axis=0)
  return m + np.log(np.exp(terms - m).sum(axis=0))


def _log_bcrit(p, c):
  return _l(p["B_star"]) - _l(c["loss"]) / p["alpha_B"]


def _log_position(p, c):
  return np.logaddexp(_l(p["a"]), _l(p["b"]) - p["c"] * _l(c["T"]))


def _log_lr(p, c):
  lr = p["a"] + p["b"] * _l(c["N"])
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(lr > 0, np.log(np.where(lr > 0, lr, 1.0)), np.nan)


# ----------------------------------------------------------------------------
# Starting grids (natural units).

_ALPHA = (0.03, 0.07, 0.15, 0.4)
_SCALE = (1e6, 1e9, 1e12, 1e15, 1e18)


def _law_list() -> list[Law]:
  return [
      Law("N", "L = (N_c/N)^alpha_N",
          (Param("alpha_N", _ALPHA, 0.076),
           Param("N_c", _SCALE, 8.8e13, doc="non-embedding params")),
          ("N",), _log_n, init=_power_init("N", "alpha_N", "N_c"),
          description="converged loss vs model size (Table 5)"),
      Law("N+E", "L = E + (N_c/N)^alpha_N",
          (Param("alpha_N", _ALPHA, 0.076),
           Param("N_c", _SCALE, 8.8e13, doc="non-embedding params"),
           Param("E", (0.5, 1.0, 2.0), None, doc="irreducible loss, nats")),
          ("N",), _log_n_e,
          init=_offset_power_init("N", "E", ("scale", "N_c"), "alpha_N"),
          description="L(N) with an irreducible loss E"),
      Law("D", "L = (D_c/D)^alpha_D",
          (Param("alpha_D", _ALPHA, 0.095),
           Param("D_c", _SCALE, 5.4e13, doc="tokens")),
          ("D",), _log_d, size_key="D", init=_power_init("D", "alpha_D", "D_c"),
          description="early-stopped loss vs dataset size (Table 5)"),
      Law("C", "L = (C_c/C)^alpha_C   (C_c in PF-days, input C in FLOP)",
          (Param("alpha_C", _ALPHA, 0.057),
           Param("C_c", (1e3, 1e6, 1e9, 1e12), 1.6e7, doc="PF-days")),
          ("C",), _log_c, size_key="C",
          init=_power_init("C", "alpha_C", "C_c", PF_DAY),
          description="loss vs compute at fixed batch (Table 5)"),
      Law("Cmin", "L = (C_c_min/C_min)^alpha_Cmin   (C_c_min in PF-days, "
          "C_min in FLOP)",
          (Param("alpha_Cmin", _ALPHA, 0.050),
           Param("C_c_min", (1e3, 1e6, 1e9, 1e12), 3.1e8, doc="PF-days")),
          ("C_min",), _log_cmin, size_key="C_min",
          init=_power_init("C_min", "alpha_Cmin", "C_c_min", PF_DAY),
          description="loss vs minimum compute (Table 5, eq. 5.5)"),
      Law("ND", "L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D   (eq. 4.1)",
          (Param("alpha_N", (0.04, 0.08, 0.2), 0.076),
           Param("alpha_D", (0.04, 0.1, 0.3), 0.103),
           Param("N_c", (1e8, 1e11, 1e14, 1e17), 6.4e13),
           Param("D_c", (1e8, 1e11, 1e14, 1e17), 1.8e13, doc="tokens")),
          ("N", "D"), _log_nd,
          description="loss vs model and dataset size (Table 2)"),
      Law("chinchilla", "L = E + A/N^alpha + B/D^beta   (Hoffmann et al. 2022)",
          (Param("E", (0.5, 1.0, 2.0)),
           Param("A", (1e1, 1e2, 1e3, 1e4)),
           Param("alpha", (0.1, 0.25, 0.5, 1.0)),
           Param("B", (1e1, 1e2, 1e3, 1e4)),
           Param("beta", (0.1, 0.25, 0.5, 1.0))),
          ("N", "D"), _log_chinchilla,
          description="Chinchilla approach 3 form (no constants in paper.md)"),
      Law("NS", "L = (N_c/N)^alpha_N + (S_c/S_min)^alpha_S   (eq. 5.6)",
          (Param("alpha_N", (0.04, 0.08, 0.2), 0.077),
           Param("alpha_S", (0.2, 0.5, 1.0, 2.0), 0.76),
           Param("N_c", (1e8, 1e11, 1e14, 1e17), 6.5e13),
           Param("S_c", (1e1, 1e3, 1e5), 2.1e3, doc="steps")),
          ("N", "S_min"), _log_ns,
          description="loss vs model size and minimum steps (Table 3)"),
      Law("NS+E", "L = E + (N_c/N)^alpha_N + (S_c/S)^alpha_S",
          (Param("alpha_N", (0.04, 0.1, 0.3)),
           Param("alpha_S", (0.2, 0.5, 1.0)),
           Param("N_c", (1e2, 1e5, 1e9, 1e13)),
           Param("S_c", (1e0, 1e2, 1e4), doc="steps"),
           Param("E", (0.5, 1.0, 2.0), doc="irreducible loss, nats")),
          ("N", "S"), _log_ns_e, init=_ns_e_init,
          description="learning curves at a fixed batch: model size and steps, "
                      "with an irreducible loss E"),
      Law("bcrit", "B_crit = B_star / L^(1/alpha_B)   (eq. 5.3)",
          (Param("B_star", (1e6, 1e8, 1e10), BCRIT_B_STAR, doc="tokens"),
           Param("alpha_B", (0.1, 0.2, 0.5, 1.0), BCRIT_ALPHA_B)),
          ("loss",), _log_bcrit, target="B_crit", size_key="loss",
          largest_first=False, init=_bcrit_init,
          description="critical batch size vs loss (Table 3)"),
      Law("position", "L(T) = a + b*T^(-c)",
          (Param("a", (1.0, 2.0, 4.0), 2.9, doc="nats"),
           Param("b", (1.0, 4.0, 16.0), 4.5, doc="nats"),
           Param("c", (0.2, 0.5, 1.0), 0.56)),
          ("T",), _log_position, size_key="T",
          init=_offset_power_init("T", "a", ("coef", "b"), "c"),
          description="per-token loss vs context position (Fig. 20)"),
      Law("lr", "LR(N) = a + b*ln(N)",
          (Param("a", (1e-3, 3e-3, 1e-2), LR_A, positive=False),
           Param("b", (-1e-3, -1e-4, -1e-5), LR_B, positive=False)),
          ("N",), _log_lr, target="lr", init=_lr_init, log_y=False,
          description="best learning rate vs model size (Appendix D.6)"),
  ]


LAWS: dict[str, Law] = {law.name: law for law in _law_list()}
_ALIASES = {"n": "N", "ne": "N+E", "n+e": "N+E", "d": "D", "c": "C",
            "cmin": "Cmin", "c_min": "Cmin", "nd": "ND", "ns": "NS",
            "ns+e": "NS+E", "nse": "NS+E",
            "b_crit": "bcrit", "bcrit": "bcrit", "pos": "position"}


def get_law(name: str) -> Law:
  """Looks a law up by name (case-insensitive aliases such as `cmin`, `nd`)."""
  if name in LAWS:
    return LAWS[name]
  key = _ALIASES.get(name.lower(), name.lower())
  for law in LAWS.values():
    if law.name == key or law.name.lower() == key:
      return law
  raise KeyError(f"unknown law {name!r}; choose one of "
                 f"{', '.join(LAWS)} (or 'frontier')")


def bcrit_of_loss(loss, b_star: float | None = None,
                  alpha_b: float | None = None) -> Array:
  """B_crit(L) = B*/L^(1/alpha_B) in tokens, with the paper's constants."""
  paper = LAWS["bcrit"].paper
  b_star = paper["B_star"] if b_star is None else b_star
  alpha_b = paper["alpha_B"] if alpha_b is None else alpha_b
  return b_star / np.asarray(loss, dtype=float) ** (1.0 / alpha_b)


def c_min_of(c, b, loss, b_crit=None) -> Array:
  """Eq. 5.5: C_min = C / (1 + B/B_crit(L))."""
  b_crit = bcrit_of_loss(loss) if b_crit is None else np.asarray(b_crit, float)
  return np.asarray(c, float) / (1.0 + np.asarray(b, float) / b_crit)


def s_min_of(s, b, loss, b_crit=None) -> Array:
  """Eq. 5.4: S_min = S / (1 + B_crit(L)/B)."""
  b_crit = bcrit_of_loss(loss) if b_crit is None else np.asarray(b_crit, float)
  return np.asarray(s, float) / (1.0 + b_crit / np.asarray(b, float))
