#!/usr/bin/env bash
# Runs one experiment on every worker of the slice: the same command everywhere; the
# workers find each other (xlt_jax/training/distributed.py), each feeds its shard of the batch.
#
# Usage: launch/run.sh --tpu=NAME --zone=ZONE [--detach] [--project=P] [--dry-run]
#            --gin_file=FILE [--gin_file=FILE ...] [--gin.NAME=VALUE ...]
#
#   --gin_file=FILE     an experiment (or fragment) for `python -m xlt_jax.launch`
#   --gin.NAME=VALUE    a gin binding; both go to the launcher unchanged, in order
#   --detach            keep the run going after ssh disconnects (output in
#                       ~/xlt-jax/launch.log on each worker)
#
# Every --gin_file / --gin.NAME=VALUE goes to `python -m xlt_jax.launch` unchanged.
# MODEL_DIR must be on storage all workers share (a gs:// URL, a Filestore share or a
# gcsfuse mount); the launcher checks this. --detach keeps the run going after ssh disconnects
# (output in ~/xlt-jax/launch.log on each worker).
#
# Example:
#   launch/run.sh --tpu=xlt-v5e-256 --zone=us-west4-a --detach \
#       --gin_file=gin/aya35b_multitask.gin --gin.MODEL_DIR="'/mnt/shared/aya35b_multitask'"
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_common "$@"
DETACH=0
LAUNCH_ARGUMENTS=()
for argument in "${REST[@]}"; do
  case "$argument" in
    --detach) DETACH=1 ;;
    --gin_file=*|--gin.*) LAUNCH_ARGUMENTS+=("$argument") ;;
    *) die "run.sh: unknown argument $argument (launcher flags are --gin_file=F and --gin.NAME=VALUE)" ;;
  esac
done
((${#LAUNCH_ARGUMENTS[@]} > 0)) || die "run.sh: give at least one --gin_file=F"

LAUNCH="$(quote_command python3 -m xlt_jax.launch "${LAUNCH_ARGUMENTS[@]}")"
if ((DETACH)); then
  on_all_workers "cd $REMOTE_DIR && nohup $LAUNCH > launch.log 2>&1 &"
else
  on_all_workers "cd $REMOTE_DIR && $LAUNCH"
fi
