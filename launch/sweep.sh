#!/usr/bin/env bash
# Runs a sweep on one slice: one launch per --sweep entry, one after the other, each on
# every worker. An entry is the launcher flags that differ (space separated); the
# common flags come first. Stops at the first failed launch; a relaunch of the sweep
# skips runs that finished (the launcher keeps train_summary.json / eval/metrics.json).
#
#   launch/sweep.sh --tpu=xlt-v5p-256 --zone=us-east5-a [--dry-run] \
#       --gin_file=gin/runs/base.gin \
#       --sweep="--gin_file=gin/aya35b_multitask.gin --gin.MODEL_DIR='/mnt/shared/a'" \
#       --sweep="--gin_file=gin/aya35b_singletask.gin --gin.MODEL_DIR='/mnt/shared/b'"
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_common "$@"
COMMON=()
SWEEP=()
for argument in "${REST[@]}"; do
  case "$argument" in
    --sweep=*) SWEEP+=("${argument#*=}") ;;
    *) COMMON+=("$argument") ;;
  esac
done
((${#SWEEP[@]} > 0)) || die "sweep.sh: give at least one --sweep=\"--gin_file=F ...\""

PASS=(--tpu="$TPU" --zone="$ZONE")
if [[ -n "$PROJECT" ]]; then
  PASS+=(--project="$PROJECT")
fi
if ((DRY_RUN)); then
  PASS+=(--dry-run)
fi
for index in "${!SWEEP[@]}"; do
  read -r -a ENTRY <<< "${SWEEP[$index]}"
  echo "# sweep $((index + 1))/${#SWEEP[@]}: ${SWEEP[$index]}" >&2
  "$(dirname "${BASH_SOURCE[0]}")/run.sh" "${PASS[@]}" "${COMMON[@]}" "${ENTRY[@]}"
done
