#!/usr/bin/env bash
# Install the project on every worker of a TPU VM and run a sweep shard per
# worker, or one multi-host run across all workers.
#
#   experiments/launch/tpu_vm.sh --tpu NAME --zone ZONE install
#   experiments/launch/tpu_vm.sh --tpu NAME --zone ZONE sweep experiments/model_size.py /mnt/results/model_size
#   experiments/launch/tpu_vm.sh --tpu NAME --zone ZONE train configs/transformer.py:size=base /mnt/results/base [--config.k=v ...]
#
# --dry-run prints the gcloud commands instead of running them. The repository
# is taken from REPO_URL (default: this checkout's origin) at REPO_REF.
set -euo pipefail

TPU="" ZONE="" PROJECT="" DRY=0 WORKERS="${WORKERS:-}"
REPO_URL="${REPO_URL:-$(git -C "$(dirname "$0")" config --get remote.origin.url 2>/dev/null || echo REPO_URL)}"
REPO_REF="${REPO_REF:-main}"
DIR="${REMOTE_DIR:-scaling}"

usage() { sed -n '2,12p' "$0"; exit 2; }
while [[ $# -gt 0 && "$1" == --* ]]; do
  case "$1" in
    --tpu) TPU="$2"; shift 2 ;;
    --zone) ZONE="$2"; shift 2 ;;
    --project) PROJECT="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    *) usage ;;
  esac
done
[[ -n "$TPU" && -n "$ZONE" && $# -ge 1 ]] || usage
action="$1"; shift

ssh_all() {  # run one command on every worker at once
  local cmd=(gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE" --worker=all --command "$1")
  [[ -n "$PROJECT" ]] && cmd+=(--project "$PROJECT")
  if [[ $DRY == 1 ]]; then printf '%q ' "${cmd[@]}"; echo; else "${cmd[@]}"; fi
}

workers() {  # number of workers of the slice
  if [[ -n "$WORKERS" ]]; then echo "$WORKERS"; return; fi
  gcloud compute tpus tpu-vm describe "$TPU" --zone "$ZONE" ${PROJECT:+--project "$PROJECT"} \
    --format='value(networkEndpoints.len())'
}

case "$action" in
  install)
    ssh_all "set -e; [ -d $DIR ] || git clone $REPO_URL $DIR; cd $DIR && git fetch -q && git checkout -q $REPO_REF && git pull -q || true; python3 -m venv .venv && .venv/bin/pip install -q -U pip && .venv/bin/pip install -q -e '.[data]' 'jax[tpu]'"
    ;;
  sweep)  # one shard of the sweep per worker, picked by the worker's number
    [[ $# -ge 2 ]] || usage
    exp="$1" out="$2"; shift 2
    n=$(workers)
    id='$(curl -s -H Metadata-Flavor:Google http://metadata.google.internal/computeMetadata/v1/instance/attributes/agent-worker-number)'
    ssh_all "cd $DIR && .venv/bin/scaling-sweep --config $exp --workdir $out --shard $id/$n $*"
    ;;
  train)  # one multi-host run: jax.distributed.initialize() finds the peers itself
    [[ $# -ge 2 ]] || usage
    cfg="$1" out="$2"; shift 2
    ssh_all "cd $DIR && .venv/bin/scaling-train --multihost --config $cfg --workdir $out $*"
    ;;
  *) usage ;;
esac
