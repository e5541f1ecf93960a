"""Checks examples/kubernetes/*.yaml with the kubernetes Python client's models.

Every document must deserialize into its model and serialize back to exactly what was written
(so a misspelt or misplaced field, which the client would silently drop, fails), and the
Deployment must be wired the way the docs say: an in-memory emptyDir at /secrets, a Secret
volume among the secrets dirs, Vault's kubernetes auth bound to the pod's service account, and
only SECRET_INIT_* variables the options table (docs/options.md) documents.
Usage: check_kubernetes.py EXAMPLE_DIR OPTIONS_DOC; prints "ok N documents" on success.
"""
import pathlib
import re
import sys

import yaml
from kubernetes import client

MODELS = {
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("apps/v1", "Deployment"): "V1Deployment",
}


def model(doc):
    name = MODELS[(doc["apiVersion"], doc["kind"])]
    api = client.ApiClient()
    obj = api._ApiClient__deserialize(doc, name)
    back = api.sanitize_for_serialization(obj)
    assert back == doc, f"{doc['kind']} does not round-trip:\n{back}\n!=\n{doc}"
    return obj


def main():
    docs = []
    for path in sorted(pathlib.Path(sys.argv[1]).glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    objs = [model(d) for d in docs]
    documented = set(re.findall(r"`(SECRET_INIT_[A-Z_]+)`", pathlib.Path(sys.argv[2]).read_text()))
    deployments = [o for o in objs if isinstance(o, client.V1Deployment)]
    assert deployments, "no Deployment"
    for dep in deployments:
        pod = dep.spec.template.spec
        accounts = {o.metadata.name for o in objs if isinstance(o, client.V1ServiceAccount)}
        assert pod.service_account_name in accounts, pod.service_account_name
        volumes = {v.name: v for v in pod.volumes}
        (c,) = pod.containers
        mounts = {m.mount_path: m for m in c.volume_mounts}
        out = volumes[mounts["/secrets"].name]
        assert out.empty_dir is not None and out.empty_dir.medium == "Memory", out
        secret_mounts = [p for p, m in mounts.items() if volumes[m.name].secret is not None]
        assert secret_mounts and all(mounts[p].read_only for p in secret_mounts), secret_mounts
        assert c.command[0] == "/usr/local/bin/secret-init", c.command
        cfg_path = c.command[c.command.index("--config") + 1]
        cfg_mount = next(p for p in mounts if cfg_path.startswith(p + "/"))
        cfg_map = volumes[mounts[cfg_mount].name].config_map.name
        (cm,) = [o for o in objs if isinstance(o, client.V1ConfigMap) and o.metadata.name == cfg_map]
        cfg = yaml.safe_load(cm.data[cfg_path.rsplit("/", 1)[1]])
        si = cfg["secret_init"]
        assert set(secret_mounts) <= set(si["secrets_dirs"]), (secret_mounts, si["secrets_dirs"])
        auth = si["vault"]["auth"]
        assert auth == {"method": "kubernetes", "role": pod.service_account_name}, auth
        for e in c.env or []:
            if e.name.startswith("SECRET_INIT_"):
                assert e.name in documented, f"{e.name} is not in the options table"
    print(f"ok {len(objs)} documents")


main()
