"""Entry point: what `ENTRYPOINT ["secret-init", "--", "python", "main.py"]` starts."""

import json
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model.model import SECRETS_DIR, Model  # noqa: E402

model = Model()
model.load()
print(json.dumps(model.predict({"text": "secret-init works"}), indent=2))
for name in sorted(os.listdir(SECRETS_DIR)):
    st = os.stat(SECRETS_DIR / name)
    print(f"{SECRETS_DIR / name}: mode {stat.S_IMODE(st.st_mode):04o}")
print(f"pid {os.getpid()}")
