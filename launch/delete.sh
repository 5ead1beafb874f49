#!/usr/bin/env bash
# Releases the slice: deletes the queued resource and its TPU VM.
#
#   launch/delete.sh --tpu=xlt-v5p-256 --zone=us-east5-a [--project=P] [--dry-run]
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_common "$@"
((${#REST[@]} == 0)) || die "delete.sh: unknown argument ${REST[0]}"
mapfile -t LOCATION < <(location_flags)
run gcloud compute tpus queued-resources delete "$TPU" "${LOCATION[@]}" --force --quiet
