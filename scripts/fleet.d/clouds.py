"""The clouds of `scripts/fleet --cloud` (docs/fleet.md "Fleets within quotas"): each a throttling
fake (tests/support/fake_aws.py, fake_gcp.py, fake_azure.py) that enforces the service's
documented request quota (tests/support/quota.py), the secret-init config that reads K secrets
from it, and how its request lines count.

  aws      Secrets Manager, K `from:` references: BatchGetSecretValue (20 ids a call, 100/s); a
           throttled batch is read one by one with GetSecretValue (10,000/s)
  aws-one  the same with BatchGetSecretValue refused (AccessDenied): one by one from the start
  ssm      Parameter Store: GetParameters (10 names a call), 40/s with GetParameter
  gcp      Secret Manager AccessSecretVersion, one call a secret, 90,000/min a project
  azure    Key Vault Get Secret, one call a secret, 4,000 per 10 s a vault (429 + Retry-After)
"""

import base64
import json
import math
import os
import secrets
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/support"))
from quota import DOCUMENTED  # noqa: E402

CLOUDS = ("aws", "aws-one", "ssm", "gcp", "azure")
# Secrets a start reads, unless --secrets says otherwise.
DEFAULT_SECRETS = {"aws": 20, "aws-one": 20, "ssm": 10, "gcp": 20, "azure": 10}


class Abort(Exception):
    pass


class Cloud:
    def __init__(self, name, work, k, python):
        self.name, self.work, self.k, self.python = name, work, k, python
        self.proc = None
        self.log = os.path.join(work, f"{name}.log")
        self.expected = {f"s{i:02d}": f"value-{i:02d}-{secrets.token_hex(8)}" for i in range(k)}

    # ---- the fake ------------------------------------------------------------------------
    def start(self):
        d = os.path.join(self.work, f"fake-{self.name}")
        os.mkdir(d)
        if self.name in ("aws", "aws-one", "ssm"):
            cfg = {"deny_batch": self.name == "aws-one"}
            if self.name == "ssm":
                cfg["parameters"] = {f"/fleet/{n}": v for n, v in self.expected.items()}
            else:
                cfg["secrets"] = {f"fleet/{n}": v for n, v in self.expected.items()}
            script, arg = "fake_aws.py", json.dumps(cfg)
        elif self.name == "gcp":
            cfg = {"dir": d, "secrets": {f"projects/proj-1/secrets/{n}": [base64.b64encode(v.encode()).decode()]
                                         for n, v in self.expected.items()}}
            script, arg = "fake_gcp.py", json.dumps(cfg)
        else:
            self.token = "fleet-token-" + secrets.token_hex(8)
            cfg = {"dir": d, "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                   "client_id": "0b2f1a9e-5c3d-4e7f-8a6b-9c0d1e2f3a4b", "client_secret": secrets.token_hex(8),
                   "federated_token": secrets.token_hex(8), "identity_header": secrets.token_hex(8),
                   "access_token": self.token, "plain_vault": True,
                   "secrets": {n: {"current": "0" * 32, "versions": {"0" * 32: v}} for n, v in self.expected.items()}}
            arg = os.path.join(d, "config.json")
            with open(arg, "w") as f:
                json.dump(cfg, f)
            script = "fake_azure.py"
        self.dir = d
        self.proc = subprocess.Popen([self.python, os.path.join(ROOT, "tests/support", script), arg],
                                     stdin=subprocess.DEVNULL, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise Abort(f"{script} exited at start:\n" + open(self.log).read()[-2000:])
            with open(self.log) as f:
                first = f.readline()
            if first.startswith("READY "):
                self.ports = first.split()[1:]
                return
            time.sleep(0.05)
        raise Abort(f"{script} did not start within 30 s")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()  # by PID: Popen signals exactly its child
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # ---- what the workers get ------------------------------------------------------------
    def configure(self):
        """(config file, extra environment) for every worker."""
        port = self.ports[0]
        lines = ["secrets:"] + [f"  {n}: null" for n in self.expected] + ["secret_init:"]
        env = {}
        if self.name in ("aws", "aws-one", "ssm"):
            ref = "aws-ssm:/fleet/{}" if self.name == "ssm" else "aws-sm:fleet/{}"
            env.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": "AKIDFLEET", "AWS_SECRET_ACCESS_KEY": "fleet-secret",
                        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent",
                        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
        elif self.name == "gcp":
            ref = "gcp:secretmanager:projects/proj-1/secrets/{}"
            lines += ["  gcp:", f"    endpoint: http://127.0.0.1:{port}"]
            env.update({"GCE_METADATA_HOST": f"127.0.0.1:{port}", "GCE_METADATA_IP": f"127.0.0.1:{port}"})
        else:
            ref = "azure-kv:fleet/{}"
            # Key Vault over the fake's plain listener (loopback): its Python TLS would limit
            # the fleet long before the quota does.
            env.update({"SECRET_INIT_AZURE_ENDPOINT": f"http://127.0.0.1:{self.ports[1]}",
                        "SSL_CERT_FILE": os.path.join(self.dir, "ca.pem"),
                        "AZURE_POD_IDENTITY_AUTHORITY_HOST": f"http://127.0.0.1:{self.ports[1]}"})
        lines += ["  secrets:"] + [f"    {n}: {{from: '{ref.format(n)}'}}" for n in self.expected]
        path = os.path.join(self.work, f"{self.name}.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path, env

    # ---- counting --------------------------------------------------------------------------
    def quota(self):
        """(limit, window s) of the quota the fleet's reads spend."""
        key = {"aws": "aws-batch", "aws-one": "aws-get", "ssm": "aws-ssm", "gcp": "gcp-access", "azure": "azure-get"}
        return DOCUMENTED[key[self.name]]

    def minimum_requests(self, n):
        per = {"aws": math.ceil(self.k / 20), "ssm": math.ceil(self.k / 10)}.get(self.name, self.k)
        return n * per

    def minimum_seconds(self, n):
        """The quota's least time for the fleet's reads: a window's worth at once, then one
        window per further window's worth."""
        limit, window = self.quota()
        return max(0, math.ceil(self.minimum_requests(n) / limit) - 1) * window

    def log_size(self):
        return os.path.getsize(self.log)

    def requests(self, offset):
        """Counts of the read requests logged after `offset`: ok, throttled, other. A fake logs a
        request after answering it, so the log is first let settle (no growth for 300 ms, at
        most 5 s)."""
        end, size, still = time.monotonic() + 5, -1, 0
        while time.monotonic() < end and still < 3:
            now = self.log_size()
            still = still + 1 if now == size else 0
            size = now
            time.sleep(0.1)
        out = {"ok": 0, "throttled": 0, "other": 0}
        with open(self.log, errors="replace") as f:
            f.seek(offset)
            for line in f:
                w = line.split()
                if not w or w[0] != "REQ":
                    continue
                if self.name in ("aws", "aws-one", "ssm"):
                    action, outcome = w[1], w[2]
                    if action == "BatchGetSecretValue" and outcome == "denied":
                        continue  # the one refused batch of aws-one: not a read
                    out["throttled" if outcome == "throttled" else "ok" if outcome == "ok" else "other"] += 1
                    continue
                if not (":access" in w[2] if self.name == "gcp" else w[2].startswith("/secrets/")):
                    continue
                status = next((x[7:] for x in w if x.startswith("status=")), "")
                if self.name == "azure" and "kind=challenge" in w:
                    continue
                out["throttled" if status == "429" else "ok" if status == "200" else "other"] += 1
        return out
