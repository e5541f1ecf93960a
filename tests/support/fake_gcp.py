"""A scripted fake of the Google APIs the gcp source calls, over plain HTTP on 127.0.0.1 (no
official Secret Manager emulator exists). It follows the documented REST API:

  GET  /v1/projects/P/secrets/S/versions/V:access      Secret Manager v1 AccessSecretVersion
  POST /token                                           OAuth 2.0 token endpoint (jwt-bearer)
  POST /v1/token                                        STS token exchange (RFC 8693)
  POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken   IAM Credentials
  GET  /computeMetadata/v1/instance/service-accounts/default/token  the metadata server
  POST /v1/projects/P/locations/L/keyRings/R/cryptoKeys/K:encrypt   Cloud KMS v1 Encrypt
  POST /v1/projects/P/locations/L/keyRings/R/cryptoKeys/K:decrypt   Cloud KMS v1 Decrypt

The token endpoint verifies the JWT assertion with google-auth's own verifier
(`google.auth.jwt.decode`, RSA through `google.auth.crypt`) against the public half of the
service-account key this fake generates: a JWT that google-auth would not accept is refused.
Cloud KMS follows the REST reference of EncryptRequest/EncryptResponse and
DecryptRequest/DecryptResponse: base64 `plaintext`, `ciphertext` and
`additionalAuthenticatedData`; int64 CRC32C fields as strings (`plaintextCrc32c`,
`ciphertextCrc32c`, `additionalAuthenticatedDataCrc32c`) checked when sent (400
INVALID_ARGUMENT on a mismatch) and answered with `verified*Crc32c`; an `:encrypt` answer names
the key version used (`.../cryptoKeyVersions/1`). Ciphertexts are opaque in the real service;
here they are AES-256-GCM under a per-key random key (nonce || sealed), so a ciphertext of another
key, or a changed one, fails with 400 INVALID_ARGUMENT as Cloud KMS does.
The tests also point the real `google-cloud-secret-manager` client (REST transport) and
`google-auth` at this fake (gcp_client.py), so it is checked against them in the same run.

Usage: fake_gcp.py CONFIG_JSON
  {"dir": DIR,
   "secrets": {"projects/P/secrets/S": ["v1 base64", "v2 base64", ...]},   versions 1..n; latest = n
   "denied": ["projects/P/secrets/S", ...],      403 PERMISSION_DENIED for these
   "faults": {"projects/P/secrets/S": [503, 429]},   statuses answered first, one per request
                                                 ("reset": the connection reset, no answer)
   "corrupt": ["projects/P/secrets/S"],          dataCrc32c off by one
   "subject_token": "...",                       what STS accepts as the subject token
   "kms_keys": ["projects/P/locations/L/keyRings/R/cryptoKeys/K"],   symmetric keys (one version)
   "kms_denied": [KEY, ...],                     403 PERMISSION_DENIED on these keys
   "kms_lie": "crc" | "short",                   a decrypt answer whose plaintextCrc32c is off by
                                                 one, or whose plaintext is cut to 16 bytes
   "refuse_jwt": false,                           the token endpoint refuses every JWT
   "quota": {"gcp-access": [LIMIT, WINDOW_S]}}    over it, 429 RESOURCE_EXHAUSTED (quota.py;
                                                  default: the documented 90,000 a minute)
It writes DIR/sa.json (a service-account key file whose token_uri is this fake),
DIR/wif.json and DIR/wif-impersonate.json (external_account files reading DIR/subject-token),
prints "READY <port>", then one line per request:
  "REQ <METHOD> <path> auth=<yes|no> ok=<yes|no> status=<N> t=<ms>" (t: CLOCK_MONOTONIC; never a
  token or a value).
"""

import base64
import http.server
import json
import os
import secrets as pysecrets
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

import google.auth.crypt
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
import google.auth.jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

LOCK = threading.Lock()
CFG = json.loads(sys.argv[1])
DIR = CFG["dir"]
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
SA_EMAIL = "reader@proj-1.iam.gserviceaccount.com"
AUDIENCE = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov"
# token -> who holds it ("sa", "sts", "impersonated", "metadata", "user")
TOKENS = {}
FAULTS = {k: list(v) for k, v in CFG.get("faults", {}).items()}
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quota import quotas  # noqa: E402
from events import emit  # noqa: E402

# The documented access quota (90,000 a minute), or the config's ("quota", see quota.py).
QUOTAS = quotas(CFG)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def issue(kind):
    t = "ya29." + kind + "-" + pysecrets.token_urlsafe(24)
    with LOCK:
        TOKENS[t] = kind
    return t


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = KEY.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
).decode()
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
).decode()
KID = pysecrets.token_hex(20)
KMS_KEYS = {k: AESGCM.generate_key(bit_length=256) for k in CFG.get("kms_keys", [])}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and the client's delayed ACK
    # hold every answer after a connection's first for 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def answer(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        return status

    def api_error(self, status, code, message):
        return self.answer(status, {"error": {"code": status, "message": message, "status": code}})

    def oauth_error(self, status, code, desc):
        return self.answer(status, {"error": code, "error_description": desc})

    def bearer(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Bearer "):
            return None
        with LOCK:
            return TOKENS.get(h[len("Bearer "):])

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n)

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        status = self.route_get(path)
        emit(f"REQ GET {path} auth={'yes' if self.headers.get('Authorization') else 'no'} ok={'yes' if status == 200 else 'no'} status={status} t={time.monotonic() * 1000:.1f}")

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        status = self.route_post(path, self.body())
        emit(f"REQ POST {path} auth={'yes' if self.headers.get('Authorization') else 'no'} ok={'yes' if status == 200 else 'no'} status={status} t={time.monotonic() * 1000:.1f}")

    def route_get(self, path):
        if path == "/computeMetadata/v1/instance/service-accounts/default/token":
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.answer(403, {"error": "missing Metadata-Flavor: Google"})
            return self.answer(
                200,
                {"access_token": issue("metadata"), "expires_in": 3599, "token_type": "Bearer"},
                {"Metadata-Flavor": "Google"},
            )
        if path == "/computeMetadata/v1/instance/service-accounts/default/":
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.answer(403, {"error": "missing Metadata-Flavor: Google"})
            return self.answer(
                200,
                {"aliases": ["default"], "email": SA_EMAIL, "scopes": [SCOPE]},
                {"Metadata-Flavor": "Google"},
            )
        if path.startswith("/v1/") and path.endswith(":access"):
            return self.access(path[len("/v1/"):-len(":access")])
        return self.api_error(404, "NOT_FOUND", "no such method")

    def access(self, name):
        parts = name.split("/")
        if len(parts) != 6 or parts[0] != "projects" or parts[2] != "secrets" or parts[4] != "versions":
            return self.api_error(400, "INVALID_ARGUMENT", "bad resource name")
        if self.bearer() is None:
            return self.api_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        secret = "/".join(parts[:4])
        with LOCK:
            queued = FAULTS.get(secret)
            fault = queued.pop(0) if queued else None
        if fault == "reset":
            # SO_LINGER 0: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault:
            return self.api_error(fault, "UNAVAILABLE" if fault >= 500 else "RESOURCE_EXHAUSTED", "try again")
        q = QUOTAS.get("gcp-access")
        if q is not None and not q.admit()[0]:
            return self.api_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Access requests' "
                                  "and limit 'Access requests per minute' of service 'secretmanager.googleapis.com'.")
        if secret in CFG.get("denied", []):
            return self.api_error(403, "PERMISSION_DENIED", f"Permission 'secretmanager.versions.access' denied for resource '{name}'.")
        versions = CFG.get("secrets", {}).get(secret)
        if not versions:
            return self.api_error(404, "NOT_FOUND", f"Secret [{secret}] not found or has no versions.")
        v = parts[5]
        n = len(versions) if v == "latest" else (int(v) if v.isdigit() else 0)
        if not 1 <= n <= len(versions):
            return self.api_error(404, "NOT_FOUND", f"Secret Version [{name}] not found.")
        data = base64.b64decode(versions[n - 1])
        crc = crc32c(data) + (1 if secret in CFG.get("corrupt", []) else 0)
        return self.answer(
            200,
            {
                "name": f"{secret}/versions/{n}",
                "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc)},
            },
        )

    def route_post(self, path, raw):
        if path == "/token":
            return self.oauth_token(urllib.parse.parse_qs(raw.decode()))
        if path == "/v1/token":
            return self.sts(urllib.parse.parse_qs(raw.decode()))
        if path.startswith("/v1/projects/") and path.endswith((":encrypt", ":decrypt")):
            name, verb = path[len("/v1/"):].rsplit(":", 1)
            return self.kms(name, verb, raw)
        if path == f"/v1/projects/-/serviceAccounts/{SA_EMAIL}:generateAccessToken":
            if self.bearer() != "sts":
                return self.api_error(401, "UNAUTHENTICATED", "needs a federated token")
            req = json.loads(raw or b"{}")
            if SCOPE not in req.get("scope", []):
                return self.api_error(400, "INVALID_ARGUMENT", "scope missing")
            return self.answer(200, {"accessToken": issue("impersonated"), "expireTime": "2099-01-01T00:00:00Z"})
        return self.api_error(404, "NOT_FOUND", "no such method")

    def kms(self, name, verb, raw):
        if self.bearer() is None:
            return self.api_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if name in CFG.get("kms_denied", []):
            return self.api_error(
                403, "PERMISSION_DENIED",
                f"Permission 'cloudkms.cryptoKeyVersions.use{'To' + verb.capitalize()}' denied on resource '{name}' (or it may not exist).",
            )
        key = KMS_KEYS.get(name)
        if key is None:
            return self.api_error(404, "NOT_FOUND", f"CryptoKey {name} not found.")
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            return self.api_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        field = "plaintext" if verb == "encrypt" else "ciphertext"
        data = base64.b64decode(req.get(field, ""))
        aad = base64.b64decode(req.get("additionalAuthenticatedData", ""))
        verified = {}
        for f, v in ((field, data), ("additionalAuthenticatedData", aad)):
            sent = req.get(f + "Crc32c")
            if sent is not None:
                if int(sent) != crc32c(v):
                    return self.api_error(
                        400, "INVALID_ARGUMENT",
                        f"The checksum in field {f}_crc32c did not match the data in field {f}.",
                    )
                verified["verified" + f[0].upper() + f[1:] + "Crc32c"] = True
            else:
                verified["verified" + f[0].upper() + f[1:] + "Crc32c"] = False
        if verb == "encrypt":
            nonce = pysecrets.token_bytes(12)
            ct = nonce + AESGCM(key).encrypt(nonce, data, aad or None)
            return self.answer(200, {
                "name": name + "/cryptoKeyVersions/1",
                "ciphertext": base64.b64encode(ct).decode(),
                "ciphertextCrc32c": str(crc32c(ct)),
                "verifiedPlaintextCrc32c": verified["verifiedPlaintextCrc32c"],
                "verifiedAdditionalAuthenticatedDataCrc32c": verified["verifiedAdditionalAuthenticatedDataCrc32c"],
                "protectionLevel": "SOFTWARE",
            })
        try:
            plain = AESGCM(key).decrypt(data[:12], data[12:], aad or None)
        except Exception:  # noqa: BLE001 - any failure is Cloud KMS' "invalid ciphertext"
            return self.api_error(400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
        lie = CFG.get("kms_lie")
        if lie == "short":
            plain = plain[:16]
        crc = crc32c(plain) + (1 if lie == "crc" else 0)
        return self.answer(200, {
            "plaintext": base64.b64encode(plain).decode(),
            "plaintextCrc32c": str(crc),
            "usedPrimary": True,
            "protectionLevel": "SOFTWARE",
        })

    def oauth_token(self, form):
        grant = form.get("grant_type", [""])[0]
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.oauth_error(400, "unsupported_grant_type", "Invalid grant_type")
        if CFG.get("refuse_jwt"):
            return self.oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        assertion = form.get("assertion", [""])[0]
        try:
            header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
            if header.get("alg") != "RS256":
                raise ValueError("alg")
            claims = google.auth.jwt.decode(
                assertion, certs={KID: PUBLIC_PEM}, audience="https://oauth2.googleapis.com/token"
            )
            if claims.get("iss") != SA_EMAIL or claims.get("scope") != SCOPE:
                raise ValueError("claims")
            if claims["exp"] - claims["iat"] > 3600:
                raise ValueError("lifetime")
        except Exception as e:  # noqa: BLE001 - any verification failure refuses the grant
            emit(f"JWT refused: {type(e).__name__}")
            sys.stderr.write(f"fake_gcp: JWT refused: {e}\n")
            return self.oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        return self.answer(200, {"access_token": issue("sa"), "expires_in": 3599, "token_type": "Bearer"})

    def sts(self, form):
        want = {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": AUDIENCE,
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "subject_token": CFG.get("subject_token", ""),
        }
        for k, v in want.items():
            if form.get(k, [""])[0] != v:
                return self.oauth_error(400, "invalid_grant" if k == "subject_token" else "invalid_request", f"bad {k}")
        # google-auth asks for the IAM scope when it will impersonate, cloud-platform otherwise.
        scopes = form.get("scope", [""])[0].split()
        if SCOPE not in scopes and "https://www.googleapis.com/auth/iam" not in scopes:
            return self.oauth_error(400, "invalid_scope", "scope missing")
        return self.answer(
            200,
            {
                "access_token": issue("sts"),
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a fleet connects at once


def write(name, obj):
    p = os.path.join(DIR, name)
    with open(p, "w") as f:
        json.dump(obj, f)
    os.chmod(p, 0o600)


srv = Server(("127.0.0.1", 0), Handler)
PORT = srv.server_address[1]
base = f"http://127.0.0.1:{PORT}"
write(
    "sa.json",
    {
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": KID,
        "private_key": PRIVATE_PEM,
        "client_email": SA_EMAIL,
        "client_id": "1234567890",
        "token_uri": f"{base}/token",
    },
)
wif = {
    "type": "external_account",
    "audience": AUDIENCE,
    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
    "token_url": f"{base}/v1/token",
    "credential_source": {"file": os.path.join(DIR, "subject-token")},
}
write("wif.json", wif)
wif["service_account_impersonation_url"] = (
    f"{base}/v1/projects/-/serviceAccounts/{SA_EMAIL}:generateAccessToken"
)
write("wif-impersonate.json", wif)
with open(os.path.join(DIR, "subject-token"), "w") as f:
    f.write(CFG.get("subject_token", ""))
emit(f"READY {PORT}")
threading.Thread(target=srv.serve_forever, daemon=True).start()
# Bounded life: a test that forgets to stop us does not leave a server behind for long.
time.sleep(600)
