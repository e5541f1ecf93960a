"""A plain-HTTP fake of IAM Identity Center's portal API, which moto does not serve:
GetRoleCredentials, `GET /federation/credentials?role_name=R&account_id=A` with the header
`x-amz-sso_bearer_token`, answering `{"roleCredentials": {accessKeyId, secretAccessKey,
sessionToken, expiration (ms)}}` as the API reference documents. The aws tests prove it honest by
pointing botocore's own SSOProvider at it with the same profile and token cache.

Usage: fake_sso.py CONFIG_JSON
  {"token": "...", "role": "R", "account": "A",
   "creds": {"accessKeyId": ..., "secretAccessKey": ...}}

Prints "READY <port>", then one line per request:
  "REQ <path> token=<yes|wrong|no> role=<R> account=<A>" (never the token itself).
"""

import http.server
import json
import socketserver
import sys
import time
import urllib.parse
from events import emit

CFG = json.loads(sys.argv[1])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, error_type=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        got = self.headers.get("x-amz-sso_bearer_token")
        token = "no" if got is None else ("yes" if got == CFG["token"] else "wrong")
        role = q.get("role_name", [""])[0]
        account = q.get("account_id", [""])[0]
        emit(f"REQ {u.path} token={token} role={role} account={account}")
        if u.path != "/federation/credentials":
            return self.answer(404, {"message": "not found"}, "ResourceNotFoundException")
        if token != "yes":
            return self.answer(401, {"message": "Session token not found or invalid"}, "UnauthorizedException")
        if role != CFG["role"] or account != CFG["account"]:
            return self.answer(403, {"message": "No access"}, "ForbiddenException")
        c = CFG["creds"]
        self.answer(200, {"roleCredentials": {
            "accessKeyId": c["accessKeyId"],
            "secretAccessKey": c["secretAccessKey"],
            "sessionToken": c.get("sessionToken", "fake-session-token"),
            "expiration": int((time.time() + 3600) * 1000),
        }})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
emit(f"READY {srv.server_address[1]}")
srv.serve_forever()
