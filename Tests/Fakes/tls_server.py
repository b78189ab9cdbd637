#!/usr/bin/env python3
"""A loopback HTTPS server for the TLS tests (Python standard library only).

    python3 Tests/Fakes/tls_server.py --cert server.pem --key server.key [--tls 1.1] [--forward PORT]

Binds 127.0.0.1 on an ephemeral port and prints one line, `TLS_SERVER_PORT=<n> OFFERS=<versions>`,
where <versions> is what a handshake with itself actually negotiated (`1.1` only when this OpenSSL
can still offer TLS 1.1; `none` when it cannot). `--tls 1.1` limits the server to TLS 1.1; the
default is TLS 1.2 and later. Every request is answered `200 tls-ok`, or, with `--forward`, passed
unchanged to http://127.0.0.1:PORT and its answer relayed (TLS in front of fake_aws.py).
Exits when its standard input closes (the test process went away) or on SIGTERM.
"""

import argparse
import http.client
import http.server
import socket
import ssl
import sys
import threading
import warnings

# TLS 1.1 is deprecated: that is the point of offering it here.
warnings.filterwarnings("ignore", category=DeprecationWarning)

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def server_context(cert, key, tls):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if tls == "1.1":
        # OpenSSL 3 refuses TLS 1.1 at the default security level (and Debian's system policy
        # raises the floor to 1.2): ask for level 0 explicitly; this may still be impossible.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def negotiated(port, tls):
    """The version a handshake with ourselves gets, or None."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    if tls == "1.1":
        client.set_ciphers("DEFAULT:@SECLEVEL=0")
        client.minimum_version = ssl.TLSVersion.TLSv1_1
        client.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client.wrap_socket(raw) as tls_socket:
                return tls_socket.version()
    except (OSError, ssl.SSLError):
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    forward_port = None

    def log_message(self, fmt, *args):
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (OSError, ssl.SSLError):
            self.close_connection = True

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.forward_port is None:
            status, headers, payload = 200, [("Content-Type", "text/plain")], b"tls-ok"
        else:
            upstream = http.client.HTTPConnection("127.0.0.1", self.forward_port, timeout=60)
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders(body)
            response = upstream.getresponse()
            status, payload = response.status, response.read()
            headers = [(n, v) for n, v in response.getheaders()
                       if n.lower() not in HOP_BY_HOP and n.lower() != "content-length"]
            upstream.close()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = answer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--tls", choices=("1.1", "1.2+"), default="1.2+")
    parser.add_argument("--forward", type=int)
    args = parser.parse_args()

    Handler.forward_port = args.forward
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # Handshake in the handler threads, not in accept: a failed handshake must not stop the server.
    context = server_context(args.cert, args.key, args.tls)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    version = negotiated(port, args.tls)
    offers = {"TLSv1.1": "1.1", "TLSv1.2": "1.2", "TLSv1.3": "1.3"}.get(version, "none")
    print(f"TLS_SERVER_PORT={port} OFFERS={offers}", flush=True)
    try:
        sys.stdin.read()  # until the test closes the pipe or exits
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
