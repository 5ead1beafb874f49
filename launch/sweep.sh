#!/usr/bin/env bash
# Runs a sweep on one slice: one launch per --sweep entry, one after the other, each on
# every worker. Stops at the first failed launch; a relaunch of the sweep skips runs
# that finished (the launcher keeps train_summary.json / eval/metrics.json).
#
# Usage: launch/sweep.sh --tpu=NAME --zone=ZONE [--project=P] [--dry-run]
#            [--gin_file=FILE | --gin.NAME=VALUE ...] --sweep="ENTRY" [--sweep="ENTRY" ...]
#
#   --gin_file=FILE, --gin.NAME=VALUE   launcher flags common to every entry (first)
#   --sweep="ENTRY"     the launcher flags of one launch that differ, space separated
#                       (a value holds no spaces)
#
# Example (P0's XLSum sweep on Aya 23 8B with two seeds, on a v5e-64 slice):
#   launch/sweep.sh --tpu=xlt-v5e-64 --zone=us-west4-a --gin_file=gin/aya8b_single_task.gin \
#       --sweep="--gin.StudyDesign.seed=0 --gin.MODEL_DIR='/mnt/shared/aya8b_xlsum_seed0'" \
#       --sweep="--gin.StudyDesign.seed=1 --gin.MODEL_DIR='/mnt/shared/aya8b_xlsum_seed1'"
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
