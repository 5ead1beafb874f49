#!/usr/bin/env bash
# Releases the slice: deletes the queued resource and its TPU VM.
#
# Usage: launch/delete.sh --tpu=NAME --zone=ZONE [--project=P] [--dry-run]
#
# It takes only the common flags (below).
#
# Example:
#   launch/delete.sh --tpu=xlt-v5e-256 --zone=us-west4-a
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_common "$@"
((${#REST[@]} == 0)) || die "delete.sh: unknown argument ${REST[0]}"
mapfile -t LOCATION < <(location_flags)
run gcloud compute tpus queued-resources delete "$TPU" "${LOCATION[@]}" --force --quiet
