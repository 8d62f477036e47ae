#!/usr/bin/env bash
# Fill DIR with the four files the GraphiQL page loads when the server runs
# with `--graphiql-assets DIR` (no CDN needed):
#   react.production.min.js       react@18.3.1      umd/react.production.min.js
#   react-dom.production.min.js   react-dom@18.3.1  umd/react-dom.production.min.js
#   graphiql.min.js               graphiql@3.8.3    graphiql.min.js
#   graphiql.min.css              graphiql@3.8.3    graphiql.min.css
# They come from the npm registry (`npm pack`, checked against the registry's
# integrity hashes by npm), and each is then checked against the SHA-384 the
# GraphiQL page names in its `integrity` attributes (src/http/graphiql.rs;
# a unit test there keeps the two lists equal): a browser refuses to run a
# file that differs, so a mismatch fails here instead of as a blank page.
# Usage: scripts/fetch-graphiql-assets.sh DIR
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dest=$1

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

(cd "$work" && npm pack --silent "$REACT" "$REACT_DOM" "$GRAPHIQL" >/dev/null)

# unpack TARBALL PATH-IN-PACKAGE NAME: copy one file out of a package tarball.
unpack() {
  local tarball=$work/$1 inner=package/$2 name=$3
  tar -xzf "$tarball" -C "$work" "$inner"
  install -m 0644 "$work/$inner" "$dest/$name"
  rm -rf "$work/package"
}

mkdir -p "$dest"
unpack react-18.3.1.tgz umd/react.production.min.js react.production.min.js
unpack react-dom-18.3.1.tgz umd/react-dom.production.min.js react-dom.production.min.js
unpack graphiql-3.8.3.tgz graphiql.min.js graphiql.min.js
unpack graphiql-3.8.3.tgz graphiql.min.css graphiql.min.css

for entry in "${INTEGRITY[@]}"; do
  f=${entry%% *} want=${entry#* }
  [[ -s $dest/$f ]] || { echo "fetch-graphiql-assets: $dest/$f is missing or empty" >&2; exit 1; }
  got=sha384-$(openssl dgst -sha384 -binary "$dest/$f" | openssl base64 -A)
  if [[ $got != "$want" ]]; then
    echo "fetch-graphiql-assets: $dest/$f is $got, the page expects $want" >&2
    exit 1
  fi
done
echo "fetch-graphiql-assets: 4 files in $dest"
