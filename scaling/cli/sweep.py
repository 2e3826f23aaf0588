"""scaling-sweep: run every member of an experiment, each in its own process.

  scaling-sweep --config experiments/model_size.py:tiny --workdir runs/model_size
  scaling-sweep --config experiments/model_size.py --workdir gs-or-local-dir --shard 0/4
  scaling-sweep --config experiments/model_size.py:tiny --workdir runs/ms --dry-run
  scaling-sweep --config experiments/model_size.py --workdir /shared/ms --backend slurm \
      --partition gpu --gpus-per-member 1 --time-min 240
  scaling-sweep --config experiments/model_size.py --workdir /shared/ms --backend ray --address auto

Finished members are skipped, so rerunning resumes the sweep. A failed member
is recorded (DIR/<member>/failed.json) and the others go on; the exit code is
1 if any member failed, 75 if the sweep was interrupted, else 0.
"""

from __future__ import annotations

import os
import signal
import sys

from scaling.cli import EXIT_BAD_INPUT, EXIT_PREEMPTED, Parser, examples, script
from scaling.sweep.experiment import describe  # the dry run's N, D, C of a member

# Rough sustained training FLOP/s per device, for --dry-run time estimates only.
DEFAULT_FLOPS = {"cpu": 3e10, "gpu": 3.5e14, "tpu": 1e14}


def _parser():
  p = Parser(
      prog="scaling-sweep", description=__doc__.split("\n")[0],
      formatter_class=examples.FORMATTER, epilog=examples.epilog(
          "scaling-sweep --config experiments/model_size.py:tiny --workdir runs/model_size",
          before="cluster recipes (SLURM, Ray, Kubernetes, TPU VMs): docs/cluster.md"))
  p.add_argument("--config", required=True, help="experiments/X.py[:ARG]")
  p.add_argument("--workdir", required=True, help="sweep directory")
  p.add_argument("--jobs", type=int, default=1, help="members run at once (CPU)")
  p.add_argument("--shard", default=None, help="I/N: run only member i with i %% N == I; "
                 "auto: I and N from SLURM_ARRAY_TASK_ID/COUNT, JOB_COMPLETION_INDEX "
                 "or TPU_WORKER_ID (docs/cluster.md)")
  p.add_argument("--dry-run", action="store_true", help="list members, N, D, C, time")
  p.add_argument("--retry-failed", action="store_true", help="rerun failed members")
  p.add_argument("--no-analyze", action="store_true", help="skip the experiment's analysis")
  p.add_argument("--flops-per-sec", type=float, default=None,
                 help="sustained FLOP/s for --dry-run estimates (default by platform)")
  from scaling.sweep import backends  # pylint: disable=g-import-not-at-top
  backends.add_flags(p)
  return p


@script
def main(argv=None) -> int:
  args = _parser().parse_args(argv)
  from scaling.sweep.experiment import ExperimentError, load_experiment  # pylint: disable=g-import-not-at-top
  from scaling.sweep import runner as runlib  # pylint: disable=g-import-not-at-top
  try:
    experiment = load_experiment(args.config)
    members = experiment.members()
    index, count = runlib.parse_shard(args.shard)
    for member in members:  # every member's config must apply before any runs
      experiment.member_config(member)
  except (ExperimentError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  mine = runlib.shard_members(members, index, count)
  if args.dry_run:
    import jax  # pylint: disable=g-import-not-at-top
    rate = args.flops_per_sec or DEFAULT_FLOPS.get(jax.default_backend(), 3e10)
    print(f"{experiment.spec}: {len(mine)} of {len(members)} members (shard {index}/{count})")
    print(f"{'member':<28}{'N':>12}{'D (tokens)':>14}{'C (FLOP)':>12}{'est. time':>11}")
    total = 0.0
    for member in mine:
      d = describe(experiment, member)
      seconds = d["C"] / rate
      total += seconds
      print(f"{d['name']:<28}{d['N']:>12,}{d['D']:>14,}{d['C']:>12.2e}{seconds:>10.0f}s")
    print(f"estimated total {total:.0f}s at {rate:.1e} FLOP/s (compute only; "
          "start-up and evaluation come on top)")
    return 0
  from scaling.sweep import backends  # pylint: disable=g-import-not-at-top
  try:
    run = backends.make_runner(args, experiment)
  except backends.BackendError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  from scaling.results import SweepDir  # pylint: disable=g-import-not-at-top
  os.makedirs(run.sweep_dir, exist_ok=True)
  from scaling.provenance import code_commit  # pylint: disable=g-import-not-at-top
  SweepDir(run.sweep_dir).write_experiment(experiment.path, experiment.arg, code_commit())
  signal.signal(signal.SIGTERM, run.stop)
  signal.signal(signal.SIGINT, run.stop)
  print(f"{experiment.spec}: running {len(mine)} of {len(members)} members in "
        f"{run.sweep_dir} " + (f"with {args.jobs} job(s)" if args.backend == "local"
                               else f"on {args.backend}"))
  outcomes = run.run(mine)
  failed = [o for o in outcomes if o.status == "failed"]
  interrupted = [o for o in outcomes if o.status == "preempted"]
  print(f"{sum(o.status in ('completed', 'skipped') for o in outcomes)} finished, "
        f"{len(failed)} failed, {len(interrupted)} interrupted; results in "
        f"{run.sweep_dir}/results.jsonl")
  if interrupted:
    return EXIT_PREEMPTED
  if not args.no_analyze and not failed and count == 1:
    try:
      experiment.analyze(run.sweep_dir)
    except (ValueError, OSError) as e:
      print(f"error: analysis failed: {e}", file=sys.stderr)
      return 1
  for o in failed:
    print(f"failed: {o.name}: {o.detail}", file=sys.stderr)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
