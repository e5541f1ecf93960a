#!/usr/bin/env bash
# Core: start-up overhead against a direct exec, 10,000 file secrets, and binary size.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python3)}"
work=$(mktemp -d /dev/shm/si-bench-core.XXXXXX)   # tmpfs, as a memory-backed /secrets would be
trap 'rm -rf "$work"' EXIT

# --- 1. 50-secret manifest (files, env, local) vs /bin/true, hyperfine side by side -----------
mkdir -p "$work/in" "$work/out" "$work/home/.truss"
{
  echo "model_name: bench"
  echo "secrets:"
  for i in $(seq 1 50); do echo "  s$i: null"; done
} > "$work/config.yaml"
for i in $(seq 1 20); do printf 'file-value-%d' "$i" > "$work/in/s$i"; done
{ echo "secrets:"; for i in $(seq 41 50); do echo "  s$i: local-value-$i"; done; } > "$work/home/.truss/config.yaml"
# Both commands run with the same environment (exported here, inherited by hyperfine), and each
# secret-init run starts from an empty output dir, as a container does (--prepare is not timed).
for i in $(seq 21 40); do export "TRUSS_SECRET_s$i=env-value-$i"; done
export HOME="$work/home" SECRET_INIT_CONFIG="$work/config.yaml" SECRET_INIT_SECRETS_DIR="$work/in" \
       SECRET_INIT_OUTPUT_DIR="$work/out" SECRET_INIT_LOG_LEVEL=warn
echo "secrets: {}" > "$work/empty.yaml"
"$SI_BIN" -- /bin/true   # fails loudly here if the setup is wrong
hyperfine -N --warmup 30 --runs 500 --export-json "$work/hf.json" \
  -n direct "/bin/true" \
  -n empty-manifest "$SI_BIN --config $work/empty.yaml -- /bin/true" \
  -n secret-init --prepare "rm -rf $work/out" "$SI_BIN -- /bin/true" >/dev/null 2>&1
"$py" - "$work/hf.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(sys.argv[1]))["results"]}
d, s, z = r["direct"], r["secret-init"], r["empty-manifest"]
print("### Core: start-up overhead (50 secrets: 20 from files, 20 env, 10 local; 50 files written to an empty tmpfs dir)")
print()
print("| command | median | ratio vs direct |")
print("|---|---:|---:|")
print(f"| `/bin/true` | {d:.3f} ms | 1.00 |")
print(f"| `secret-init -- /bin/true`, manifest with no secrets | {z:.3f} ms | {z/d:.2f} |")
print(f"| `secret-init -- /bin/true`, 50 secrets | {s:.3f} ms | {s/d:.2f} |")
print()
print(f"Overhead: {s-d:.3f} ms per start (target: at most 0.5 ms, ratio at most 1.5); measured with `hyperfine -N`, 500 runs each.")
print()
PY

# --- 2. 10,000 file secrets resolved and delivered, time and peak RSS --------------------------
rm -rf "$work/in" "$work/out"; mkdir -p "$work/in" "$work/out"; chmod 700 "$work/out"
"$py" - "$work" <<'PY'
import os, sys
w = sys.argv[1]
with open(f"{w}/config10k.yaml", "w") as f:
    f.write("secrets:\n" + "".join(f"  k{i}: null\n" for i in range(10000)))
for i in range(10000):
    with open(f"{w}/in/k{i}", "w") as f:
        f.write(f"value-{i:05d}-" + "x" * 40)
PY
"$py" - "$SI_BIN" "$work" <<'PY'
import os, sys, time
bin, w = sys.argv[1], sys.argv[2]
env = {"PATH": "/usr/bin:/bin", "SECRET_INIT_CONFIG": f"{w}/config10k.yaml", "SECRET_INIT_SECRETS_DIR": f"{w}/in",
       "SECRET_INIT_OUTPUT_DIR": f"{w}/out", "SECRET_INIT_LOG_LEVEL": "warn"}
runs = []
for _ in range(5):
    t = time.perf_counter()
    pid = os.posix_spawn(bin, [bin, "--", "/bin/true"], env)
    _, st, ru = os.wait4(pid, 0)
    runs.append((time.perf_counter() - t, ru.ru_maxrss / 1024))
    assert os.waitstatus_to_exitcode(st) == 0
n = len(os.listdir(f"{w}/out"))
assert n == 10000, n
runs.sort()
med_t, med_rss = runs[len(runs) // 2][0] * 1000, max(r for _, r in runs)
print("### Core: 10,000 file secrets read, validated and delivered (tmpfs, fsync per file)")
print()
print("| measure | value | target |")
print("|---|---:|---:|")
print(f"| wall time (median of 5) | {med_t:.0f} ms | < 1000 ms |")
print(f"| peak RSS (max of 5) | {med_rss:.1f} MiB | < 16 MiB |")
print()
PY

# --- 3. size ---------------------------------------------------------------------------------
size=$(stat -c %s "$SI_BIN")
echo "### Core: binary"
echo
echo "| binary | bytes | MiB | target |"
echo "|---|---:|---:|---:|"
printf '| static musl, stripped (`%s`) | %d | %.2f | <= 2 MiB core, <= 2.5 MiB with vault |\n' "$(file -b "$SI_BIN" | cut -d, -f1,4 | tr -d '\n')" "$size" "$(echo "$size/1048576" | bc -l)"
echo
