#!/usr/bin/env bash
# Fill DIR with the four files the GraphiQL page loads when the server runs
# with `--graphiql-assets DIR` (no CDN needed):
#   react.production.min.js       react@18.3.1      umd/react.production.min.js
#   react-dom.production.min.js   react-dom@18.3.1  umd/react-dom.production.min.js
#   graphiql.min.js               graphiql@3.8.3    graphiql.min.js
#   graphiql.min.css              graphiql@3.8.3    graphiql.min.css
# They come from the npm registry (`npm pack`, checked against the registry's
# integrity hashes by npm). Usage: scripts/fetch-graphiql-assets.sh DIR
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dest=$1

REACT=react@18.3.1
REACT_DOM=react-dom@18.3.1
GRAPHIQL=graphiql@3.8.3

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

for f in react.production.min.js react-dom.production.min.js graphiql.min.js graphiql.min.css; do
  [[ -s $dest/$f ]] || { echo "fetch-graphiql-assets: $dest/$f is missing or empty" >&2; exit 1; }
done
echo "fetch-graphiql-assets: 4 files in $dest"
