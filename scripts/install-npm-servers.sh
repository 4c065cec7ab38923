#!/usr/bin/env bash
# Install the npm MCP reference servers the interop tests run into .npm-servers/ (git-ignored).
# Idempotent: does nothing when the pinned version is already installed. Needs node + npm.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG="@modelcontextprotocol/server-everything"
VERSION="${SERVER_EVERYTHING_VERSION:-2026.8.31}"
PREFIX=".npm-servers"
INSTALLED="$PREFIX/node_modules/$PKG/package.json"
if [ -f "$INSTALLED" ] && node -e "process.exit(require('./$INSTALLED').version === '$VERSION' ? 0 : 1)"; then
    echo "$PKG@$VERSION already installed in $PREFIX"
    exit 0
fi
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "$PKG@$VERSION"
echo "installed $PKG@$VERSION in $PREFIX"
