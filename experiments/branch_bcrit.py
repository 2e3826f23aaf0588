"""Critical batch size by branching (Merrill et al. 2025, "Critical Batch Size
Revisited"), beside the gradient noise scale and the scan-based B_crit(L).

One reference run at a small batch B (`reference`) saves a checkpoint every
few steps and logs the gradient noise scale (`reference_seed1`, the same run
with another seed, measures the run-to-run spread of the loss). From its checkpoint at step s,
each branch continues at batch k·B (learning rate scaled by LR_RULE) for the
same tokens the reference spends in its next max(64, s) steps (`window`); the critical batch at s is
the largest k·B whose loss after those tokens is within TOLERANCE of the
reference's (scaling/laws/branching.py; docs/beyond.md).

  scaling-sweep --config experiments/branch_bcrit.py:tiny --workdir runs/branch
  scaling-sweep --config experiments/branch_bcrit.py:tiny --workdir runs/branch --dry-run
  scaling-sweep --config experiments/branch_bcrit.py:tiny,branches \
      --workdir runs/branch/branches --dry-run
  scaling-fit branches runs/branch [--scan runs/bss/fit_bcrit/fit.json]

The sweep runs the reference (DIR/reference); its analysis then runs the
branches (DIR/branches/s<step>_k<k>) with the sweep runner. Each branch starts
from the reference's checkpoint at its step (`checkpoint.start_from`, which
the trainer's Checkpointer copies in, so the branch resumes from it exactly as
an interrupted run would: same model, data, optimizer state and step count;
only the batch size and learning rate change). Then B_crit over training is
read (scaling-fit branches). Rerunning skips what is finished. With `scan=PATH` (a fit.json of
`scaling-fit bcrit` on experiments/batch_size_scan.py:tiny, the same model
and data) the figure also draws the scan's B_crit(L).

Variants: `tiny` (the micro model 2×64 of the tiny batch-size scan, B = 4
sequences of 64 tokens, 5 branch points × 4 batch sizes: minutes on a CPU)
and `full` (the mini model of the full scan, for an accelerator).
"""

import os

from scaling import config as configlib
from scaling.sweep import analysis

LAW = "branches"
FIGURE = ("Merrill et al. 2025 Fig. 1 style: B_crit over training by branching, "
          "beside B_noise and Kaplan's B_crit(L)")

# Stated before any run: a branch "matches" when its loss after the window's
# tokens is within TOLERANCE × (the reference's loss decrease over the window)
# of the reference's loss. 0.5 puts the threshold where the branch makes half
# the reference's progress per token: by Kaplan's Eq. 5.1 that is k·B ≈
# B_crit + 2B, the batch that needs twice the minimum tokens.
TOLERANCE = 0.5
LR_RULE = "sqrt"  # learning rate at k·B: lr·sqrt(k) ("linear": lr·k, "none": lr)
EVAL_SEQUENCES = {"tiny": 256, "full": 2048}  # the same validation sequences for every batch

# variant: (size, seq_len, lr, B (sequences), ref steps, branch points, least window,
#           multiples k). The window after step s is max(least window, s) reference
# steps: a fixed window makes ever less progress as training slows (0.03 nats at
# step 512 of a first tiny run with a 64-step window, where the branches'
# fractions of it scattered from +1.1 to -1.3).
VARIANTS = {
    "tiny": ("micro", 64, 3e-3, 4, 1024, (32, 64, 128, 256, 512), 64, (2, 4, 8, 16)),
    "full": ("mini", 256, 1e-3, 8, 16384, (512, 1024, 2048, 4096, 8192), 1024,
             (2, 4, 8, 16, 32, 64)),
}


def window(variant: str, start: int) -> int:
  """Reference steps a branch from `start` spends the tokens of."""
  return max(VARIANTS[variant][6], start)


def _args(arg):
  args = configlib.parse_arg(arg)
  variant = [k for k in args if k in VARIANTS]
  unknown = set(args) - set(VARIANTS) - {"branches", "scan", "lr_rule"}
  if unknown or len(variant) > 1:
    raise ValueError(f"unknown or conflicting variant(s) {sorted(args)}; use one of "
                     f"{', '.join(VARIANTS)} [,branches] [,scan=FIT_JSON] "
                     "[,lr_rule=sqrt|linear|none]")
  rule = args.get("lr_rule") or LR_RULE
  if rule not in ("sqrt", "linear", "none"):
    raise ValueError(f"lr_rule={rule!r}; use sqrt, linear or none")
  return (variant[0] if variant else "full"), args, rule


def lr_scale(k: int, rule: str) -> float:
  return {"sqrt": k ** 0.5, "linear": float(k), "none": 1.0}[rule]


def get_config(arg=None):
  variant, _, _ = _args(arg)
  size, seq_len, lr, batch, steps, points, least, _ = VARIANTS[variant]
  c = configlib.base_config()
  configlib.apply_size(c, size)
  c.name = f"branch_bcrit-{variant}"
  c.model.n_ctx = seq_len
  c.train.lr, c.train.schedule = lr, "constant"  # branches differ only in batch and lr
  c.train.warmup_steps = 20 if variant == "tiny" else 200
  c.train.batch_size, c.train.steps = batch, steps
  c.train.log_every = 16 if variant == "tiny" else 100
  c.checkpoint.every_steps = least // 2  # every branch point is a multiple of this
  c.checkpoint.keep = 1000
  c.eval.every_steps = least // 2
  c.eval.batches = EVAL_SEQUENCES[variant] // batch
  c.gns.enabled, c.gns.microbatches, c.gns.ema = True, 4, 0.95
  assert all(s % c.checkpoint.every_steps == 0 and s + window(variant, s) <= steps
             and window(variant, s) % max(VARIANTS[variant][7]) == 0 for s in points)
  return c


def branch_members(arg=None) -> list[dict]:
  variant, _, rule = _args(arg)
  _, _, lr, batch, _, points, _, ks = VARIANTS[variant]
  members = []
  for s in points:
    for k in ks:
      members.append({"name": f"s{s}_k{k}", "overrides": {
          "train.batch_size": batch * k, "train.steps": s + window(variant, s) // k,
          "train.lr": lr * lr_scale(k, rule),
          "eval.batches": EVAL_SEQUENCES[variant] // (batch * k),
          "eval.every_steps": 1_000_000, "checkpoint.every_steps": 1_000_000,
          "checkpoint.keep": 1,
          # DIR/branches/<member> starts from DIR/reference's checkpoint at step s
          "checkpoint.start_from": f"../../reference@{s}"}})
  return members


def sweep(arg=None):
  _, args, _ = _args(arg)
  if "branches" in args:
    return branch_members(arg)
  # a second reference with another seed: the run-to-run spread of the loss at
  # each window's end, which the tolerance must exceed to mean anything
  return [{"name": "reference", "overrides": {}},
          {"name": "reference_seed1", "overrides": {"train.seed": 1}}]


def analyze(sweep_dir, arg=None):
  """Runs the branches (from the reference's checkpoints), then B_crit over training."""
  from scaling.sweep import runner as runlib  # pylint: disable=g-import-not-at-top
  from scaling.sweep.experiment import load_experiment  # pylint: disable=g-import-not-at-top
  variant, args, rule = _args(arg)
  spec = f"{os.path.relpath(__file__)}:{variant},branches" + (
      f",lr_rule={rule}" if rule != LR_RULE else "")
  branches = load_experiment(spec)
  members = branches.members()  # each starts from the reference (checkpoint.start_from)
  outcomes = runlib.Runner(branches, os.path.join(sweep_dir, "branches")).run(members)
  failed = [o.name for o in outcomes if o.status == "failed"]
  if failed:
    raise ValueError(f"branches failed: {', '.join(failed)} (see their train.log)")
  return analysis.fit("branches", sweep_dir, os.path.join(sweep_dir, "fit_branches"),
                      tolerance=TOLERANCE, scan=args.get("scan"))
