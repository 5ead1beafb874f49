#!/usr/bin/env bash
# Requests a TPU slice as a queued resource and (with --wait) waits until it is ACTIVE.
#
#   launch/create.sh --tpu=xlt-v5p-256 --zone=us-east5-a --accelerator-type=v5p-256 \
#       [--runtime-version=v2-alpha-tpuv5] [--spot] [--wait] [--project=P] [--dry-run]
#
# The runtime version defaults by chip: v5p -> v2-alpha-tpuv5, v5e (v5litepod) ->
# v2-alpha-tpuv5-lite, v6e -> v2-alpha-tpuv6e.
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
[[ -n "$ACCELERATOR_TYPE" ]] || die "--accelerator-type is required (e.g. v5p-256, v5litepod-64)"
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
