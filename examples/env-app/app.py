"""A plain env-var app: it sees DATABASE_URL, STRIPE_API_KEY and LOG_LEVEL, and none of secret-init's inputs."""

import os

for key in ("DATABASE_URL", "STRIPE_API_KEY", "LOG_LEVEL"):
    value = os.environ.get(key, "")
    shown = value if key == "LOG_LEVEL" else (value[:2] + "****" + value[-2:] if len(value) >= 10 else "****")
    print(f"{key}={shown}")
leftover = [k for k in os.environ if k.startswith(("TRUSS_SECRET_", "SECRET_INIT_"))]
print(f"secret-init inputs visible to the app: {leftover}")
