"""A fake of the AWS Secrets Manager and SSM Parameter Store calls secret-init makes, that
enforces the services' documented request quotas (quota.py): moto, the real local AWS, has no
throttling. Plain HTTP on 127.0.0.1; SigV4 is not checked (moto checks it in tests/aws.rs). Its
answers and its throttling are the JSON 1.1 protocol botocore reads: tests/fleet.rs points boto3
at it and sees the values, and `ThrottlingException` once over a quota.

  secretsmanager.GetSecretValue       {SecretId}            quota aws-get   (10,000/s)
  secretsmanager.BatchGetSecretValue  {SecretIdList}        quota aws-batch (100/s)
  AmazonSSM.GetParameter              {Name}                quota aws-ssm   (40/s, shared)
  AmazonSSM.GetParameters             {Names}               quota aws-ssm

Over a quota: HTTP 400 {"__type": "ThrottlingException", "message": "Rate exceeded"}.

Usage: fake_aws.py CONFIG_JSON (or a file holding it)
  {"secrets": {NAME: VALUE}, "parameters": {NAME: VALUE},
   "deny_batch": false        BatchGetSecretValue refused (AccessDeniedException): one by one,
   "quota": {...} or "off"}   see quota.quotas
Prints "READY <port>", then one line per request: "REQ <action> <outcome> t=<ms>" (outcome ok,
missing, denied or throttled; t: CLOCK_MONOTONIC in ms), never a value.
"""

import http.server
import json
import os
import socketserver
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quota import quotas  # noqa: E402
from events import emit  # noqa: E402

CFG = json.loads(sys.argv[1]) if sys.argv[1].startswith("{") else json.load(open(sys.argv[1]))
QUOTAS = quotas(CFG)
LOCK = threading.Lock()
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


def secret(name):
    v = CFG.get("secrets", {}).get(name)
    if v is None:
        return None
    return {"ARN": f"{ARN}{name}-AbCdEf", "Name": name, "SecretString": v,
            "VersionId": "00000000-0000-4000-8000-000000000001", "VersionStages": ["AWSCURRENT"],
            "CreatedDate": 1700000000.0}


def parameter(name):
    v = CFG.get("parameters", {}).get(name)
    if v is None:
        return None
    return {"Name": name, "Type": "SecureString", "Value": v, "Version": 1,
            "ARN": f"arn:aws:ssm:us-east-1:123456789012:parameter/{name.lstrip('/')}",
            "DataType": "text", "LastModifiedDate": 1700000000.0}


ACTIONS = {
    "secretsmanager.GetSecretValue": "aws-get",
    "secretsmanager.BatchGetSecretValue": "aws-batch",
    "AmazonSSM.GetParameter": "aws-ssm",
    "AmazonSSM.GetParameters": "aws-ssm",
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and the client's delayed ACK
    # hold every answer after a connection's first for 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def answer(self, status, obj, action, outcome):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
        self.end_headers()
        self.wfile.write(body)
        emit(f"REQ {action.split('.')[-1]} {outcome} t={time.monotonic() * 1000:.1f}")

    def error(self, status, code, message, action, outcome):
        self.answer(status, {"__type": code, "message": message}, action, outcome)

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        action = self.headers.get("X-Amz-Target", "")
        if action not in ACTIONS:
            return self.error(400, "UnknownOperationException", "unknown operation", action or "-", "unknown")
        if action.endswith("BatchGetSecretValue") and CFG.get("deny_batch"):
            return self.error(400, "AccessDeniedException", "not authorized to perform: "
                              "secretsmanager:BatchGetSecretValue", action, "denied")
        q = QUOTAS.get(ACTIONS[action])
        if q is not None and not q.admit()[0]:
            return self.error(400, "ThrottlingException", "Rate exceeded", action, "throttled")
        if action.endswith("GetSecretValue") and not action.endswith("BatchGetSecretValue"):
            s = secret(req.get("SecretId", ""))
            if s is None:
                return self.error(400, "ResourceNotFoundException",
                                  "Secrets Manager can't find the specified secret.", action, "missing")
            return self.answer(200, s, action, "ok")
        if action.endswith("BatchGetSecretValue"):
            values, errors = [], []
            for i in req.get("SecretIdList", []):
                s = secret(i)
                if s is None:
                    errors.append({"SecretId": i, "ErrorCode": "ResourceNotFoundException",
                                   "Message": "Secrets Manager can't find the specified secret."})
                else:
                    values.append(s)
            return self.answer(200, {"SecretValues": values, "Errors": errors}, action, "ok")
        if action.endswith("GetParameter"):
            p = parameter(req.get("Name", ""))
            if p is None:
                return self.error(400, "ParameterNotFound", "", action, "missing")
            return self.answer(200, {"Parameter": p}, action, "ok")
        names = req.get("Names", [])
        found = [p for p in map(parameter, names) if p is not None]
        missing = [n for n in names if parameter(n) is None]
        return self.answer(200, {"Parameters": found, "InvalidParameters": missing}, action, "ok")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a fleet connects at once


srv = Server(("127.0.0.1", 0), Handler)
emit(f"READY {srv.server_address[1]}")
threading.Thread(target=srv.serve_forever, daemon=True).start()
# Bounded life: whoever started it stops it by PID; never outlive a stuck run by much.
time.sleep(float(CFG.get("life", 900)))
