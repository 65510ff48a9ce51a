#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: the real clients and servers
# the end-to-end tests drive, and the Secret Service the keychain store is tested against.
set -euo pipefail
pkgs=(
  git                 # git clone/push through git-credential-credmux
  nginx-light fcgiwrap apache2-utils   # git http-backend and the PEP 503 index behind auth_basic; htpasswd
  docker-registry skopeo               # the Docker registry v2 server and the containers/image client
  dbus gnome-keyring libsecret-tools   # a real Secret Service on a private session bus
  python3-keyring python3-keyrings.alt # the reference keyring CLI, for parity checks and the bench
  python3-venv                         # npm run bench: a venv for the Python keyring 25.x peer
  golang-docker-credential-helpers     # npm run bench: docker-credential-secretservice, Docker's own helper
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# cargo ≥ 1.74 for test/e2e/cargo.test.ts (its credential-provider protocol): Debian 12's cargo is 0.66,
# so it comes from rustup, the Rust project's installer (minimal profile: cargo and rustc only).
if ! cargo --version 2>/dev/null | grep -Eq '^cargo (1\.(7[4-9]|[89][0-9]|[1-9][0-9][0-9])|[2-9])'; then
  command -v curl >/dev/null || { echo 'install-test-deps: curl is needed to install rustup' >&2; exit 1; }
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y -q --profile minimal
  echo "install-test-deps: cargo installed in ~/.cargo/bin; put it on PATH (. ~/.cargo/env) before running the tests" >&2
fi
