"""A wheel that installs one release binary as `secret-init` on PATH.

    python3 wheel.py BINARY ARCH VERSION LICENSE README OUT_DIR

The binary goes in as is, under `secret_init-VERSION.data/scripts/`, which pip installs into
the environment's bin directory (how dumb-init's wheel ships its binary). Written here with
zipfile rather than by a build backend, so the file inside is byte-for-byte dist's binary (a
backend would build its own) and the wheel is reproducible: entries sorted, every timestamp
SOURCE_DATE_EPOCH, fixed permissions. The binary is static, so one wheel per architecture is
tagged manylinux (glibc: pip on Debian-based images refuses a musllinux-only wheel) and
musllinux (Alpine) both; `py3-none`: no Python code or ABI.
"""

import base64
import hashlib
import os
import sys
import time
import zipfile


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main():
    binary, arch, version, license_file, readme, out_dir = sys.argv[1:7]
    tag = f"py3-none-manylinux_2_17_{arch}.manylinux2014_{arch}.musllinux_1_1_{arch}"
    dist_info = f"secret_init-{version}.dist-info"
    metadata = (
        "Metadata-Version: 2.4\n"
        "Name: secret-init\n"
        f"Version: {version}\n"
        "Summary: Resolve a container's declared secrets, deliver them safely, then exec or "
        "supervise the real program (a static binary)\n"
        "License-Expression: Apache-2.0\n"
        "License-File: LICENSE\n"
        "Requires-Python: >=3.7\n"
        "Description-Content-Type: text/markdown\n"
        "\n"
        + open(readme).read()
    )
    wheel = (
        "Wheel-Version: 1.0\n"
        "Generator: secret-init scripts/release\n"
        "Root-Is-Purelib: false\n"
        + "".join(f"Tag: py3-none-{p}\n" for p in tag.split("-")[2].split("."))
    )
    files = {
        f"secret_init-{version}.data/scripts/secret-init": (open(binary, "rb").read(), 0o755),
        f"{dist_info}/METADATA": (metadata.encode(), 0o644),
        f"{dist_info}/WHEEL": (wheel.encode(), 0o644),
        f"{dist_info}/licenses/LICENSE": (open(license_file, "rb").read(), 0o644),
    }
    record_name = f"{dist_info}/RECORD"
    record = "".join(record_line(n, d) + "\n" for n, (d, _) in sorted(files.items()))
    record += f"{record_name},,\n"
    files[record_name] = (record.encode(), 0o644)
    stamp = time.gmtime(max(int(os.environ["SOURCE_DATE_EPOCH"]), 315532800))[:6]
    out = os.path.join(out_dir, f"secret_init-{version}-{tag}.whl")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        # RECORD last, as the wheel spec recommends; the rest sorted.
        for name in sorted(files, key=lambda n: (n == record_name, n)):
            data, mode = files[name]
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data, compresslevel=9)
    print(out)


main()
