#!/usr/bin/env bash
# The OCI runtime-tools validation suite against examples/runtime.rs, as CI runs it: every
# test of the suite except `start`, whose check 7 inverts the spec ("start MUST generate an
# error if process was not set" asserts that start succeeds); we follow the spec.
#
#   scripts/conformance.sh            (as root; needs Debian's golang-go and python3)
#
# The suite and its runner live in ../shared/conformance relative to the repository
# (CONFORMANCE_SHARED overrides). run.sh prints a line per test and exits non-zero when a
# test outside its known-failures.txt fails; so does this script. RUNTIME overrides the
# binary (default: target/debug/examples/runtime, built if missing).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${CONFORMANCE_SHARED:-$REPO/../shared/conformance}
[[ -x $SHARED/run.sh ]] || { echo "conformance.sh: no suite at $SHARED" >&2; exit 2; }
RUNTIME=${RUNTIME:-$REPO/target/debug/examples/runtime}
if [[ ! -x $RUNTIME ]]; then
    (cd "$REPO" && cargo build --quiet --example runtime)
fi
# The test list: the built suite's directories if run.sh has built it, else the sources'.
BUILT=${CONFORMANCE_DIR:-/var/tmp/runtime-tools-5e63903}/validation
VALIDATION=$SHARED/runtime-tools/validation
[[ -d $BUILT ]] && VALIDATION=$BUILT
TESTS=()
for d in "$VALIDATION"/*/; do
    t=$(basename "$d")
    case $t in util | start) ;; *) TESTS+=("$t") ;; esac
done
((${#TESTS[@]} > 0)) || { echo "conformance.sh: no tests under $VALIDATION" >&2; exit 2; }
exec "$SHARED/run.sh" "$RUNTIME" "${TESTS[@]}"
