"""A service quota as the clouds document them: at most LIMIT requests in any WINDOW seconds
(a sliding window of the requests admitted; a refused request does not count). Used by the
throttling fakes (fake_aws.py, fake_gcp.py, fake_azure.py) and, through them, by scripts/fleet.

The documented defaults (DOCUMENTED) are what a fake enforces unless its config names others:
  AWS Secrets Manager  BatchGetSecretValue 100/s, GetSecretValue 10,000/s
  AWS SSM              GetParameter + GetParameters 40/s (the default throughput, shared)
  GCP Secret Manager   AccessSecretVersion 90,000/min per project
  Azure Key Vault      secrets GET 4,000 per 10 s per vault
"""

import collections
import math
import threading
import time

DOCUMENTED = {
    "aws-batch": (100, 1.0),
    "aws-get": (10_000, 1.0),
    "aws-ssm": (40, 1.0),
    "gcp-access": (90_000, 60.0),
    "azure-get": (4_000, 10.0),
}


class Quota:
    """LIMIT requests admitted in any WINDOW seconds; thread-safe."""

    def __init__(self, limit, window):
        self.limit, self.window = int(limit), float(window)
        self.admitted = collections.deque()
        self.lock = threading.Lock()

    def admit(self):
        """(True, 0) when the request fits; else (False, seconds until one would)."""
        now = time.monotonic()
        with self.lock:
            while self.admitted and self.admitted[0] <= now - self.window:
                self.admitted.popleft()
            if len(self.admitted) < self.limit:
                self.admitted.append(now)
                return True, 0.0
            if not self.admitted:  # a quota of 0: never
                return False, self.window
            return False, self.admitted[0] + self.window - now


def quotas(cfg):
    """The quotas a fake enforces: DOCUMENTED, with cfg["quota"] = {NAME: [LIMIT, WINDOW]} over
    them (a test's smaller quota), or cfg["quota"] = "off" for none."""
    q = cfg.get("quota")
    if q == "off":
        return {}
    limits = dict(DOCUMENTED)
    for k, v in (q or {}).items():
        limits[k] = tuple(v)
    return {k: Quota(*v) for k, v in limits.items()}


def retry_after(seconds):
    """A Retry-After value in whole seconds (at least 1)."""
    return str(max(1, math.ceil(seconds)))
