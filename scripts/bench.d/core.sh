#!/usr/bin/env bash
# Core: start-up overhead against the floor (a one-line static C execv shim), tini, tini-static,
# dumb-init and a direct /bin/true, on tmpfs and on a disk-backed dir, in rotating rounds (one run
# of each command per round, the first command rotating); syscall and instruction counts; the
# 100/1k/10k file-secret scaling curve with peak RSS, against `cp -r` of the same files (the
# copy floor), and what a file secret's cost is made of (syscalls, CPU, page faults, heap); the
# binary's size. The targets are checked at the end. SI_BENCH_RUNS sets the number of rounds (default 300); SI_BENCH_BASE=BIN adds
# that build's start-ups to the same rounds, for a before/after comparison.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python3)}"
here="$(cd "$(dirname "$0")" && pwd)"
rounds="${SI_BENCH_RUNS:-300}"
work=$(mktemp -d /dev/shm/si-bench-core.XXXXXX)   # tmpfs, as a memory-backed /secrets would be
# Disk-backed: a container's overlay root is on the host's disk; target/ is on the checkout's.
mkdir -p target
disk=$(mktemp -d "$PWD/target/si-bench-disk.XXXXXX")
trap 'rm -rf "$work" "$disk"' EXIT
disk_fs=$(stat -f -c %T "$disk")
case "$disk_fs" in tmpfs|ramfs) echo "core.sh: $disk is on $disk_fs, not a disk" >&2; exit 1;; esac
for t in musl-gcc tini tini-static dumb-init strace valgrind heaptrack heaptrack_print; do
  command -v "$t" >/dev/null || { echo "core.sh: $t missing (scripts/setup installs it)" >&2; exit 1; }
done

# The floor of one extra exec: the smallest static program that execs its arguments.
# Every binary measured runs from a copy in the same tmpfs dir: a binary fresh from the linker
# sits in the page cache in small pieces and takes ~10 more page faults per exec than a copy
# (measured: the same bytes, +0.1-0.2 ms a start), which would bias SI_BIN against SI_BENCH_BASE.
cp "$SI_BIN" "$work/secret-init"; SI_BIN="$work/secret-init"
if [ -n "${SI_BENCH_BASE:-}" ]; then cp "$SI_BENCH_BASE" "$work/secret-init-base"; SI_BENCH_BASE="$work/secret-init-base"; fi

printf '#include <unistd.h>\nint main(int c, char **v) { (void)c; execv(v[1], v + 1); return 127; }\n' > "$work/shim.c"
musl-gcc -static -O2 -s -o "$work/shim" "$work/shim.c"
musl-gcc -static -O2 -s -o "$work/measure" "$here/measure.c"
musl-gcc -static -O2 -s -o "$work/files" "$here/files.c"
musl-gcc -static -O2 -s -o "$work/atexec" "$here/atexec.c"
# What an anonymous page costs here (its fault, zeroing and teardown): the smallest static program,
# touching N pages of its .bss, against the same touching none, in the same rounds.
printf '#include <stdlib.h>\nstatic char m[1 << 21];\nint main(int c, char **v) { volatile char *p = m; int n = c > 1 ? atoi(v[1]) : 0; for (int i = 0; i < n; i++) p[i * 4096] = 1; return 0; }\n' > "$work/pages.c"
musl-gcc -static -O2 -s -o "$work/pages" "$work/pages.c"
# And what mapping secret-init's own file costs: the same program maps it and reads a byte of
# every 64 KiB of it (the kernel maps up to 16 pages around each fault), as a start touches its code.
printf '#include <fcntl.h>\n#include <sys/mman.h>\n#include <sys/stat.h>\nint main(int c, char **v) { struct stat st; int fd = open(v[1], O_RDONLY); if (fd < 0 || fstat(fd, &st)) return 1; volatile char *p = mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0); if (p == MAP_FAILED) return 1; for (long i = 0; i < st.st_size; i += 65536) (void)p[i]; return 0; }\n' > "$work/map.c"
musl-gcc -static -O2 -s -o "$work/map" "$work/map.c"

# --- inputs: an empty manifest, and 50 secrets (20 files, 20 env, 10 local) -----------------
real_home=$HOME
mkdir -p "$work/in" "$work/home/.truss"
echo "secrets: {}" > "$work/empty.yaml"
{
  echo "model_name: bench"
  echo "secrets:"
  for i in $(seq 1 50); do echo "  s$i: null"; done
} > "$work/config.yaml"
# A Truss config.yaml as users write them (5.9 KB: 100 requirements, model metadata, resources)
# declaring no secrets: what the YAML front end costs on the keys secret-init ignores.
{
  echo "model_name: bench"; echo "requirements:"
  for i in $(seq 1 100); do echo "  - package-$i==1.$i.0"; done
  echo "model_metadata:"
  for i in $(seq 1 50); do echo "  key_$i: {description: \"some text for $i\", tags: [a, b, c], value: $i}"; done
  echo "resources: {accelerator: A10G, cpu: '4', memory: 16Gi, use_gpu: true}"; echo "secrets: {}"
} > "$work/truss.yaml"
for i in $(seq 1 20); do printf 'file-value-%d' "$i" > "$work/in/s$i"; done
{ echo "secrets:"; for i in $(seq 41 50); do echo "  s$i: local-value-$i"; done; } > "$work/home/.truss/config.yaml"
# Every command runs with this same environment, so the env secrets cost the others nothing.
for i in $(seq 21 40); do export "TRUSS_SECRET_s$i=env-value-$i"; done
export HOME="$work/home" SECRET_INIT_SECRETS_DIR="$work/in" SECRET_INIT_LOG_LEVEL=warn
"$SI_BIN" --config "$work/config.yaml" --output-dir "$work/check" -- /bin/true   # fails loudly if the setup is wrong

"$py" - "$work" "$disk" "$SI_BIN" "${SI_BENCH_BASE:-}" > "$work/spec.json" <<'PY'
import json, sys
w, disk, si, base = sys.argv[1:5]
tini, tini_s, dumb = "/usr/bin/tini", "/usr/bin/tini-static", "/usr/bin/dumb-init"
spec = [
    ("direct", ["/bin/true"], None),
    ("shim", [f"{w}/shim", "/bin/true"], None),
    ("exit", [f"{w}/pages"], None),
    ("pages-256", [f"{w}/pages", "256"], None),
    ("map-si", [f"{w}/map", si], None),
    ("tini-static", [tini_s, "-s", "--", "/bin/true"], None),
    ("tini", [tini, "-s", "--", "/bin/true"], None),
    ("dumb-init", [dumb, "/bin/true"], None),
    ("version", [si, "--version"], None),
    ("empty", [si, "--config", f"{w}/empty.yaml", "--", "/bin/true"], None),
    ("truss", [si, "--config", f"{w}/truss.yaml", "--", "/bin/true"], None),
    ("init-empty", [si, "--init", "--config", f"{w}/empty.yaml", "--", "/bin/true"], None),
    ("50-tmpfs", [si, "--config", f"{w}/config.yaml", "--output-dir", f"{w}/out", "--", "/bin/true"], f"{w}/out"),
    ("50-disk", [si, "--config", f"{w}/config.yaml", "--output-dir", f"{disk}/out", "--", "/bin/true"], f"{disk}/out"),
    ("files-tmpfs", [f"{w}/files", f"{w}/fl/out", "50", "/bin/true"], f"{w}/fl"),
    ("files-disk", [f"{w}/files", f"{disk}/fl/out", "50", "/bin/true"], f"{disk}/fl"),
]
if base:
    spec += [
        ("base-empty", [base, "--config", f"{w}/empty.yaml", "--", "/bin/true"], None),
        ("base-truss", [base, "--config", f"{w}/truss.yaml", "--", "/bin/true"], None),
        ("base-50-tmpfs", [base, "--config", f"{w}/config.yaml", "--output-dir", f"{w}/out", "--", "/bin/true"], f"{w}/out"),
        ("base-50-disk", [base, "--config", f"{w}/config.yaml", "--output-dir", f"{disk}/out", "--", "/bin/true"], f"{disk}/out"),
    ]
print(json.dumps([{"name": n, "argv": a, **({"reset": r} if r else {})} for n, a, r in spec]))
PY
"$py" "$here/rounds.py" "$work/measure" "$work/spec.json" "$rounds" "$work/rounds.json"

# --- syscalls (strace -f -c, whole run including /bin/true) and instructions (callgrind) ------
count_syscalls() {  # name argv...: total syscalls of the run and its children
  local name=$1; shift
  [ -n "${reset:-}" ] && { rm -rf "$reset"; mkdir -m 700 "$reset"; }
  strace -f -c -o "$work/sc-$name.txt" "$@" >/dev/null
  awk -v n="$name" '$NF == "total" {print n, $4}' "$work/sc-$name.txt"
}
# A file that is no program: the start resolves and publishes everything, then its execve fails
# (126). A missing program would be refused by the lookup before any secret is read.
printf '\0\0\0\0' > "$work/noexec"; chmod 755 "$work/noexec"
count_instr() {  # name argv...: instructions up to the execve of the program (which fails: noexec)
  local name=$1; shift
  [ -n "${reset:-}" ] && { rm -rf "$reset"; mkdir -m 700 "$reset"; }
  valgrind --tool=callgrind --callgrind-out-file="$work/cg-$name.out" "$@" >/dev/null 2>&1 || true
  echo "$name $(awk '/^summary:/ {print $2}' "$work/cg-$name.out")"
}
{
  reset="" count_syscalls direct /bin/true
  reset="" count_syscalls shim "$work/shim" /bin/true
  reset="" count_syscalls tini-static tini-static -s -- /bin/true
  reset="" count_syscalls version "$SI_BIN" --version
  reset="" count_syscalls empty "$SI_BIN" --config "$work/empty.yaml" -- /bin/true
  reset="" count_syscalls init-empty "$SI_BIN" --init --config "$work/empty.yaml" -- /bin/true
  reset="$work/out" count_syscalls 50-tmpfs "$SI_BIN" --config "$work/config.yaml" --output-dir "$work/out" -- /bin/true
  reset="$disk/out" count_syscalls 50-disk "$SI_BIN" --config "$work/config.yaml" --output-dir "$disk/out" -- /bin/true
  if [ -n "${SI_BENCH_BASE:-}" ]; then
    reset="" count_syscalls base-empty "$SI_BENCH_BASE" --config "$work/empty.yaml" -- /bin/true
    reset="$work/out" count_syscalls base-50-tmpfs "$SI_BENCH_BASE" --config "$work/config.yaml" --output-dir "$work/out" -- /bin/true
    reset="$disk/out" count_syscalls base-50-disk "$SI_BENCH_BASE" --config "$work/config.yaml" --output-dir "$disk/out" -- /bin/true
  fi
} > "$work/syscalls.txt"
{
  reset="" count_instr shim "$work/shim" "$work/noexec"
  reset="" count_instr version "$SI_BIN" --version
  reset="" count_instr empty "$SI_BIN" --config "$work/empty.yaml" -- "$work/noexec"
  reset="" count_instr truss "$SI_BIN" --config "$work/truss.yaml" -- "$work/noexec"
  reset="$work/out" count_instr 50-tmpfs "$SI_BIN" --config "$work/config.yaml" --output-dir "$work/out" -- "$work/noexec"
  [ "$(find "$work/out" -maxdepth 1 -type f ! -name '.*' | wc -l)" -gt 0 ] || { echo "core.sh: the 50-secret callgrind run published nothing" >&2; exit 1; }
  if [ -n "${SI_BENCH_BASE:-}" ]; then
    reset="" count_instr base-empty "$SI_BENCH_BASE" --config "$work/empty.yaml" -- "$work/noexec"
    reset="" count_instr base-truss "$SI_BENCH_BASE" --config "$work/truss.yaml" -- "$work/noexec"
    reset="$work/out" count_instr base-50-tmpfs "$SI_BENCH_BASE" --config "$work/config.yaml" --output-dir "$work/out" -- "$work/noexec"
  fi
} > "$work/instr.txt"
# The pages each start holds when it execs the program, by kind (ptrace stop at its execve).
{
  for name in shim empty 50-tmpfs; do
    case $name in
      shim) argv=("$work/shim" /bin/true) ;;
      empty) argv=("$SI_BIN" --config "$work/empty.yaml" -- /bin/true) ;;
      50-tmpfs) rm -rf "$work/out"; mkdir -m 700 "$work/out"
        argv=("$SI_BIN" --config "$work/config.yaml" --output-dir "$work/out" -- /bin/true) ;;
    esac
    "$work/atexec" "${argv[@]}" | sed "s/^/$name /"
  done
} > "$work/atexec.txt"

# --- scaling: 100, 1,000 and 10,000 file secrets, tmpfs and disk, rotating rounds -------------
"$py" - "$work" "$disk" "$SI_BIN" > "$work/spec-scale.json" <<'PY'
import json, os, sys
w, disk, si = sys.argv[1:4]
spec = []
for n in (100, 1000, 10000):
    os.makedirs(f"{w}/in{n}", exist_ok=True)
    with open(f"{w}/config{n}.yaml", "w") as f:
        f.write("secrets:\n" + "".join(f"  k{i}: null\n" for i in range(n)))
    for i in range(n):
        with open(f"{w}/in{n}/k{i}", "w") as f:
            f.write(f"value-{i:05d}-" + "x" * 40)
    env = {"PATH": "/usr/bin:/bin", "SECRET_INIT_LOG_LEVEL": "warn"}
    for where, root in (("tmpfs", w), ("disk", disk)):
        out = f"{root}/out{n}"
        spec.append({"name": f"{n}-{where}", "reset": out, "env": env,
                     "argv": [si, "--config", f"{w}/config{n}.yaml", "--secrets-dir", f"{w}/in{n}",
                              "--output-dir", out, "--", "/bin/true"]})
        if n >= 1000:  # the copy floor: the same files copied by coreutils, in the same rounds
            spec.append({"name": f"cp-{n}-{where}", "reset": f"{root}/cp{n}", "env": env,
                         "argv": ["/bin/cp", "-r", f"{w}/in{n}", f"{root}/cp{n}/in"]})
        if n == 10000:  # this design's floor in C (files.c): each file read, staged and renamed;
            # and the same copy written in place, without the staging dir and the renames
            for kind, extra in (("floor", {}), ("direct", {"FILES_DIRECT": "1"})):
                spec.append({"name": f"{kind}-{n}-{where}", "reset": f"{root}/{kind}{n}",
                             "env": {**env, "FILES_SRC": f"{w}/in{n}", **extra},
                             "argv": [f"{w}/files", f"{root}/{kind}{n}/out", str(n), "/bin/true"]})
print(json.dumps(spec))
PY
"$py" "$here/rounds.py" "$work/measure" "$work/spec-scale.json" "${SI_BENCH_SCALE_RUNS:-15}" "$work/scale.json"
n10k=$(find "$disk/out10000" -maxdepth 1 -type f -name 'k*' | wc -l)
[ "$n10k" = 10000 ] || { echo "core.sh: 10k run wrote $n10k files" >&2; exit 1; }

# --- what a file secret costs: syscalls (1,000 secrets against none), CPU and heap (10,000) ---
per_secret() {  # name argv...: syscalls by name of one run, as "name syscall count" lines
  local name=$1; shift
  strace -f -c -o "$work/ps-$name.txt" "$@" >/dev/null 2>&1
  awk -v n="$name" 'NF >= 5 && $NF != "total" && $1 ~ /^[0-9.]+$/ {print n, $NF, $4}' "$work/ps-$name.txt"
}
{
  rm -rf "$work/out1000"; mkdir -m 700 "$work/out1000"
  per_secret si-1000 "$SI_BIN" --config "$work/config1000.yaml" --secrets-dir "$work/in1000" --output-dir "$work/out1000" -- /bin/true
  rm -rf "$work/o0"; mkdir -m 700 "$work/o0"
  per_secret si-0 "$SI_BIN" --config "$work/empty.yaml" --secrets-dir "$work/in1000" --output-dir "$work/o0" -- /bin/true
  rm -rf "$work/cp1000"; mkdir -m 700 "$work/cp1000"
  per_secret cp-1000 /bin/cp -r "$work/in1000" "$work/cp1000/in"
  mkdir -p "$work/empty-in"; rm -rf "$work/cp0"; mkdir -m 700 "$work/cp0"
  per_secret cp-0 /bin/cp -r "$work/empty-in" "$work/cp0/in"
} > "$work/per-secret.txt"
# User-space instructions of a 10,000-secret start (callgrind): the manifest alone (the program is
# not found: nothing is resolved) and the whole start up to the program's execve (a file that is
# no program: everything is published, then the exec fails).
{
  reset="" count_instr m10k "$SI_BIN" --config "$work/config10000.yaml" --secrets-dir "$work/in10000" -- /nonexistent
  reset="$work/cg-out" count_instr s10k "$SI_BIN" --config "$work/config10000.yaml" --secrets-dir "$work/in10000" --output-dir "$work/cg-out" -- "$work/noexec"
  [ "$(find "$work/cg-out" -maxdepth 1 -name 'k*' | wc -l)" = 10000 ] || { echo "core.sh: the callgrind run did not publish" >&2; exit 1; }
} >> "$work/instr.txt"
# CPU (user, system) of one 10,000 run each, from the children's rusage.
"$py" - "$work" "$SI_BIN" > "$work/cpu.json" <<'PY'
import json, os, resource, shutil, subprocess, sys
w, si = sys.argv[1:3]
def run(argv, out):
    shutil.rmtree(out, ignore_errors=True); os.mkdir(out, 0o700)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "SECRET_INIT_LOG_LEVEL": "warn"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [(after.ru_utime - before.ru_utime) * 1000, (after.ru_stime - before.ru_stime) * 1000]
res = {"si": [], "cp": []}
for _ in range(5):
    res["si"].append(run([si, "--config", f"{w}/config10000.yaml", "--secrets-dir", f"{w}/in10000", "--output-dir", f"{w}/cpu-out", "--", "/bin/true"], f"{w}/cpu-out"))
    res["cp"].append(run(["/bin/cp", "-r", f"{w}/in10000", f"{w}/cpu-cp/in"], f"{w}/cpu-cp"))
print(json.dumps(res))
PY
# The heap: heaptrack cannot follow a static binary's allocator, so the same source built for
# the host (glibc, release profile) is what it measures (HOME as it was: rustup's is there).
HOME="$real_home" cargo build --release --locked -q
rm -rf "$work/heap-out"; mkdir -m 700 "$work/heap-out"
heaptrack -o "$work/heap" "$PWD/target/release/secret-init" --config "$work/config10000.yaml" --secrets-dir "$work/in10000" \
  --output-dir "$work/heap-out" -- /bin/true >/dev/null 2>&1
heaptrack_print -f "$work/heap".* -n 0 2>/dev/null | grep -E '^(calls to allocation functions|peak heap memory consumption|temporary memory allocations):' > "$work/heap.txt"

"$py" - "$work" "$rounds" "$disk_fs" "$(stat -c %s "$SI_BIN")" <<'PY'
import json, statistics as st, sys
w, rounds, disk_fs, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
R = json.load(open(f"{w}/rounds.json"))
med = {k: st.median(v["ms"]) for k, v in R.items()}
def over(k, base="direct"):  # median of the per-round differences: same round, same load
    return st.median(a - b for a, b in zip(R[k]["ms"], R[base]["ms"]))
sc = dict(l.split() for l in open(f"{w}/syscalls.txt"))
ins = dict(l.split() for l in open(f"{w}/instr.txt"))
rows = [
    ("`/bin/true` (direct)", "direct"),
    ("static C `execv` shim (musl-gcc -static): the floor of one extra exec", "shim"),
    ("static C program that only exits (no `/bin/true`)", "exit"),
    ("the same, touching 256 pages of its `.bss`: what a page costs", "pages-256"),
    ("the same, mapping secret-init's file and reading every 64 KiB of it", "map-si"),
    ("`tini-static -s --`", "tini-static"),
    ("`tini -s --` (Debian, dynamic)", "tini"),
    ("`dumb-init` (Debian, dynamic)", "dumb-init"),
    ("`secret-init --version`: exec, relocation and runtime set-up of our image, nothing more", "version"),
    ("secret-init, manifest with no secrets", "empty"),
    ("secret-init, a 5.9 KB Truss config.yaml (100 requirements, model metadata), no secrets", "truss"),
    ("secret-init `--init` (supervised), no secrets", "init-empty"),
    ("secret-init, 50 secrets (20 files, 20 env, 10 local), output on tmpfs", "50-tmpfs"),
    (f"the same, output on a disk-backed dir ({disk_fs})", "50-disk"),
    ("floor of the file work: 50 files staged, written, renamed by a static C program (files.c), tmpfs", "files-tmpfs"),
    (f"the same C floor on {disk_fs}", "files-disk"),
]
if "base-empty" in R:
    rows += [("before (`SI_BENCH_BASE`), no secrets", "base-empty"),
             ("before, the 5.9 KB Truss config.yaml", "base-truss"), ("before, 50 secrets on tmpfs", "base-50-tmpfs"),
             (f"before, 50 secrets on {disk_fs}", "base-50-disk")]
print("### Core: start-up, side by side in rotating rounds")
print()
print("| command | median | ratio vs direct | overhead vs direct | overhead vs the shim | peak RSS | min. page faults | syscalls |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for label, k in rows:
    o = "-" if k == "direct" else f"{over(k):+.3f} ms"
    s = "-" if k in ("direct", "shim") else f"{over(k, 'shim'):+.3f} ms"
    print(f"| {label} | {med[k]:.3f} ms | {med[k] / med['direct']:.2f} | {o} | {s} | "
          f"{max(R[k]['rss']):.1f} MiB | {st.median(R[k]['minflt']):.0f} | {sc.get(k, '-')} |")
print()
print(f"{rounds} rounds; each round runs every command once, the first command rotating, so all see the "
      "same load. Overheads are medians of the per-round differences. Syscalls: `strace -f -c` of one "
      "run, including `/bin/true`'s own; page faults from `wait4`.")
print()
print("| instructions up to the program's execve (callgrind) | count |")
print("|---|---:|")
for label, k in (("static C shim", "shim"), ("`secret-init --version` (whole run)", "version"), ("secret-init, no secrets", "empty"),
                 ("secret-init, the 5.9 KB Truss config.yaml", "truss"),
                 ("secret-init, 50 secrets", "50-tmpfs"), ("before (`SI_BENCH_BASE`), no secrets", "base-empty"),
                 ("before, the 5.9 KB Truss config.yaml", "base-truss"), ("before, 50 secrets", "base-50-tmpfs")):
    if k in ins:
        print(f"| {label} | {int(ins[k]):,} |")
print()

S = json.load(open(f"{w}/scale.json"))
def ratio(n, where):  # per-round ratios against cp -r: median, min, max
    r = sorted(a / b for a, b in zip(S[f"{n}-{where}"]["ms"], S[f"cp-{n}-{where}"]["ms"]))
    return st.median(r), r[0], r[-1]
print("### Core: file-secret scaling (read, validated, written, published) against `cp -r` of the same files")
print()
print(f"| file secrets | tmpfs | `cp -r` tmpfs | ratio (min–max) | disk ({disk_fs}) | `cp -r` disk | ratio (min–max) | per secret (tmpfs) | peak RSS / `cp -r`'s |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in (100, 1000, 10000):
    t, d = st.median(S[f"{n}-tmpfs"]["ms"]), st.median(S[f"{n}-disk"]["ms"])
    rss = max(S[f"{n}-tmpfs"]["rss"] + S[f"{n}-disk"]["rss"])
    if n >= 1000:
        ct, cd = st.median(S[f"cp-{n}-tmpfs"]["ms"]), st.median(S[f"cp-{n}-disk"]["ms"])
        (rt, rt0, rt1), (rd, rd0, rd1) = ratio(n, "tmpfs"), ratio(n, "disk")
        crss = max(S[f"cp-{n}-tmpfs"]["rss"] + S[f"cp-{n}-disk"]["rss"])
        cols = (f"{ct:.1f} ms", f"{rt:.2f}× ({rt0:.2f}–{rt1:.2f})", f"{cd:.1f} ms", f"{rd:.2f}× ({rd0:.2f}–{rd1:.2f})", f"{rss:.1f} / {crss:.1f} MiB")
    else:
        cols = ("-", "-", "-", "-", f"{rss:.1f} MiB / -")
    print(f"| {n:,} | {t:.1f} ms | {cols[0]} | {cols[1]} | {d:.1f} ms | {cols[2]} | {cols[3]} | "
          f"{1000 * (t - med['empty']) / n:.1f} us | {cols[4]} |")
print()
t1k, t10k = st.median(S["1000-tmpfs"]["ms"]), st.median(S["10000-tmpfs"]["ms"])
rss10k = max(S["10000-tmpfs"]["rss"] + S["10000-disk"]["rss"])
crss10k = max(S["cp-10000-tmpfs"]["rss"] + S["cp-10000-disk"]["rss"])
r10t, r10d = ratio(10000, "tmpfs")[0], ratio(10000, "disk")[0]
print(f"{len(S['100-tmpfs']['ms'])} rotating rounds (each round runs every command once, the first rotating); "
      f"ratios are per round, median and min–max. 10k/1k time ratio: {t10k / t1k:.1f} (10.0 is linear).")
print()

# What a file secret is made of.
ps = {}
for line in open(f"{w}/per-secret.txt"):
    who, call, n = line.split()
    ps.setdefault(who, {})[call] = int(n)
def per(who, call=None):
    a, b = ps[f"{who}-1000"], ps[f"{who}-0"]
    if call:
        return (a.get(call, 0) - b.get(call, 0)) / 1000
    return (sum(a.values()) - sum(b.values())) / 1000
calls = sorted({c for who in ("si", "cp") for c in ps[f"{who}-1000"]}, key=lambda c: -max(per("si", c), per("cp", c)))
shown = [c for c in calls if per("si", c) >= 0.01 or per("cp", c) >= 0.01]
cpu = json.load(open(f"{w}/cpu.json"))
heap = dict(l.split(":", 1) for l in open(f"{w}/heap.txt"))
su, ss = st.median(x[0] for x in cpu["si"]), st.median(x[1] for x in cpu["si"])
cu, cs = st.median(x[0] for x in cpu["cp"]), st.median(x[1] for x in cpu["cp"])
print("### Core: what a file secret costs, against `cp -r`")
print()
print("| per secret | secret-init | `cp -r` |")
print("|---|---:|---:|")
print(f"| syscalls (1,000 secrets against none, `strace -f -c`) | {per('si'):.2f} | {per('cp'):.2f} |")
for c in shown:
    print(f"|   `{c}` | {per('si', c):.2f} | {per('cp', c):.2f} |")
print(f"| CPU in user space, 10,000 secrets (rusage, median of 5) | {1000 * su / 10000:.1f} us | {1000 * cu / 10000:.1f} us |")
print(f"| CPU in the kernel, 10,000 secrets | {1000 * ss / 10000:.1f} us | {1000 * cs / 10000:.1f} us |")
flt = st.median(S["10000-tmpfs"]["minflt"]) / 10000
cflt = st.median(S["cp-10000-tmpfs"]["minflt"]) / 10000
print(f"| minor page faults, 10,000 on tmpfs (wait4) | {flt:.2f} | {cflt:.2f} |")
print()
calls_n = int(heap.get("calls to allocation functions", "0").split()[0] or 0)
print(f"Heap of a 10,000-secret start (heaptrack, the same source built for glibc): "
      f"{calls_n:,} allocation calls ({calls_n / 10000:.1f} a secret), peak "
      f"{heap.get('peak heap memory consumption', '?').strip()} "
      f"({heap.get('temporary memory allocations', '?').split()[0]} of the calls temporary). Peak RSS also holds "
      f"the binary's pages and the 1 MiB start arena (an empty manifest: {max(R['empty']['rss']):.1f} MiB); "
      f"`cp -r` keeps nothing per file.")
print()
gap = (su + ss - cu - cs) / 10000 * 1000
print(f"Where the gap to `cp -r` is, per secret on tmpfs: {gap:.1f} us of CPU, "
      f"{1000 * (su - cu) / 10000:.1f} us of it in user space and {1000 * (ss - cs) / 10000:.1f} us in the kernel. "
      f"The syscalls are {'fewer than' if per('si') < per('cp') else 'as many as or more than'} `cp -r`'s "
      f"({per('si'):.2f} against {per('cp'):.2f}: `openat2` with `RESOLVE_BENEATH`, `fstat`, one `read` of the "
      "known size and `close` to read; `openat` with the final mode, one `write`, the `fstat` the record of "
      "deliveries needs and `close` to stage; `renameat2` to publish).")
print()
fl = {f"{k}-{wh}": st.median(S[f"{k}-10000-{wh}"]["ms"]) for k in ("floor", "direct", "cp") for wh in ("tmpfs", "disk")}
def per_round(a, b):
    return st.median(x / y for x, y in zip(S[a]["ms"], S[b]["ms"]))
ft, fd = per_round("floor-10000-tmpfs", "cp-10000-tmpfs"), per_round("floor-10000-disk", "cp-10000-disk")
dt, dd = per_round("direct-10000-tmpfs", "cp-10000-tmpfs"), per_round("direct-10000-disk", "cp-10000-disk")
def rename_cost(wh):  # us a file: the median of the per-round differences (same round, same load)
    return st.median(1000 * (a - b) / 10000 for a, b in zip(S[f"floor-10000-{wh}"]["ms"], S[f"direct-10000-{wh}"]["ms"]))
rename_t, rename_d = rename_cost("tmpfs"), rename_cost("disk")
print(f"This design's floor, in C (files.c: each of the 10,000 files read with one `read`, staged with its mode, "
      f"renamed into place; no manifest, no checks, no record): {fl['floor-tmpfs']:.1f} ms on tmpfs, "
      f"{ft:.2f}× `cp -r` per round, and {fl['floor-disk']:.1f} ms on {disk_fs}, {fd:.2f}×. The same C copy written "
      f"in place, without the staging dir and the renames that make the set appear at once: {dt:.2f}× and {dd:.2f}×. "
      f"The atomic publish costs {rename_t:.1f} us a file on tmpfs and {rename_d:.1f} us on {disk_fs} (medians of the "
      f"per-round differences); "
      f"secret-init is {per_round('10000-tmpfs', 'floor-10000-tmpfs'):.2f}× that floor on tmpfs and "
      f"{per_round('10000-disk', 'floor-10000-disk'):.2f}× on {disk_fs}.")
print()
m10k, s10k, e0 = int(ins["m10k"]), int(ins["s10k"]), int(ins["empty"])
print(f"User-space instructions of the 10,000-secret start (callgrind, up to the program's execve): "
      f"{(s10k - e0) / 10000:,.0f} a secret, {(m10k - e0) / 10000:,.0f} of them the YAML front end reading the "
      f"manifest's entry ({100 * (m10k - e0) / max(s10k - e0, 1):.0f}%) and {(s10k - m10k) / 10000:,.0f} the rest: "
      "the lookup, the read, the plan, the staging, the record and the rename.")
print()

mib = size / 1048576
goals = [
    ("Empty manifest within 0.15 ms of the static C shim", f"{over('empty', 'shim'):+.3f} ms", over("empty", "shim") <= 0.15),
    ("50 secrets into tmpfs: overhead no more than tini's", f"{over('50-tmpfs'):.3f} vs {over('tini'):.3f} ms (C floor of the file work: {over('files-tmpfs'):.3f})", over("50-tmpfs") <= over("tini")),
    ("  stretch: at most +0.5 ms", f"{over('50-tmpfs'):.3f} ms", over("50-tmpfs") <= 0.5),
    ("Supervised, empty manifest: no slower than tini-static", f"{over('init-empty', 'tini-static'):+.3f} ms per round", over("init-empty", "tini-static") <= 0),
    ("50 secrets on disk at most 1.5x the tmpfs figure (overheads)", f"{over('50-disk') / over('50-tmpfs'):.2f}x (C floor: {over('files-disk') / over('files-tmpfs'):.2f}x)", over("50-disk") <= 1.5 * over("50-tmpfs")),
    ("10,000 file secrets on tmpfs within 1.3x `cp -r` (per-round median)", f"{r10t:.2f}x", r10t <= 1.3),
    (f"10,000 file secrets on a disk-backed dir within 1.3x `cp -r`", f"{r10d:.2f}x", r10d <= 1.3),
    ("10,000 file secrets: peak RSS under 6 MiB", f"{rss10k:.1f} MiB (`cp -r`: {crss10k:.1f})", rss10k < 6),
    ("Binary at most 3.5 MiB (goal 2.5 MiB)", f"{mib:.2f} MiB", mib <= 3.5),
]
print("### Core: start-up targets")
print()
print("| goal | measured | |")
print("|---|---:|---|")
for g, m, ok in goals:
    print(f"| {g} | {m} | {'met' if ok else 'NOT met'} |")
print()

# What the remaining start-up cost is made of, from the figures above.
pg = {}
for line in open(f"{w}/atexec.txt"):
    who, kind, n = line.split()
    pg.setdefault(who, {})[kind] = int(n)
flt = {k: st.median(R[k]["minflt"]) for k in R}
page_us = 1000 * over("pages-256", "exit") / 256
image, total = over("version", "exit"), over("empty", "shim")
work = total - image
img_flt = flt["version"] - flt["exit"]
work_flt = flt["empty"] - flt["direct"] - flt["version"]
work_sc = int(sc["empty"]) - int(sc["direct"]) - int(sc["version"])
work_ins = int(ins["empty"]) - int(ins["version"])
anon = lambda who: sum(pg[who][k] for k in ("relocated", "bss", "stack", "heap"))
anon_ms = (anon("empty") - anon("shim")) * page_us / 1000
windows = -(-size // 65536)
code_ms = over("map-si", "exit") * (pg["empty"]["code"] - pg["shim"]["code"]) / (size / 4096)
print("### Core: where the start-up overhead goes")
print()
print("| pages mapped when the program is exec'd (ptrace stop at the execve, /proc/PID/smaps) | shim | secret-init, no secrets | 50 secrets |")
print("|---|---:|---:|---:|")
for kind, label in (("code", "code and constants (file pages; the kernel maps up to 16 around each fault)"),
                    ("relocated", "relocated data (static-pie: written by the start-up relocation, so copied)"),
                    ("bss", "`.bss` and the start arena (zero-filled)"), ("stack", "stack"), ("heap", "heap and other anonymous")):
    print(f"| {label} | {pg['shim'][kind]} | {pg['empty'][kind]} | {pg['50-tmpfs'][kind]} |")
print()
print(f"The empty start's {total:+.3f} ms over the shim: {image:.3f} ms is the image itself (`--version` "
      f"against a static program that only exits: the exec of a {size / 1048576:.1f} MiB static-pie, its "
      f"relocation, std's runtime set-up and the teardown; {img_flt:.0f} page faults, {int(ins['version']):,} "
      f"instructions), and {work:.3f} ms is the start's own work: {work_flt:.0f} page faults, {work_sc} "
      f"syscalls and {work_ins:,} instructions more than `--version`. An anonymous page costs "
      f"{page_us:.2f} us here (its fault, zeroing and teardown, measured above), so the "
      f"{anon('empty') - anon('shim')} anonymous pages the empty start holds beyond the shim's come to about "
      f"{anon_ms:.3f} ms. Its {pg['empty']['code']} pages of code and constants (the shim's: "
      f"{pg['shim']['code']}), mapped by the kernel up to 16 a fault and unmapped again by the exec, come to about "
      f"{code_ms:.3f} ms (a static program mapping secret-init's file and reading every 64 KiB of it: "
      f"{over('map-si', 'exit'):.3f} ms for {windows} faults). The other {total - anon_ms - code_ms:.3f} ms: "
      "the syscalls and the instructions.")
print()
floor_t, floor_d = over("files-tmpfs"), over("files-disk")
t50, d50, tini = over("50-tmpfs"), over("50-disk"), over("tini")
bounded = floor_t >= tini
print(f"50 secrets on tmpfs: {t50:.3f} ms over direct, of which the same 50 files staged, written and renamed "
      f"by a static C program (the floor of that work) take {floor_t:.3f} ms. "
      + (f"That floor alone is above tini's whole overhead ({tini:.3f} ms): the goal of no more than tini's "
         "overhead is bounded by the floor, not by secret-init. " if bounded else
         f"tini's whole overhead is {tini:.3f} ms. ")
      + f"Beyond the floor and the empty start's overhead, the 50 secrets cost {t50 - floor_t - over('empty'):.3f} ms: "
      f"{int(ins['50-tmpfs']) - int(ins['empty']):,} instructions more than the empty start (the manifest's "
      f"entries, the local config, the reads and the plan) and {pg['50-tmpfs']['bss'] - pg['empty']['bss']} "
      "more arena pages.")
print()
same = abs((d50 - t50) - (floor_d - floor_t)) <= 0.25 * (floor_d - floor_t)
print(f"On a disk-backed dir ({disk_fs}) the same start takes {d50 - t50:.3f} ms more than on tmpfs, and the "
      f"C floor {floor_d - floor_t:.3f} ms more" + (": about the same, the filesystem's cost of the same files. "
                                                    if same else ". ")
      + (f"The floor's own ratio is {floor_d / floor_t:.2f}x: a start that did that file work and nothing else "
         "would have it, and a start's fixed cost only dilutes it, so the 1.5x goal is bounded by the floor. "
         if floor_d / floor_t > 1.5 else "")
      + f"Supervised, the empty start costs {over('init-empty', 'empty'):.3f} ms more than exec'ing (a fork, "
      f"the child's exec and the wait; {int(sc['init-empty']) - int(sc['empty'])} syscalls more); "
      f"tini-static's whole overhead over the shim is {over('tini-static', 'shim'):.3f} ms.")
print()
print(f"Binary: {size:,} bytes (static-pie musl, stripped).")
print()
PY
