"""Admin side of the OpenBao test server: API calls with the root token, JWT keys and tokens.

Usage: bao_admin.py ADDR CA_FILE ROOT_TOKEN < ops.json
ops.json is a list of operations, run in order in one process (one Python start per batch):
  {"op": "api", "method": "POST", "path": "sys/mounts/kv", "body": {...}}  -> {"status": N, "body": {...}}
  {"op": "keygen", "key": "/path/key.pem"}                                -> {"public": "PEM"}
  {"op": "sign", "key": "/path/key.pem", "claims": {...}, "ttl": 600}     -> {"jwt": "..."}
Prints one JSON list of results. Exits 1 on an api status >= 400 unless the op says "ok_status".
"""

import json
import ssl
import sys
import time
import urllib.error
import urllib.request


def api(addr, ctx, token, op):
    data = None if op.get("body") is None else json.dumps(op["body"]).encode()
    req = urllib.request.Request(
        f"{addr}/v1/{op['path']}",
        data=data,
        method=op.get("method", "GET"),
        headers={"X-Vault-Token": token, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    body = json.loads(raw) if raw.strip() else None
    if status >= 400 and status not in op.get("ok_status", []):
        sys.stderr.write(f"bao_admin: {op.get('method', 'GET')} {op['path']}: HTTP {status} {raw[:500]!r}\n")
        sys.exit(1)
    return {"status": status, "body": body}


def keygen(op):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(op["key"], "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"public": pub.decode()}


def sign(op):
    import jwt

    with open(op["key"], "rb") as f:
        key = f.read()
    now = int(time.time())
    claims = {"iat": now, "nbf": now - 5, "exp": now + op.get("ttl", 600)}
    claims.update(op["claims"])
    return {"jwt": jwt.encode(claims, key, algorithm="RS256", headers={"kid": "test"})}


def main():
    addr, ca, token = sys.argv[1:4]
    ctx = ssl.create_default_context(cafile=ca) if addr.startswith("https:") else None
    out = []
    for op in json.load(sys.stdin):
        kind = op["op"]
        if kind == "api":
            out.append(api(addr, ctx, token, op))
        elif kind == "keygen":
            out.append(keygen(op))
        elif kind == "sign":
            out.append(sign(op))
        else:
            sys.exit(f"bao_admin: unknown op {kind}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
