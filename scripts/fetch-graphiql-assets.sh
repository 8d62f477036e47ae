#!/usr/bin/env bash
# The four files the GraphiQL page loads, from the npm registry (`npm pack`,
# which checks each tarball against the registry's integrity hash; never a
# CDN), each then checked against the SHA-384 the page names in its
# `integrity` attributes (src/http/graphiql.rs; a unit test there keeps the
# two lists equal): a browser refuses a file that differs, so a mismatch
# fails here instead of as a blank page.
#   react.production.min.js       react@18.3.1      umd/react.production.min.js
#   react-dom.production.min.js   react-dom@18.3.1  umd/react-dom.production.min.js
#   graphiql.min.js               graphiql@3.8.3    graphiql.min.js
#   graphiql.min.css              graphiql@3.8.3    graphiql.min.css
#
# Usage:
#   scripts/fetch-graphiql-assets.sh
#       Rewrite assets/graphiql/, what the binary embeds: each file as
#       FILE.gz (gzip -9 -n: no name or time stamp, so the same input gives
#       the same bytes) and each package's LICENSE. Commit the result.
#   scripts/fetch-graphiql-assets.sh DIR
#       Fill DIR with the plain files, for `serve --graphiql-assets DIR`
#       (an override of the embedded copies).
set -euo pipefail

if [[ $# -gt 1 ]]; then
  echo "usage: $0 [DIR]" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
embedded=$root/assets/graphiql
dest=${1:-}

REACT=react@18.3.1
REACT_DOM=react-dom@18.3.1
GRAPHIQL=graphiql@3.8.3

# file name, then its Subresource Integrity value:
#   openssl dgst -sha384 -binary FILE | openssl base64 -A
INTEGRITY=(
  "react.production.min.js sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z"
  "react-dom.production.min.js sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1"
  "graphiql.min.js sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"
  "graphiql.min.css sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/out
mkdir -p "$out"

(cd "$work" && npm pack --silent "$REACT" "$REACT_DOM" "$GRAPHIQL" >/dev/null)

# unpack TARBALL PATH-IN-PACKAGE NAME: copy one file out of a package tarball.
unpack() {
  local tarball=$work/$1 inner=package/$2 name=$3
  tar -xzf "$tarball" -C "$work" "$inner"
  install -m 0644 "$work/$inner" "$out/$name"
  rm -rf "$work/package"
}

unpack react-18.3.1.tgz umd/react.production.min.js react.production.min.js
unpack react-dom-18.3.1.tgz umd/react-dom.production.min.js react-dom.production.min.js
unpack graphiql-3.8.3.tgz graphiql.min.js graphiql.min.js
unpack graphiql-3.8.3.tgz graphiql.min.css graphiql.min.css

for entry in "${INTEGRITY[@]}"; do
  f=${entry%% *} want=${entry#* }
  [[ -s $out/$f ]] || { echo "fetch-graphiql-assets: $f is missing or empty" >&2; exit 1; }
  got=sha384-$(openssl dgst -sha384 -binary "$out/$f" | openssl base64 -A)
  if [[ $got != "$want" ]]; then
    echo "fetch-graphiql-assets: $f is $got, the page expects $want" >&2
    exit 1
  fi
done

if [[ -n $dest ]]; then
  mkdir -p "$dest"
  for entry in "${INTEGRITY[@]}"; do install -m 0644 "$out/${entry%% *}" "$dest/"; done
  echo "fetch-graphiql-assets: 4 files in $dest"
  exit 0
fi

# The embedded copies: compressed files and licences only (the binary
# decompresses for the rare client that does not accept gzip).
rm -rf "$embedded"
mkdir -p "$embedded"
for entry in "${INTEGRITY[@]}"; do
  f=${entry%% *}
  gzip -9 -n -c "$out/$f" >"$embedded/$f.gz"
  chmod 0644 "$embedded/$f.gz"
done
unpack react-18.3.1.tgz LICENSE LICENSE.react
unpack react-dom-18.3.1.tgz LICENSE LICENSE.react-dom
unpack graphiql-3.8.3.tgz LICENSE LICENSE.graphiql
install -m 0644 "$out"/LICENSE.* "$embedded/"
echo "fetch-graphiql-assets: $(ls "$embedded" | wc -l) files, $(du -cb "$embedded"/* | tail -n1 | cut -f1) bytes in $embedded"
