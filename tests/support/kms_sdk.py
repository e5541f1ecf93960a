"""Reads and writes bundles whose data key a KMS wraps (docs/bundle.md, version 2) with the
providers' own clients, to prove secret-init's KMS calls and the fakes honest both ways:

  boto3 (KMS Encrypt/Decrypt against moto), google-cloud-kms (REST transport, against
  fake_gcp.py), azure-keyvault-keys' CryptographyClient (against fake_azure.py: it wraps locally
  with the key's public JWK and unwraps remotely), and the `bao` CLI
  (`bao write transit/encrypt|decrypt/NAME`, against the real OpenBao).

The bundle's AES-256-GCM layer is written here from the documented format alone (the
`cryptography` package), not with any code of secret-init's.

Usage: kms_sdk.py CONFIG_FILE
  {"op": "read", "bundle": PATH, "vault": V, "entry": K, "provider": P}
      prints {"value": base64 of the entry, "data_key": base64 of the unwrapped data key}
  {"op": "write", "bundle": PATH, "kms": SPEC, "vault": V, "entries": {K: VALUE}, "provider": P}
      writes a new version 2 bundle (a fresh data key wrapped by the provider's client)
  {"op": "sops", "file": PATH, "kms": SPEC, "entries": {K: VALUE}, "provider": P}
      writes a SOPS YAML file (gcp or azure: where the real sops cannot reach a local fake), from
      sops' documented format alone: every value AES-256-GCM with a 32-byte IV and `KEY:` as
      associated data, the MAC (SHA-512 of the values, upper-case hex) sealed with
      `lastmodified`, the data key wrapped by the provider's client (gcp_kms: standard base64,
      azure_kv: unpadded base64url, as sops stores them)
  P: {"aws": {"endpoint": URL, "key_id": K, "secret": S}}
     {"gcp": {"endpoint": URL, "credentials": SA_JSON}}
     {"azure": {"https": URL, "ca": PEM, "tenant": T, "client_id": C, "client_secret": S}}
     {"transit": {"addr": URL, "token": T, "ca": PEM}}
"""

import base64
import json
import os
import socket
import subprocess
import sys

# Loopback only: any other address is refused before a packet leaves (no DNS lookup either).
_getaddrinfo = socket.getaddrinfo


def _loopback_only(host, *a, **k):
    if host not in ("127.0.0.1", "localhost"):
        raise OSError(f"kms_sdk.py: refusing to resolve {host} (tests stay on loopback)")
    return _getaddrinfo(host, *a, **k)


socket.getaddrinfo = _loopback_only

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

with open(sys.argv[1]) as f:
    CFG = json.load(f)
PROVIDER = CFG["provider"]
AWS_CONTEXT = {"secret-init": "bundle data key"}
KEY_CHECK = b"secret-init key check"


def b64(data):
    return base64.b64encode(data).decode()


def key_check_aad(kms):
    return b"secret-init-bundle/2\0key-check\0" + kms.encode()


def entry_aad(vault, key, secret):
    return f"secret-init-bundle/1\0entry\0{vault}\0{key}\0{'secret' if secret else 'plain'}".encode()


def spec_body(kms):
    return kms.split(":", 1)[1]


def wrap(kms, data_key):
    if "aws" in PROVIDER:
        return aws().encrypt(KeyId=spec_body(kms), Plaintext=data_key, EncryptionContext=AWS_CONTEXT)[
            "CiphertextBlob"
        ]
    if "gcp" in PROVIDER:
        return gcp().encrypt(request={"name": spec_body(kms), "plaintext": data_key}).ciphertext
    if "azure" in PROVIDER:
        from azure.keyvault.keys.crypto import KeyWrapAlgorithm

        return azure(kms).wrap_key(KeyWrapAlgorithm.rsa_oaep_256, data_key).encrypted_key
    mount, name = spec_body(kms).rsplit("/", 1)
    return bao("write", "-field=ciphertext", f"{mount}/encrypt/{name}", f"plaintext={b64(data_key)}").encode()


def unwrap(kms, wrapped):
    if "aws" in PROVIDER:
        return aws().decrypt(CiphertextBlob=wrapped, KeyId=spec_body(kms), EncryptionContext=AWS_CONTEXT)[
            "Plaintext"
        ]
    if "gcp" in PROVIDER:
        return gcp().decrypt(request={"name": spec_body(kms), "ciphertext": wrapped}).plaintext
    if "azure" in PROVIDER:
        from azure.keyvault.keys.crypto import KeyWrapAlgorithm

        return azure(kms).unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped).key
    mount, name = spec_body(kms).rsplit("/", 1)
    return base64.b64decode(bao("write", "-field=plaintext", f"{mount}/decrypt/{name}", f"ciphertext={wrapped.decode()}"))


def aws():
    import boto3

    p = PROVIDER["aws"]
    return boto3.client(
        "kms",
        endpoint_url=p["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=p.get("key_id", "testing"),
        aws_secret_access_key=p.get("secret", "testing"),
    )


def gcp():
    import google.auth
    import google.auth.transport.requests
    import google.oauth2.credentials
    from google.api_core.client_options import ClientOptions
    from google.cloud import kms

    p = PROVIDER["gcp"]
    creds, _ = google.auth.load_credentials_from_file(
        p["credentials"], scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    # Through the token endpoint (the fake's), not a self-signed JWT.
    creds.refresh(google.auth.transport.requests.Request())
    return kms.KeyManagementServiceClient(
        credentials=google.oauth2.credentials.Credentials(creds.token),
        transport="rest",
        client_options=ClientOptions(api_endpoint=p["endpoint"]),
    )


def azure(kms):
    p = PROVIDER["azure"]
    os.environ["REQUESTS_CA_BUNDLE"] = p["ca"]
    os.environ["SSL_CERT_FILE"] = p["ca"]
    from azure.identity import ClientSecretCredential
    from azure.keyvault.keys.crypto import CryptographyClient

    cred = ClientSecretCredential(
        p["tenant"], p["client_id"], p["client_secret"], authority=p["https"], disable_instance_discovery=True
    )
    # The key's own URL names its vault; the fake serves it at its loopback address.
    path = spec_body(kms).split("/", 3)[3]
    return CryptographyClient(f"{p['https']}/{path}", cred, verify_challenge_resource=False)


def bao(*args):
    p = PROVIDER["transit"]
    env = dict(os.environ, VAULT_ADDR=p["addr"], VAULT_TOKEN=p["token"], VAULT_CACERT=p["ca"])
    out = subprocess.run(["bao", *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bao {args[0]} {args[2]}: {out.stderr.strip()}")
    return out.stdout.strip()


def read():
    with open(CFG["bundle"]) as f:
        b = json.load(f)
    assert b["version"] == 2, b["version"]
    kms = b["key"]["kms"]
    data_key = unwrap(kms, base64.b64decode(b["key"]["wrapped"]))
    g = AESGCM(data_key)
    kc = b["key_check"]
    assert g.decrypt(base64.b64decode(kc["nonce"]), base64.b64decode(kc["sealed"]), key_check_aad(kms)) == KEY_CHECK
    e = b["vaults"][CFG["vault"]]["entries"][CFG["entry"]]
    value = g.decrypt(
        base64.b64decode(e["nonce"]), base64.b64decode(e["sealed"]), entry_aad(CFG["vault"], CFG["entry"], e["secret"])
    )
    print(json.dumps({"value": b64(value), "data_key": b64(data_key)}))


def write():
    kms = CFG["kms"]
    data_key = AESGCM.generate_key(bit_length=256)
    g = AESGCM(data_key)

    def sealed(plain, aad):
        nonce = os.urandom(12)
        return {"nonce": b64(nonce), "sealed": b64(g.encrypt(nonce, plain, aad))}

    now = "2026-01-01T00:00:00Z"
    entries = {}
    for k, v in CFG["entries"].items():
        entries[k] = {"secret": True, "updated": now, **sealed(v.encode(), entry_aad(CFG["vault"], k, True))}
    bundle = {
        "format": "secret-init-bundle",
        "version": 2,
        "cipher": "AES-256-GCM",
        "key": {"kms": kms, "wrapped": b64(wrap(kms, data_key))},
        "key_check": sealed(KEY_CHECK, key_check_aad(kms)),
        "vaults": {CFG["vault"]: {"description": "", "created": now, "updated": now, "entries": entries}},
    }
    with open(CFG["bundle"], "w") as f:
        json.dump(bundle, f)
    os.chmod(CFG["bundle"], 0o600)


def sops_value(g, plain, aad, kind="str"):
    iv = os.urandom(32)
    out = AESGCM(g).encrypt(iv, plain, aad.encode())
    data, tag = out[:-16], out[-16:]
    return f"ENC[AES256_GCM,data:{b64(data)},iv:{b64(iv)},tag:{b64(tag)},type:{kind}]"


def sops():
    import hashlib

    kms = CFG["kms"]
    data_key = AESGCM.generate_key(bit_length=256)
    now = "2026-01-01T00:00:00Z"
    lines = []
    mac = hashlib.sha512()
    for k, v in CFG["entries"].items():
        mac.update(v.encode())
        lines.append(f"{k}: {sops_value(data_key, v.encode(), k + ':')}")
    wrapped = wrap(kms, data_key)
    if "gcp" in PROVIDER:
        keys = ["    gcp_kms:", f"        - resource_id: {spec_body(kms)}", f"          created_at: \"{now}\"",
                f"          enc: {b64(wrapped)}"]
    else:
        url = spec_body(kms)
        host, _, name, version = url[len("https://"):].split("/")
        enc = base64.urlsafe_b64encode(wrapped).decode().rstrip("=")
        keys = ["    azure_kv:", f"        - vault_url: https://{host}", f"          name: {name}",
                f"          version: {version}", f"          created_at: \"{now}\"", f"          enc: {enc}"]
    sealed_mac = sops_value(data_key, mac.hexdigest().upper().encode(), now)
    lines += ["sops:", *keys, f"    lastmodified: \"{now}\"", f"    mac: {sealed_mac}",
              "    unencrypted_suffix: _unencrypted", "    version: 3.11.0"]
    with open(CFG["file"], "w") as f:
        f.write("\n".join(lines) + "\n")


{"read": read, "write": write, "sops": sops}[CFG["op"]]()
