"""Admin calls against a moto server for the aws tests, through the real boto3 client.

argv: ENDPOINT. stdin: a JSON list of calls {"service", "method", "args", "as"}; "as" is
[access_key_id, secret_access_key] (default: moto's unchecked "testing" keys). An argument
{"b64": "..."} is passed as bytes. stdout: a JSON list of the results (bytes as {"b64": ...},
datetimes as text)."""
import base64
import datetime
import json
import sys

import boto3

endpoint = sys.argv[1]


def decode(v):
    if isinstance(v, dict):
        if set(v) == {"b64"}:
            return base64.b64decode(v["b64"])
        return {k: decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [decode(x) for x in v]
    return v


def encode(v):
    if isinstance(v, (bytes, bytearray)):
        return {"b64": base64.b64encode(v).decode()}
    if isinstance(v, dict):
        return {k: encode(x) for k, x in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [encode(x) for x in v]
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    return v


out = []
for call in json.load(sys.stdin):
    key, secret = call.get("as") or ["testing", "testing"]
    client = boto3.client(
        call["service"],
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )
    out.append(encode(getattr(client, call["method"])(**decode(call.get("args", {})))))
print(json.dumps(out))
