"""A model that reads its whole configuration from one rendered JSON file.

Started as `ENTRYPOINT ["secret-init", "--", "python", "main.py"]`; MODEL_CONFIG overrides the
path (the tests point it into a sandbox)."""

import json
import os
import urllib.parse

CONFIG = os.environ.get("MODEL_CONFIG", "/secrets/model-config.json")


def masked(value: str) -> str:
    return value[:2] + "****" + value[-2:] if len(value) >= 10 else "****"


class Model:
    def load(self):
        with open(CONFIG, encoding="utf-8") as f:
            self.config = json.load(f)
        url = urllib.parse.urlsplit(self.config["database_url"])
        self.db = {"host": url.hostname, "port": url.port, "password": urllib.parse.unquote(url.password)}

    def predict(self, request: dict) -> dict:
        return {
            "input": request.get("text", ""),
            "hf_token": masked(self.config["hf_token"]),
            "hf_token_len": len(self.config["hf_token"]),
            "region": self.config["region"],
            "db_host": self.db["host"],
            "db_port": self.db["port"],
            "db_password": masked(self.db["password"]),
            "db_password_len": len(self.db["password"]),
        }


model = Model()
model.load()
print(json.dumps(model.predict({"text": "configured"})))
