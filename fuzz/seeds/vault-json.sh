#!/usr/bin/env bash
# Regenerates fuzz/corpus/vault_json from a real OpenBao dev server (plain HTTP on loopback: the
# JSON bodies are the same as over TLS). Each seed is one selector byte (see
# fuzz_targets/vault_json.rs) followed by the body the server sent.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=fuzz/corpus/vault_json
mkdir -p "$out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
.venv/bin/bao server -dev -dev-root-token-id=fuzz-root -dev-listen-address="127.0.0.1:$port" >"$dir/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
addr="http://127.0.0.1:$port"
for _ in $(seq 100); do grep -q "Root Token" "$dir/log" && break; sleep 0.1; done
api() { curl -sS -H "X-Vault-Token: ${TOKEN:-fuzz-root}" "$@"; }
seed() { # seed NAME SELECTOR_HEX < body
  { printf "\\x$2"; cat; } >"$out/$1"
}
api -X POST -d '{"data":{"OPENAI_API_KEY":"sk-test","port":5432,"tls":true,"nested":{"a":1},"gone":null}}' "$addr/v1/secret/data/app" >/dev/null
api -X POST -d '{"data":{"password":"v2"}}' "$addr/v1/secret/data/app" >/dev/null
api -X POST -d '{"data":{"password":"v3"}}' "$addr/v1/secret/data/app" >/dev/null
api -X POST -d '{"type":"kv","options":{"version":"1"}}' "$addr/v1/sys/mounts/kv" >/dev/null
api -X POST -d '{"DB_PASSWORD":"hunter2","count":3}' "$addr/v1/kv/shared" >/dev/null
api "$addr/v1/secret/data/app" | seed kv2-current 00
api "$addr/v1/secret/data/app?version=1" | seed kv2-pinned 06
api -X POST -d '{"versions":[2]}' "$addr/v1/secret/delete/app" >/dev/null
api "$addr/v1/secret/data/app?version=2" | seed kv2-deleted-404 1c
api -X PUT -d '{"versions":[1]}' "$addr/v1/secret/destroy/app" >/dev/null
api "$addr/v1/secret/data/app?version=1" | seed kv2-destroyed-404 1c
api "$addr/v1/secret/data/nothing" | seed kv2-missing-404 18
api "$addr/v1/kv/shared" | seed kv1 01
api "$addr/v1/kv/shared" | seed kv1-auto 00
TOKEN=not-a-token api "$addr/v1/secret/data/app" | seed denied-403 20
api -X POST -d '{"type":"approle"}' "$addr/v1/sys/auth/approle" >/dev/null
api -X POST -d '{"token_policies":["default"]}' "$addr/v1/auth/approle/role/app" >/dev/null
role=$(api "$addr/v1/auth/approle/role/app/role-id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["role_id"])')
secret=$(api -X POST "$addr/v1/auth/approle/role/app/secret-id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["secret_id"])')
curl -sS -X POST -d "{\"role_id\":\"$role\",\"secret_id\":\"$secret\"}" "$addr/v1/auth/approle/login" | seed login-ok 80
curl -sS -X POST -d "{\"role_id\":\"$role\",\"secret_id\":\"wrong\"}" "$addr/v1/auth/approle/login" | seed login-refused-400 a0
printf 'role-\xc3\xa9"id\\\xffsecret\n\x01' | seed login-body c0
ls -l "$out"
