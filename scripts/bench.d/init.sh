#!/usr/bin/env bash
# Init: start-up cost of the supervisor and of exec mode, side by side with tini and dumb-init
# in one hyperfine run (empty manifest, so only the process handling differs).
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python3)}"
work=$(mktemp -d /dev/shm/si-bench-init.XXXXXX)
trap 'rm -rf "$work"' EXIT
tini=$(command -v tini)                      # Debian's tini (dynamic), as the issue names it
tini_static=$(command -v tini-static || command -v tini)

echo 'secrets: {}' > "$work/config.yaml"
# hyperfine -N passes its own environment; secret-init reads these from it.
export SECRET_INIT_CONFIG="$work/config.yaml" SECRET_INIT_LOG_LEVEL=warn
hyperfine -N --warmup 50 --runs "${SI_BENCH_RUNS:-1000}" --export-json "$work/hf.json" \
  -n direct "/bin/true" \
  -n tini "$tini -s -- /bin/true" \
  -n tini-static "$tini_static -s -- /bin/true" \
  -n dumb-init "dumb-init /bin/true" \
  -n supervised "$SI_BIN --init -- /bin/true" \
  -n exec "$SI_BIN -- /bin/true" >/dev/null 2>&1
"$py" - "$work/hf.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(sys.argv[1]))["results"]}
d, t = r["direct"], r["tini"]
rows = [
    ("`/bin/true` (direct)", "direct"),
    ("`tini -s -- /bin/true`", "tini"),
    ("`tini-static -s -- /bin/true`", "tini-static"),
    ("`dumb-init /bin/true`", "dumb-init"),
    ("`secret-init --init -- /bin/true` (supervised)", "supervised"),
    ("`secret-init -- /bin/true` (exec)", "exec"),
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
      f"`hyperfine -N`, medians of {len(json.load(open(sys.argv[1]))['results'][0]['times'])} runs each.")
print()
PY
