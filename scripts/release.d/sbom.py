"""A CycloneDX 1.6 SBOM (JSON) of one release binary, made from the dependency list embedded in it.

    python3 sbom.py BINARY TARGET METADATA.json OUT.cdx.json

cargo auditable embeds the crates compiled into the binary as a zlib-compressed JSON section,
`.dep-v0`. Reading the SBOM's crate set back out of the binary (not out of Cargo.lock) makes the
SBOM and what scanners see in the binary the same list by construction. Build-time crates (build
scripts' dependencies: `"kind": "build"`) are listed with scope "excluded": they ran on the build
machine and none of their code is in the binary. METADATA.json is `cargo metadata`'s output, for
each crate's declared license. Every value is a function of the binary and the commit, so the
same binary gives the same bytes (the timestamp is SOURCE_DATE_EPOCH, the serial number is
derived from the binary's SHA-256).
"""

import datetime
import hashlib
import json
import os
import struct
import sys
import uuid
import zlib


def elf_section(data, wanted):
    """The bytes of the section named `wanted` of a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit("sbom: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i):
        name, _type, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        return name, off, size

    _, str_off, _ = header(shstrndx)
    for i in range(shnum):
        name, off, size = header(i)
        end = data.index(b"\0", str_off + name)
        if data[str_off + name:end].decode() == wanted:
            return data[off:off + size]
    raise SystemExit(f"sbom: no {wanted} section (was it built with cargo auditable?)")


def purl(name, version):
    return f"pkg:cargo/{name}@{version}"


def main():
    binary, target, metadata, out = sys.argv[1:5]
    data = open(binary, "rb").read()
    deps = json.loads(zlib.decompress(elf_section(data, ".dep-v0")))
    licenses = {(p["name"], p["version"]): p.get("license") for p in json.load(open(metadata))["packages"]}
    packages = deps["packages"]
    root = next(p for p in packages if p.get("root"))
    digest = hashlib.sha256(data).hexdigest()
    epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def component(p, kind):
        c = {
            "type": kind,
            "bom-ref": purl(p["name"], p["version"]),
            "name": p["name"],
            "version": p["version"],
            "purl": purl(p["name"], p["version"]),
        }
        if p is not root:
            c["scope"] = "excluded" if p.get("kind") == "build" else "required"
        lic = licenses.get((p["name"], p["version"]))
        if lic:
            c["licenses"] = [{"expression": lic}]
        return c

    main_component = component(root, "application")
    main_component["hashes"] = [{"alg": "SHA-256", "content": digest}]
    main_component["properties"] = [{"name": "cargo:target", "value": target}]
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": uuid.UUID(bytes=bytes.fromhex(digest)[:16], version=4).urn,
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {"components": [{"type": "application", "name": "secret-init scripts/release"}]},
            "component": main_component,
        },
        "components": [component(p, "library") for p in packages if p is not root],
        "dependencies": [
            {
                "ref": purl(p["name"], p["version"]),
                "dependsOn": sorted({purl(packages[i]["name"], packages[i]["version"]) for i in p.get("dependencies", [])}),
            }
            for p in packages
        ],
    }
    with open(out, "w") as f:
        json.dump(bom, f, indent=2, sort_keys=True)
        f.write("\n")


main()
