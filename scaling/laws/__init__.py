"""Scaling-law analysis: law forms, robust fits, the compute frontier, planning.

Pure numpy/scipy (matplotlib only for figures); importing this package does not
import JAX.

  from scaling.laws import fit_law, compute_frontier, load_curves, plan
  result = fit_law("ND", "runs/sweep", bootstrap=100)   # or a CSV / dict
  result.params, result.ci95, result.r2
  fr = compute_frontier(load_curves("runs/sweep"))
  plan(1.0, pf_days=True).N                              # ~1.3e9
"""

from scaling.laws.curves import Curve, load_curves
from scaling.laws.fit import FitResult, HUBER_DELTA, fit_law, split_largest
from scaling.laws.forms import (LAWS, PF_DAY, Law, Param, bcrit_of_loss,
                                c_min_of, get_law, s_min_of)
from scaling.laws.frontier import (Envelope, FrontierResult, compute_frontier,
                                   envelope, frontier_holdout)
from scaling.laws.planner import TABLE6, Plan, plan
from scaling.laws.errors import LawInputError
from scaling.laws.readers import read_rows
from scaling.laws.tables import Table, as_table

__all__ = [
    "LAWS", "PF_DAY", "HUBER_DELTA", "TABLE6", "Law", "Param", "get_law",
    "bcrit_of_loss", "c_min_of", "s_min_of", "Table", "as_table", "read_rows",
    "LawInputError", "FitResult", "fit_law", "split_largest", "Curve",
    "load_curves", "Envelope", "FrontierResult", "compute_frontier",
    "envelope", "frontier_holdout", "Plan", "plan",
]
