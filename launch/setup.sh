#!/usr/bin/env bash
# Copies this checkout (the committed tree, `git archive HEAD`) to every worker and
# installs it there, so that all workers run the same code.
#
# Usage: launch/setup.sh --tpu=NAME --zone=ZONE [--project=P] [--dry-run]
#
# It takes only the common flags (below).
#
# Example:
#   launch/setup.sh --tpu=xlt-v5e-256 --zone=us-west4-a
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_common "$@"
((${#REST[@]} == 0)) || die "setup.sh: unknown argument ${REST[0]}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARCHIVE="${TMPDIR:-/tmp}/xlt-jax-$TPU.tar.gz"

run git -C "$REPO" archive --format=tar.gz --output="$ARCHIVE" HEAD
mapfile -t LOCATION < <(location_flags)
run gcloud compute tpus tpu-vm scp "$ARCHIVE" "$TPU:xlt-jax.tar.gz" "${LOCATION[@]}" --worker=all
on_all_workers "rm -rf $REMOTE_DIR && mkdir -p $REMOTE_DIR && tar -xzf xlt-jax.tar.gz -C $REMOTE_DIR && python3 -m pip install --quiet -e $REMOTE_DIR"
