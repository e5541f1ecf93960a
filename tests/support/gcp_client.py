"""The real Google clients against the fake (fake_gcp.py): google-auth obtains a token the way
it does in production (a service-account key file, a workload-identity-federation file, or the
metadata server at GCE_METADATA_HOST) and google-cloud-secret-manager's REST transport reads
secret versions with it. Proves the fake speaks the API those libraries speak.

Usage: gcp_client.py ENDPOINT MODE NAME...   MODE: a credentials file path, or "metadata"
Prints one JSON line: {"NAME": {"b64": ..., "crc": ...} or {"error": "<exception class>"}}.
"""

import base64
import json
import socket
import sys

# Loopback only: any other address is refused before a packet leaves (no DNS lookup either).
_getaddrinfo = socket.getaddrinfo


def _loopback_only(host, *a, **k):
    if host not in ("127.0.0.1", "localhost"):
        raise OSError(f"gcp_client.py: refusing to resolve {host} (tests stay on loopback)")
    return _getaddrinfo(host, *a, **k)


socket.getaddrinfo = _loopback_only

import google.auth
import google.auth.compute_engine
import google.auth.identity_pool
import google.auth.transport.requests
import google.oauth2.credentials
from google.api_core.client_options import ClientOptions
from google.cloud import secretmanager

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
endpoint, mode, names = sys.argv[1], sys.argv[2], sys.argv[3:]
if mode == "metadata":
    creds = google.auth.compute_engine.Credentials()
elif json.load(open(mode))["type"] == "external_account":
    # Built directly: load_credentials_from_file would also look up the project number at the
    # Resource Manager API, which is not on loopback.
    creds = google.auth.identity_pool.Credentials.from_file(mode, scopes=[SCOPE])
else:
    creds, _ = google.auth.load_credentials_from_file(mode, scopes=[SCOPE])
# Refresh here, through google-auth's own token flow (JWT bearer at token_uri, STS, impersonation,
# metadata): the Secret Manager client would otherwise give a service account a self-signed JWT
# and skip the token endpoint this proof is about.
creds.refresh(google.auth.transport.requests.Request())
creds = google.oauth2.credentials.Credentials(creds.token)
client = secretmanager.SecretManagerServiceClient(
    credentials=creds,
    transport="rest",
    client_options=ClientOptions(api_endpoint=endpoint),
)
out = {}
for name in names:
    try:
        r = client.access_secret_version(request={"name": name})
        out[name] = {"b64": base64.b64encode(r.payload.data).decode(), "crc": r.payload.data_crc32c}
    except Exception as e:  # noqa: BLE001 - the class name is the result
        out[name] = {"error": type(e).__name__}
print(json.dumps(out))
