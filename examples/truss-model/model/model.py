"""A Truss-style model that reads its secrets the way Truss serves them: /secrets/<name>."""

import os
from pathlib import Path

SECRETS_DIR = Path(os.environ.get("TRUSS_SECRETS_DIR", "/secrets"))


def _secret(name: str) -> str:
    # Truss reads the mounted file raw; secret-init writes it byte-exact, mode 0600.
    return (SECRETS_DIR / name).read_text()


def _masked(value: str) -> str:
    return value[:2] + "****" + value[-2:] if len(value) >= 10 else "****"


class Model:
    def __init__(self, **kwargs):
        self._hf_token = None

    def load(self):
        self._hf_token = _secret("hf_access_token")
        self._region = _secret("aws_region")

    def predict(self, request: dict) -> dict:
        return {
            "input": request.get("text", ""),
            "hf_token_seen": _masked(self._hf_token),
            "openai_key_in_env": _masked(os.environ.get("OPENAI_API_KEY", "")),
            "region": self._region,
            "secret_init_inputs_left_in_env": sorted(
                k for k in os.environ if k.startswith(("TRUSS_SECRET_", "SECRET_INIT_"))
            ),
        }
