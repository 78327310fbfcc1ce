#!/usr/bin/env bash
# A guided tour for policy authors (what `make run` runs until the gateway exists):
# checks the standard policies, runs their tests, then judges three example transfers.
# Usage: scripts/tour.sh BINARY     (e.g. scripts/tour.sh build/cli/airlock)
# Exits non-zero when the policies do not check clean or their tests fail.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BINARY   (the airlock binary, e.g. build/cli/airlock)" >&2
  exit 2
fi
binary=$1
if [[ ! -x $binary ]]; then
  echo "error: $binary is not an executable; build it first (make build)" >&2
  exit 2
fi
# Paths in messages are relative to the repository root, so the tour runs from there.
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -t 1 ]]; then
  bold=$'\e[1m' dim=$'\e[2m' reset=$'\e[0m'
else
  bold='' dim='' reset=''
fi
step() { printf '\n%s==> %s%s\n' "$bold" "$1" "$reset"; }
show() { printf '%s$ %s%s\n' "$dim" "$*" "$reset"; }

step "1. Check the standard policy library"
show airlock check policies/
if ! "$binary" check policies/; then
  echo "error: the policies in policies/ do not compile; fix the errors above" >&2
  exit 1
fi

step "2. Run the tests written in the policy language"
show airlock test policies/
if ! "$binary" test policies/; then
  echo "error: policy tests failed; see the failures above" >&2
  exit 1
fi

step "3. Judge three example transfers"
# Prints the outcome and the one-line reason of the decision for one facts file.
judge() {
  local facts=$1 expected=$2 description=$3 decision outcome reason
  printf '\n%s%s%s (expect %s)\n' "$bold" "$description" "$reset" "$expected"
  show airlock eval --policy policies/ --facts "$facts" --pretty
  if [[ ! -f $facts ]]; then
    echo "  (skipped: $facts is missing)"
    return
  fi
  decision=$("$binary" eval --policy policies/ --facts "$facts" --pretty)
  # The decision's top-level fields are the lines indented by two spaces.
  outcome=$(sed -n 's/^  "outcome": "\(.*\)",*$/\1/p' <<<"$decision")
  reason=$(sed -n 's/^  "reason": "\(.*\)",*$/\1/p' <<<"$decision")
  if [[ -z $outcome ]]; then
    printf '%s\n' "$decision"
    return
  fi
  printf '  outcome: %s%s%s\n' "$bold" "$outcome" "$reset"
  [[ -n $reason ]] && printf '  reason:  %s\n' "$reason"
  if [[ $outcome != "$expected" ]]; then
    printf '  note: the tour expected %s; the policies or the example have changed\n' "$expected"
  fi
}
judge examples/facts/executable-upload.json deny "An executable uploaded into a workspace"
judge examples/facts/small-csv.json approve "A small CSV of aggregate counts"
judge examples/facts/csv-with-nhs-numbers.json escalate "A CSV holding NHS numbers"

step "4. Try next"
cat <<'EOF'
  airlock eval --policy policies/ --facts examples/facts/small-csv.json --pretty
                                         # the whole decision: matched rules, reasons, reviewers
  airlock eval --policy policies/ --facts-lines examples/facts/recorded-transfers.jsonl
                                         # one decision per line, for many transfers
  airlock expr 'file.size <= 500 MiB' --facts examples/facts/small-csv.json
                                         # try an expression against facts
  airlock test --coverage --verbose policies/
                                         # every test, and the rules no test reaches
  airlock check policies/ && airlock fmt --check policies/
                                         # what CI runs on your changes
  airlock help                           # every command; airlock COMMAND --help for its flags
EOF
printf '\n(airlock is %s)\n' "$binary"
