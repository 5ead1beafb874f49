#!/usr/bin/env bash
# Requests a TPU slice as a queued resource and (with --wait) waits until it is ACTIVE.
#
# Usage: launch/create.sh --tpu=NAME --zone=ZONE --accelerator-type=TYPE
#            [--runtime-version=VERSION] [--spot] [--wait] [--project=P] [--dry-run]
#
#   --accelerator-type=TYPE    the slice, as gcloud names it or as people say it:
#                              v5e-N is gcloud's v5litepod-N (N chips) and is translated;
#                              v5litepod-N, v5p-N (N TensorCores, two per chip: v5p-256
#                              is 128 chips) and v6e-N (N chips) pass through unchanged
#   --runtime-version=VERSION  the TPU VM image; by default v2-alpha-tpuv5 for v5p,
#                              v2-alpha-tpuv5-lite for v5e, v2-alpha-tpuv6e for v6e
#   --spot                     a Spot slice (cheaper; can be preempted)
#   --wait                     poll every minute until the queued resource is ACTIVE
#
# Example (a v5e pod for gin/aya35b_multitask.gin):
#   launch/create.sh --tpu=xlt-v5e-256 --zone=us-west4-a --accelerator-type=v5e-256 --wait
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_common "$@"
ACCELERATOR_TYPE=""
RUNTIME_VERSION=""
SPOT=0
WAIT=0
for argument in "${REST[@]}"; do
  case "$argument" in
    --accelerator-type=*) ACCELERATOR_TYPE="${argument#*=}" ;;
    --runtime-version=*) RUNTIME_VERSION="${argument#*=}" ;;
    --spot) SPOT=1 ;;
    --wait) WAIT=1 ;;
    *) die "create.sh: unknown argument $argument" ;;
  esac
done
[[ -n "$ACCELERATOR_TYPE" ]] || die "--accelerator-type is required (e.g. v5e-256, v5p-128)"
# gcloud names v5e slices "v5litepod-N"; people (and Google's own docs) say v5e-N.
if [[ "$ACCELERATOR_TYPE" =~ ^v5e-([0-9]+)$ ]]; then
  echo "# --accelerator-type=$ACCELERATOR_TYPE is gcloud's v5litepod-${BASH_REMATCH[1]}" >&2
  ACCELERATOR_TYPE="v5litepod-${BASH_REMATCH[1]}"
fi
if [[ -z "$RUNTIME_VERSION" ]]; then
  case "$ACCELERATOR_TYPE" in
    v5p-*) RUNTIME_VERSION="v2-alpha-tpuv5" ;;
    v5litepod-*) RUNTIME_VERSION="v2-alpha-tpuv5-lite" ;;
    v6e-*) RUNTIME_VERSION="v2-alpha-tpuv6e" ;;
    *) die "no default runtime version for $ACCELERATOR_TYPE; pass --runtime-version" ;;
  esac
fi

mapfile -t LOCATION < <(location_flags)
COMMAND=(gcloud compute tpus queued-resources create "$TPU" "${LOCATION[@]}"
         --node-id="$TPU" --accelerator-type="$ACCELERATOR_TYPE"
         --runtime-version="$RUNTIME_VERSION")
if ((SPOT)); then
  COMMAND+=(--spot)
fi
run "${COMMAND[@]}"

if ((WAIT)); then
  DESCRIBE=(gcloud compute tpus queued-resources describe "$TPU" "${LOCATION[@]}"
            --format="value(state.state)")
  if ((DRY_RUN)); then
    run "${DESCRIBE[@]}"
    exit 0
  fi
  while true; do
    state="$("${DESCRIBE[@]}")"
    echo "$(date +%T) $TPU: $state"
    case "$state" in
      ACTIVE) break ;;
      FAILED|SUSPENDED) die "queued resource $TPU is $state" ;;
    esac
    sleep 60
  done
fi
