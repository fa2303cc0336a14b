#!/usr/bin/env bash
# MathJax 3 from the npm registry into _build/mathjax, for the browser check.
# The built book loads MathJax from jsDelivr; the browser check serves this copy instead,
# so it also runs on machines that reach package registries but not CDNs.
set -euo pipefail
DEST=_build/mathjax
VERSION=3.2.2
[ -f "$DEST/es5/tex-mml-chtml.js" ] && exit 0
mkdir -p "$DEST"
curl -fsSL "https://registry.npmjs.org/mathjax/-/mathjax-$VERSION.tgz" \
  | tar -xz -C "$DEST" --strip-components=1 package/es5
test -f "$DEST/es5/tex-mml-chtml.js"
