#!/usr/bin/env bash
# The README's first command: log in once, then watch every door serve that one credential.
# Runs in a throwaway HOME on the file store, so it needs no keychain and touches nothing of yours.
set -euo pipefail
bin="$(cd "$(dirname "$0")/.." && pwd)/dist/bin"
[ -x "$bin/credmux" ] || { echo "dist/bin is missing: run 'npm ci' first" >&2; exit 1; }
demo_home=$(mktemp -d)
trap '"$bin/credmux" daemon stop >/dev/null 2>&1; rm -rf "$demo_home"' EXIT
export HOME="$demo_home" CREDMUX_STORE=file
unset XDG_CONFIG_HOME XDG_DATA_HOME XDG_STATE_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR CREDMUX_CONFIG

step() { printf '\n\033[1m$ %s\033[0m\n' "$1"; }

step "echo s3cret | credmux login https://pkgs.example.com --username alice --password-stdin"
echo s3cret | "$bin/credmux" login https://pkgs.example.com --username alice --password-stdin

step "credmux list"
"$bin/credmux" list

step "Bazel:  echo '{\"uri\":\"https://pkgs.example.com/repo/file.tar.gz\"}' | credmux-bazel get"
printf '{"uri":"https://pkgs.example.com/repo/file.tar.gz"}' | "$bin/credmux-bazel" get

step "git:    printf 'protocol=https\\nhost=pkgs.example.com\\n\\n' | git-credential-credmux get"
printf 'protocol=https\nhost=pkgs.example.com\n\n' | "$bin/git-credential-credmux" get

step "Docker: printf pkgs.example.com | docker-credential-credmux get"
printf pkgs.example.com | "$bin/docker-credential-credmux" get

step "pip/uv: keyring --mode=creds --output=json get https://pkgs.example.com/simple/"
"$bin/../keyring-bin/keyring" --mode=creds --output=json get https://pkgs.example.com/simple/

step "Terraform: terraform-credentials-credmux get pkgs.example.com"
"$bin/terraform-credentials-credmux" get pkgs.example.com

step "cargo:  cargo-credential-credmux --cargo-plugin  (hello, then one request line)"
printf '%s\n' '{"v":1,"registry":{"index-url":"sparse+https://pkgs.example.com/index/"},"kind":"get","operation":"read"}' |
  "$bin/cargo-credential-credmux" --cargo-plugin

step "Go:     printf 'HTTP/1.1 401 Unauthorized\n\n' | credmux-go https://pkgs.example.com/mod/@v/list"
printf 'HTTP/1.1 401 Unauthorized\n\n' | "$bin/credmux-go" https://pkgs.example.com/mod/@v/list

step "kubectl: KUBERNETES_EXEC_INFO='{…\"server\":\"https://pkgs.example.com\"…}' credmux-kube"
KUBERNETES_EXEC_INFO='{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false,"cluster":{"server":"https://pkgs.example.com"}}}' \
  "$bin/credmux-kube"

step "kubelet: echo '{…\"image\":\"pkgs.example.com/team/app:1.0\"}' | credmux-kubelet"
printf '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"pkgs.example.com/team/app:1.0"}' |
  "$bin/credmux-kubelet"

step "pnpm:   credmux-pnpm https://pkgs.example.com/   (what a tokenHelper wrapper runs)"
"$bin/credmux-pnpm" https://pkgs.example.com/

step "A host no rule matches is never answered: printf other.example.org | docker-credential-credmux get"
printf other.example.org | "$bin/docker-credential-credmux" get || true

step "credmux logout https://pkgs.example.com"
"$bin/credmux" logout https://pkgs.example.com
printf '\nOne login, every door, one store (%s).\n' "$HOME/.local/share/credmux/credentials.json"
