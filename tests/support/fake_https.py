"""A scripted HTTPS server for faults a real OpenBao cannot be made to produce on demand:
503s then 200, 429 with Retry-After, a redirect to a second listener, a huge or endless body,
a server that never answers, a certificate for another host name.

Usage: fake_https.py CONFIG_JSON
  {"dir": DIR, "sans": ["127.0.0.1"] (IPs or DNS names), "scenario": [RESPONSE, ...],
   "rsa": false (RSA-2048 keys instead of P-256), "tls12_only": false}
RESPONSE (one per request on the main listener, the last one repeating):
  {"status": 200, "headers": {...}, "json": {...}} or {"body": "text"}
  {"huge": N}        a Content-Length N body of zeros
  {"endless": true}  a chunked body that never ends (bounded at 120 s)
  {"hang": true}     read the request, never answer (bounded at 120 s)
  {"reset": true}    read the request, then reset the connection (TCP RST, no answer)
"{second}" in header values is replaced by the second listener's port (a redirect target).

It writes DIR/ca.pem, prints "READY <port> <second_port>", then one line per event:
  "CONN <listener> <n>" after each completed TLS handshake,
  "REQ <listener> <n> <METHOD> <path> token=<yes|no> t=<ms>" for each request (never the token
  itself; t: when it arrived, CLOCK_MONOTONIC in ms).
"""

import datetime
import http.server
import ipaddress
import json
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from events import emit

LOCK = threading.Lock()
COUNTER = [0]
STATE = {"index": 0}


def new_key(use_rsa):
    if use_rsa:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def make_certs(d, sans, use_rsa):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = new_key(use_rsa)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secret-init test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = new_key(use_rsa)
    names = []
    for s in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(s)))
        except ValueError:
            names.append(x509.DNSName(s))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sans[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    with open(os.path.join(d, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(d, "cert.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(d, "key.pem"), "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def handler_for(name, scenario, second_port):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            with LOCK:
                COUNTER[0] += 1
                self.conn_id = COUNTER[0]
            emit(f"CONN {name} {self.conn_id}")

        def log_message(self, *args):
            pass

        def serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            token = "yes" if self.headers.get("X-Vault-Token") else "no"
            emit(f"REQ {name} {self.conn_id} {self.command} {self.path} token={token} t={time.monotonic() * 1000:.1f}")
            if name != "main":
                self.reply({"status": 200, "json": {"data": {}}})
                return
            with LOCK:
                i = min(STATE["index"], len(scenario) - 1)
                STATE["index"] += 1
            self.reply(scenario[i])

        def reply(self, r):
            if r.get("hang"):
                time.sleep(120)
                return
            if r.get("reset"):
                # SO_LINGER 0: close() sends RST instead of FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True
                return
            self.send_response(r.get("status", 200))
            for k, v in r.get("headers", {}).items():
                self.send_header(k, v.replace("{second}", str(second_port)))
            if r.get("endless"):
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"x" * 65536
                end = time.time() + 120
                try:
                    while time.time() < end:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:
                    pass
                self.close_connection = True
                return
            if "huge" in r:
                n = r["huge"]
                self.send_header("Content-Length", str(n))
                self.end_headers()
                block = b"0" * 65536
                try:
                    while n > 0:
                        self.wfile.write(block[: min(n, len(block))])
                        n -= len(block)
                except OSError:
                    pass
                self.close_connection = True
                return
            if "json" in r:
                body = json.dumps(r["json"]).encode()
                self.send_header("Content-Type", "application/json")
            else:
                body = r.get("body", "").encode()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = serve
        do_POST = serve
        do_PUT = serve

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # failed handshakes (wrong CA, wrong name) are expected in these tests


def main():
    cfg = json.loads(sys.argv[1])
    d = cfg["dir"]
    make_certs(d, cfg.get("sans", ["127.0.0.1"]), cfg.get("rsa", False))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if cfg.get("tls12_only"):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
    second = Server(("127.0.0.1", 0), None)
    second_port = second.server_address[1]
    second.RequestHandlerClass = handler_for("second", [], second_port)
    main_srv = Server(("127.0.0.1", 0), handler_for("main", cfg["scenario"], second_port))
    for s in (main_srv, second):
        s.socket = ctx.wrap_socket(s.socket, server_side=True)
        threading.Thread(target=s.serve_forever, daemon=True).start()
    emit(f"READY {main_srv.server_address[1]} {second_port}")
    # Bounded life: the test stops us by PID long before this.
    time.sleep(600)


if __name__ == "__main__":
    main()
