#!/usr/bin/env bash
# Init: start-up cost of the supervisor and of exec mode, side by side with tini and dumb-init
# in one hyperfine run (empty manifest, so only the process handling differs).
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python3)}"
work=$(mktemp -d /dev/shm/si-bench-init.XXXXXX)
trap 'rm -rf "$work"' EXIT
tini=$(command -v tini)                      # Debian's tini (dynamic), what images install
tini_static=$(command -v tini-static || command -v tini)

echo 'secrets: {}' > "$work/config.yaml"
# hyperfine -N passes its own environment; secret-init reads these from it.
export SECRET_INIT_CONFIG="$work/config.yaml" SECRET_INIT_LOG_LEVEL=warn
# Two passes in opposite orders: on a shared machine the first commands of a hyperfine run pay
# for the warm-up of everything else, so each figure is the mean of its two medians.
# `busybox env` (static) is the floor of exec mode: one more static execve and nothing else.
names=(direct tini tini-static dumb-init supervised exec floor)
cmds=("/bin/true" "$tini -s -- /bin/true" "$tini_static -s -- /bin/true" "dumb-init /bin/true"
      "$SI_BIN --init -- /bin/true" "$SI_BIN -- /bin/true" "/bin/busybox env /bin/true")
runs="${SI_BENCH_RUNS:-500}"
for pass in fwd rev; do
  args=()
  if [ "$pass" = fwd ]; then order=(0 1 2 3 4 5 6); else order=(6 5 4 3 2 1 0); fi
  for i in "${order[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
  hyperfine -N --warmup 50 --runs "$runs" --export-json "$work/hf-$pass.json" "${args[@]}" >/dev/null 2>&1
done
"$py" - "$work/hf-fwd.json" "$work/hf-rev.json" <<'PY'
import json, statistics, sys
passes = [{x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(f))["results"]}
          for f in sys.argv[1:3]]
r = {k: (passes[0][k] + passes[1][k]) / 2 for k in passes[0]}
d, t = r["direct"], r["tini"]
rows = [
    ("`/bin/true` (direct)", "direct"),
    ("`tini -s -- /bin/true`", "tini"),
    ("`tini-static -s -- /bin/true`", "tini-static"),
    ("`dumb-init /bin/true`", "dumb-init"),
    ("`secret-init --init -- /bin/true` (supervised)", "supervised"),
    ("`secret-init -- /bin/true` (exec)", "exec"),
    ("`busybox env /bin/true` (floor: one extra static exec)", "floor"),
]
print("### Init: supervised and exec mode against tini and dumb-init (empty manifest)")
print()
print("| command | median | ratio vs direct | overhead | overhead vs tini's |")
print("|---|---:|---:|---:|---:|")
for label, k in rows:
    v = r[k]
    over = v - d
    rel = "-" if k == "direct" else f"{over / (t - d):.2f}"
    print(f"| {label} | {v:.3f} ms | {v / d:.2f} | {over:+.3f} ms | {rel} |")
print()
sup, ex = r["supervised"] - d, r["exec"] - d
ok1 = "met" if r["supervised"] <= t else "NOT met"
ok2 = "met" if ex * 3 <= (t - d) else "NOT met"
print(f"Targets: supervised no slower than tini ({r['supervised']:.3f} vs {t:.3f} ms: {ok1}); "
      f"exec-mode overhead at most a third of tini's ({ex:.3f} vs {t - d:.3f} ms: {ok2}). "
      f"`hyperfine -N`, {len(json.load(open(sys.argv[1]))['results'][0]['times'])} runs per command in each of two passes "
      f"(forward and reverse order); each figure is the mean of the two medians.")
print()
PY
