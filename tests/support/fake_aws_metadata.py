"""A scripted, plain-HTTP fake of the two AWS metadata endpoints, which no emulator provides:
the container credential endpoint (ECS task roles, EKS Pod Identity) and EC2 instance metadata
(IMDSv2), following their documented API. The aws tests prove it honest by pointing botocore's
own ContainerProvider and InstanceMetadataProvider at it with the same environment.

Usage: fake_aws_metadata.py CONFIG_JSON
  {"creds": {"AccessKeyId": ..., "SecretAccessKey": ..., "Token": ..., "Expiration": ...},
   "auth": "TOKEN" (the container endpoint's required Authorization header, or null),
   "role": "app-role"}

Routes:
  GET /creds                                       container: 401 unless Authorization == auth
  PUT /latest/api/token                            IMDSv2: 400 without
                                                   x-aws-ec2-metadata-token-ttl-seconds (1..21600)
  GET /latest/meta-data/iam/security-credentials/  the role's name; 401 without a valid token
  GET /latest/meta-data/iam/security-credentials/ROLE  the credentials with Code/Type/LastUpdated
A second listener accepts connections and never answers (a metadata address that times out).

It prints "READY <port> <hang_port>", then one line per request:
  "REQ <METHOD> <path> auth=<yes|no|wrong> token=<yes|no|wrong>" (never a header's value).
"""

import datetime
import http.server
import json
import secrets
import socket
import socketserver
import sys
import threading
import time
from events import emit

CFG = json.loads(sys.argv[1])
TOKENS = set()


def presence(value, expected):
    if value is None:
        return "no"
    return "yes" if expected is None or value == expected else "wrong"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self):
        auth = self.headers.get("Authorization")
        token = self.headers.get("x-aws-ec2-metadata-token")
        emit(
            f"REQ {self.command} {self.path} auth={presence(auth, CFG.get('auth'))} "
            f"token={'no' if token is None else ('yes' if token in TOKENS else 'wrong')}"
        )
        return auth, token

    def do_PUT(self):
        self.record()
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path != "/latest/api/token":
            return self.answer(404, "not found", "text/plain")
        ttl = self.headers.get("x-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.answer(400, "missing or invalid ttl", "text/plain")
        token = secrets.token_urlsafe(32)
        TOKENS.add(token)
        self.answer(200, token, "text/plain")

    def do_GET(self):
        auth, token = self.record()
        creds = CFG["creds"]
        if self.path == "/creds":
            if CFG.get("auth") is not None and auth != CFG["auth"]:
                return self.answer(401, json.dumps({"message": "unauthorized"}))
            return self.answer(200, json.dumps(creds))
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path.startswith(base):
            if token not in TOKENS:
                return self.answer(401, "", "text/plain")
            role = self.path[len(base):]
            if role == "":
                return self.answer(200, CFG["role"], "text/plain")
            if role != CFG["role"]:
                return self.answer(404, "not found", "text/plain")
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = {"Code": "Success", "LastUpdated": now, "Type": "AWS-HMAC", **creds}
            return self.answer(200, json.dumps(body))
        self.answer(404, "not found", "text/plain")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def hang(sock):
    held = []
    while True:
        conn, _ = sock.accept()
        held.append(conn)  # never answered; bounded by the test's own timeouts
        if len(held) > 64:
            held.pop(0).close()


main = Server(("127.0.0.1", 0), Handler)
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(16)
threading.Thread(target=hang, args=(silent,), daemon=True).start()
emit(f"READY {main.server_address[1]} {silent.getsockname()[1]}")
threading.Thread(target=main.serve_forever, daemon=True).start()
# Bounded life: a fake left behind by a killed test ends on its own.
time.sleep(600)
