"""A fake Azure Key Vault + Entra ID + managed identity server, for the azure tests: no official
emulator exists. It follows the documented REST APIs closely enough that the real Azure SDK
(azure-identity, azure-keyvault-secrets) works against it, which tests/azure.rs checks in the same
run (tests/support/azure_sdk.py).

Usage: fake_azure.py CONFIG_FILE
  {"dir": DIR, "tenant": T, "client_id": C, "client_secret": S, "federated_token": F,
   "identity_header": H, "access_token": A,
   "secrets": {"NAME": {"current": VERSION, "versions": {VERSION: VALUE}}},
   "sizes": {"NAME": N}             a current value of N bytes of "x",
   "faults": {"NAME": [STATUS...]}, the first answers for NAME (429 with Retry-After: 0),
   "denied": ["NAME", ...],         403 Forbidden / AccessDenied for NAME (secrets and keys),
   "keys": {"NAME": VERSION},       an RSA-2048 key version (generated at start),
   "key_lie": "other-kid",          key answers name another key's kid,
   "plain_vault": false,            Key Vault on the plain-http listener too (scripts/fleet: this
                                    Python server's TLS would be the bottleneck, not the quota),
   "quota": {"azure-get": [LIMIT, WINDOW_S]}}  over it, 429 Throttled with Retry-After (quota.py;
                                    default: the documented 4,000 per 10 s).

Endpoints (HTTPS under a fresh test CA written to DIR/ca.pem, plus a plain-http listener that
serves only IMDS, as the real one is plain http):
  GET  /secrets/{name}[/{version}]?api-version=V   Key Vault Get Secret (7.4, or the
       SDK's newer dated versions). Without an
       Authorization header: 401 with the challenge the SDK expects first
       (WWW-Authenticate: Bearer authorization="https://HOST/{tenant}", resource="https://vault.azure.net").
  GET  /keys/{name}/{version}?api-version=V        Get Key: the public JWK (kty RSA, n, e)
  POST /keys/{name}/{version}/wrapkey|unwrapkey?api-version=V   Wrap Key / Unwrap Key with
       {"alg": "RSA-OAEP-256", "value": base64url}: RSAES-OAEP with SHA-256 and MGF1-SHA-256
       (what the algorithm name means in JWA, RFC 7518 4.3), answered {"kid", "value"} in
       base64url without padding; a value the key cannot unwrap is 400 BadParameter.
  GET  /{tenant}/v2.0/.well-known/openid-configuration  the OpenID metadata MSAL reads.
  POST /{tenant}/oauth2/v2.0/token   client_credentials with client_secret or a jwt-bearer
       client_assertion (the federated token); scope must end in /.default.
  GET  /msi/token?api-version=2019-08-01&resource=R    App Service managed identity (X-IDENTITY-HEADER).
  GET  /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R   IMDS (Metadata: true).

It prints "READY <https_port> <http_port>", then one line per request:
  "REQ <METHOD> <path without query> auth=<yes|no> kind=<what it was> status=<N> t=<ms>" (t:
  CLOCK_MONOTONIC; never a value or token).
"""

import http.server
import json
import os
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_https import make_certs  # noqa: E402  (the same test CA and server certificate)
from quota import quotas, retry_after  # noqa: E402
from events import emit  # noqa: E402

LOCK = threading.Lock()
CFG = {}
FAULTS = {}
QUOTAS = {}  # the documented 4,000 secret reads per 10 s per vault, or the config's (quota.py)
KEYS = {}
OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and the client's delayed ACK
    # hold every answer after a connection's first for 40 ms.
    disable_nagle_algorithm = True
    plain = False

    def log_message(self, *args):
        pass

    def answer(self, status, obj, headers=None, kind=""):
        body = json.dumps(obj).encode()
        path = urllib.parse.urlsplit(self.path).path
        auth = "yes" if self.headers.get("Authorization") else "no"
        emit(f"REQ {self.command} {path} auth={auth} kind={kind} status={status} t={time.monotonic() * 1000:.1f}")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def host(self):
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def token(self, resource, kind):
        now = int(time.time())
        return {
            "token_type": "Bearer",
            "access_token": CFG["access_token"],
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "expires_on": str(now + 3599),
            "resource": resource,
        }

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        parts = [p for p in u.path.split("/") if p]
        if u.path == "/metadata/identity/oauth2/token":
            if self.headers.get("Metadata") != "true":
                return self.answer(400, {"error": "invalid_request", "error_description": "Required metadata header not specified"}, kind="imds")
            if q.get("api-version") != "2018-02-01" or not q.get("resource"):
                return self.answer(400, {"error": "invalid_request", "error_description": "bad query"}, kind="imds")
            return self.answer(200, self.token(q["resource"], "imds"), kind="imds")
        if self.plain and not (CFG.get("plain_vault") and u.path.startswith("/secrets/")):
            return self.answer(404, {"error": "not_found"}, kind="plain")
        if u.path == "/msi/token":
            if self.headers.get("X-IDENTITY-HEADER") != CFG["identity_header"]:
                return self.answer(401, {"error": "unauthorized", "error_description": "bad identity header"}, kind="msi")
            if q.get("api-version") != "2019-08-01" or not q.get("resource"):
                return self.answer(400, {"error": "invalid_request", "error_description": "bad query"}, kind="msi")
            return self.answer(200, self.token(q["resource"], "msi"), kind="msi")
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            t = parts[0]
            h = self.host()
            return self.answer(200, {
                "token_endpoint": f"{h}/{t}/oauth2/v2.0/token",
                "authorization_endpoint": f"{h}/{t}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{h}/{t}/oauth2/v2.0/devicecode",
                "issuer": f"{h}/{t}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "tenant_region_scope": None,
            }, kind="openid")
        if parts and parts[0] == "secrets" and len(parts) in (2, 3):
            return self.get_secret(parts[1], parts[2] if len(parts) == 3 else None, q)
        if parts and parts[0] == "keys" and len(parts) in (2, 3):
            return self.get_key(parts[1], parts[2] if len(parts) == 3 else None, q)
        return self.answer(404, {"error": {"code": "NotFound", "message": "no such route"}}, kind="unknown")

    def refused(self, q, name, kind):
        """The checks every Key Vault call passes first: api-version, the token (the challenge
        first), then the name's denial; the answer sent, or None."""
        if not q.get("api-version"):
            return self.answer(400, {"error": {"code": "BadParameter", "message": "api-version missing"}}, kind=kind) or True
        auth = self.headers.get("Authorization")
        if not auth:
            return self.answer(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}},
                               {"WWW-Authenticate": f'Bearer authorization="{self.host()}/{CFG["tenant"]}", resource="https://vault.azure.net"'},
                               kind="challenge") or True
        if auth != "Bearer " + CFG["access_token"]:
            return self.answer(401, {"error": {"code": "Unauthorized", "message": "AKV10022: Invalid audience."}}, kind=kind) or True
        if name in CFG.get("denied", []):
            return self.answer(403, {"error": {"code": "Forbidden", "message": "Caller is not authorized to perform action on resource.", "innererror": {"code": "AccessDenied"}}}, kind=kind) or True
        return None

    def key_version(self, name, version):
        """(kid, private key) of a configured key version, or None."""
        if name not in KEYS or version not in (None, CFG["keys"][name]):
            return None
        kid = f"https://fake.vault.azure.net/keys/{name}/{CFG['keys'][name]}"
        if CFG.get("key_lie") == "other-kid":
            kid = f"https://fake.vault.azure.net/keys/{name}-other/{CFG['keys'][name]}"
        return kid, KEYS[name]

    def get_key(self, name, version, q):
        if self.refused(q, name, "key"):
            return
        found = self.key_version(name, version)
        if found is None:
            return self.answer(404, {"error": {"code": "KeyNotFound", "message": f"A key with (name/id) {name} was not found in this key vault."}}, kind="key")
        kid, key = found
        pub = key.public_key().public_numbers()
        n = pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")
        e = pub.e.to_bytes((pub.e.bit_length() + 7) // 8, "big")
        return self.answer(200, {
            "key": {"kid": kid, "kty": "RSA", "key_ops": ["wrapKey", "unwrapKey", "encrypt", "decrypt"], "n": b64u(n), "e": b64u(e)},
            "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000, "recoveryLevel": "Recoverable+Purgeable"},
        }, kind="key")

    def key_operation(self, name, version, op, q, raw):
        if self.refused(q, name, op):
            return
        found = self.key_version(name, version)
        if found is None:
            return self.answer(404, {"error": {"code": "KeyNotFound", "message": f"A key with (name/id) {name}/{version} was not found in this key vault."}}, kind=op)
        kid, key = found
        try:
            req = json.loads(raw or b"{}")
            if req.get("alg") != "RSA-OAEP-256":
                raise ValueError("alg")
            value = unb64u(req["value"])
            if op == "wrapkey":
                out = key.public_key().encrypt(value, OAEP)
            else:
                out = key.decrypt(value, OAEP)
        except Exception:  # noqa: BLE001 - Key Vault answers every bad input this way
            return self.answer(400, {"error": {"code": "BadParameter", "message": "Key operation failed."}}, kind=op)
        return self.answer(200, {"kid": kid, "value": b64u(out)}, kind=op)

    def get_secret(self, name, version, q):
        if not q.get("api-version"):
            return self.answer(400, {"error": {"code": "BadParameter", "message": "api-version missing"}}, kind="secret")
        auth = self.headers.get("Authorization")
        if not auth:
            return self.answer(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}},
                               {"WWW-Authenticate": f'Bearer authorization="{self.host()}/{CFG["tenant"]}", resource="https://vault.azure.net"'},
                               kind="challenge")
        if auth != "Bearer " + CFG["access_token"]:
            return self.answer(401, {"error": {"code": "Unauthorized", "message": "AKV10022: Invalid audience."}}, kind="secret")
        with LOCK:
            pending = FAULTS.get(name) or []
            fault = pending.pop(0) if pending else None
        if fault is not None:
            headers = {"Retry-After": "0"} if fault == 429 else {}
            return self.answer(fault, {"error": {"code": "Throttled" if fault == 429 else "InternalServerError", "message": "try again"}}, headers, kind="fault")
        q = QUOTAS.get("azure-get")
        if q is not None:
            ok, wait = q.admit()
            if not ok:
                return self.answer(429, {"error": {"code": "Throttled", "message": "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"}},
                                   {"Retry-After": retry_after(wait)}, kind="throttled")
        if name in CFG.get("denied", []):
            return self.answer(403, {"error": {"code": "Forbidden", "message": "Caller is not authorized to perform action on resource.", "innererror": {"code": "AccessDenied"}}}, kind="secret")
        if name in CFG.get("sizes", {}):
            value = "x" * CFG["sizes"][name]
            version = version or "0" * 32
        else:
            s = CFG.get("secrets", {}).get(name)
            if s is None or (version is not None and version not in s["versions"]):
                return self.answer(404, {"error": {"code": "SecretNotFound", "message": f"A secret with (name/id) {name} was not found in this key vault."}}, kind="secret")
            version = version or s["current"]
            value = s["versions"][version]
        return self.answer(200, {
            "value": value,
            "id": f"https://fake.vault.azure.net/secrets/{name}/{version}",
            "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000, "recoveryLevel": "Recoverable+Purgeable"},
            "tags": {},
        }, kind="secret")

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        parts = [p for p in u.path.split("/") if p]
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        if not self.plain and len(parts) == 4 and parts[0] == "keys" and parts[3] in ("wrapkey", "unwrapkey"):
            return self.key_operation(parts[1], parts[2], parts[3], dict(urllib.parse.parse_qsl(u.query)), raw)
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        if self.plain or len(parts) != 4 or parts[1:] != ["oauth2", "v2.0", "token"]:
            return self.answer(404, {"error": "not_found"}, kind="unknown")
        bad = lambda code, desc: self.answer(401 if code == "invalid_client" else 400, {"error": code, "error_description": desc}, kind="entra")
        if parts[0] != CFG["tenant"]:
            return bad("invalid_request", "AADSTS90002: Tenant not found.")
        if form.get("grant_type") != "client_credentials" or not form.get("scope", "").endswith("/.default"):
            return bad("invalid_request", "AADSTS900144: The request body must contain grant_type and scope.")
        if form.get("client_id") != CFG["client_id"]:
            return bad("unauthorized_client", "AADSTS700016: Application not found in the directory.")
        if "client_secret" in form:
            if form["client_secret"] != CFG["client_secret"]:
                return bad("invalid_client", "AADSTS7000215: Invalid client secret provided.")
            kind = "client_secret"
        elif form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            if form.get("client_assertion") != CFG["federated_token"]:
                return bad("invalid_client", "AADSTS700211: No matching federated identity record found.")
            kind = "assertion"
        else:
            return bad("invalid_client", "AADSTS7000218: The request body must contain client_assertion or client_secret.")
        return self.answer(200, self.token(form["scope"], kind), kind=kind)


class PlainHandler(Handler):
    plain = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a fleet connects at once


def main():
    with open(sys.argv[1]) as f:
        CFG.update(json.load(f))
    for k, v in CFG.get("faults", {}).items():
        FAULTS[k] = list(v)
    QUOTAS.update(quotas(CFG))
    for k in CFG.get("keys", {}):
        KEYS[k] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    d = CFG["dir"]
    make_certs(d, ["127.0.0.1"], False)
    tls = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{d}/cert.pem", f"{d}/key.pem")
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    plain = Server(("127.0.0.1", 0), PlainHandler)
    for s in (tls, plain):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    emit(f"READY {tls.server_address[1]} {plain.server_address[1]}")
    # Bounded life: the test kills it; never outlive a stuck test by much.
    time.sleep(600)


if __name__ == "__main__":
    main()
