# shellcheck shell=bash
# Shared by the launch/*.sh scripts (sourced, not run): option parsing, --help, and the
# one function that runs, or with --dry-run prints, every gcloud command. The flags
# every script takes are in COMMON_FLAGS_HELP below; each script's own usage, flags and
# example are its header comment, which --help prints.

set -euo pipefail

COMMON_FLAGS_HELP='Flags every launch/*.sh script takes:
  --tpu=NAME          the queued resource and its TPU VM (one node), e.g. xlt-v5p-256
  --zone=ZONE         e.g. us-east5-a
  --project=PROJECT   default: gcloud'"'"'s configured project
  --dry-run           print the commands (one per line, shell-quoted) and run nothing
  -h, --help          print this help and exit'

TPU=""
ZONE=""
PROJECT=""
DRY_RUN=0
# shellcheck disable=SC2034  # used by the scripts that source this file
REMOTE_DIR="xlt-jax"  # the checkout on every worker, relative to the login home directory
# shellcheck disable=SC2034
REST=()  # arguments a script's own parser did not consume

die() {
  echo "error: $*" >&2
  exit 2
}

# Prints the running script's header comment (usage, its own flags, an example) and
# the common flags.
usage() {
  sed -n '2,/^# shellcheck source/{/^# shellcheck source/d;s/^# \{0,1\}//;p;}' "$0"
  echo
  echo "$COMMON_FLAGS_HELP"
}

# Consumes the common options; leaves the others, in order, in REST. --help (or -h)
# anywhere prints the usage and exits 0 before any flag is checked.
parse_common() {
  REST=()
  local argument
  for argument in "$@"; do
    case "$argument" in
      -h|--help) usage; exit 0 ;;
    esac
  done
  for argument in "$@"; do
    case "$argument" in
      --tpu=*) TPU="${argument#*=}" ;;
      --zone=*) ZONE="${argument#*=}" ;;
      --project=*) PROJECT="${argument#*=}" ;;
      --dry-run) DRY_RUN=1 ;;
      *) REST+=("$argument") ;;
    esac
  done
  [[ -n "$TPU" ]] || die "--tpu=NAME is required"
  [[ -n "$ZONE" ]] || die "--zone=ZONE is required"
}

# The flags every gcloud TPU command takes.
location_flags() {
  printf '%s\n' "--zone=$ZONE"
  if [[ -n "$PROJECT" ]]; then
    printf '%s\n' "--project=$PROJECT"
  fi
}

# Runs a command, or prints it shell-quoted on one line with --dry-run.
run() {
  if ((DRY_RUN)); then
    local quoted
    printf -v quoted '%q ' "$@"
    echo "${quoted% }"
  else
    "$@"
  fi
}

# A bash command line that runs its arguments unchanged on the workers.
quote_command() {
  local quoted
  printf -v quoted '%q ' "$@"
  echo "${quoted% }"
}

# Runs a shell command on every worker of the TPU VM, all at once.
on_all_workers() {
  local location
  mapfile -t location < <(location_flags)
  run gcloud compute tpus tpu-vm ssh "$TPU" "${location[@]}" --worker=all --command="$1"
}
