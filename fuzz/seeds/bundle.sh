#!/usr/bin/env bash
# Regenerates fuzz/corpus/bundle: bundles written by the real `secret-init vault` commands under
# the fuzz target's fixed key (32 bytes of 0x07). Each seed is a mode byte (0: parse the bytes)
# followed by the file. Usage: fuzz/seeds/bundle.sh [PATH_TO_SECRET_INIT] (default target/debug).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/debug/secret-init}
out=fuzz/corpus/bundle
mkdir -p "$out"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chmod 700 "$dir"
export SECRET_INIT_MASTER_KEY=BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=
v() { "$bin" vault --file "$dir/b.json" "$@"; }
seed() { { printf '\x00'; cat "$dir/b.json"; } >"$out/$1"; }
v create shared -d "shared keys"
seed empty-vault
printf %s 'sk-proj-0123456789abcdef' | v set shared OPENAI_API_KEY -
v set shared LOG_LEVEL info --no-secret
seed two-entries
v create api-keys -d "API keys"
printf 'line1\nline2\n\x00\xff' | v set api-keys BINARY_VALUE -
printf '' | v set api-keys EMPTY -
seed two-vaults
# A structured-mode seed: the odd mode byte makes the target build a bundle from these bytes.
printf '\x01shared\x00OPENAI\x00value\x01' >"$out/build-mode"
ls -l "$out"
