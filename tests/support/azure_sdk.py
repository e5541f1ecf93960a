"""Reads secrets from the Key Vault fake (fake_azure.py) with the real Azure SDK, to prove the fake
honest: azure-identity's ClientSecretCredential, WorkloadIdentityCredential and
ManagedIdentityCredential (App Service endpoint and IMDS), and azure-keyvault-secrets'
SecretClient, which starts with the unauthenticated challenge request.

Usage: azure_sdk.py CONFIG_FILE
  {"https": URL, "http": URL, "ca": PEM, "tenant": T, "client_id": C, "client_secret": S,
   "token_file": PATH, "identity_header": H, "reads": [[NAME, VERSION or null], ...]}
Prints one JSON object: {"<credential>": {"NAME[/VERSION]": VALUE or null (not found)}}.
"""

import json
import os
import sys

with open(sys.argv[1]) as f:
    CFG = json.load(f)

os.environ["REQUESTS_CA_BUNDLE"] = CFG["ca"]
os.environ["SSL_CERT_FILE"] = CFG["ca"]

from azure.core.exceptions import ResourceNotFoundError  # noqa: E402
from azure.identity import (  # noqa: E402
    ClientSecretCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from azure.keyvault.secrets import SecretClient  # noqa: E402


def creds():
    yield "client_secret", lambda: ClientSecretCredential(
        CFG["tenant"], CFG["client_id"], CFG["client_secret"],
        authority=CFG["https"], disable_instance_discovery=True,
    )
    yield "workload_identity", lambda: WorkloadIdentityCredential(
        tenant_id=CFG["tenant"], client_id=CFG["client_id"], token_file_path=CFG["token_file"],
        authority=CFG["https"], disable_instance_discovery=True,
    )
    os.environ["IDENTITY_ENDPOINT"] = CFG["https"] + "/msi/token"
    os.environ["IDENTITY_HEADER"] = CFG["identity_header"]
    yield "app_service", lambda: ManagedIdentityCredential()
    del os.environ["IDENTITY_ENDPOINT"]
    del os.environ["IDENTITY_HEADER"]
    os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = CFG["http"]
    yield "imds", lambda: ManagedIdentityCredential()


out = {}
for label, make in creds():
    client = SecretClient(vault_url=CFG["https"], credential=make(), verify_challenge_resource=False)
    got = {}
    for name, version in CFG["reads"]:
        key = name if version is None else f"{name}/{version}"
        try:
            got[key] = client.get_secret(name, version).value
        except ResourceNotFoundError:
            got[key] = None
    out[label] = got
print(json.dumps(out))
