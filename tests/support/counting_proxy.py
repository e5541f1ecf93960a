"""A counting HTTP proxy on 127.0.0.1 in front of a moto server, so tests can assert how many
requests of each AWS action secret-init sent. It forwards every request unchanged (headers,
Host included, so moto's SigV4 check still sees what was signed) and the answer back unchanged.

Usage: counting_proxy.py UPSTREAM_URL
Prints "READY <port>", then per request "REQ <X-Amz-Target> <body as canonical JSON>" (request
bodies name secrets and parameters; they never carry values).
"""

import http.client
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse
from events import emit

UP = urllib.parse.urlsplit(sys.argv[1])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            shown = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
        except ValueError:
            shown = "-"
        emit(f"REQ {self.headers.get('X-Amz-Target', '-')} {shown}")
        conn = http.client.HTTPConnection(UP.hostname, UP.port, timeout=30)
        conn.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in ("connection", "keep-alive"):
                conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
emit(f"READY {server.server_address[1]}")
threading.Thread(target=server.serve_forever, daemon=True).start()
# Bounded life: a proxy left behind by a killed test ends on its own.
time.sleep(600)
