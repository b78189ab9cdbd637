#!/usr/bin/env python3
"""Fake AWS services for appconfig-agent's end-to-end tests (Python 3.11 standard library only).

    python3 Tests/Fakes/fake_aws.py --port 0 [--region us-east-1] [--access-key AKIDFAKE]
                                    [--secret-key fake-secret-key] [--verbose] [--no-parent-watch]

Binds 127.0.0.1 only, prints exactly one line `FAKE_AWS_PORT=<n>` on stdout, then serves until
SIGTERM/SIGINT (exit 0 at once) or until its parent process goes away. One port serves:

- AppConfig Data (SigV4 service `appconfig`): POST /configurationsessions, GET /configuration
- STS (POST / with a form body): AssumeRole (SigV4 service `sts`), AssumeRoleWithWebIdentity (unsigned)
- container credentials: GET /container-credentials/<anything>
- EC2 IMDSv2: PUT /latest/api/token, GET /latest/meta-data/...
- the test-only admin API under /_admin/ (never signed, never recorded)

Every request except admin ones is recorded (GET /_admin/calls); `Handler.admin` holds every admin
route. Tests: python3 -m unittest discover -s Tests/Fakes
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit
from xml.sax.saxutils import escape as xml_escape

ION_FLAGS_TYPE = "application/ion;type=AWS.AppConfig.FeatureFlags"

DEFAULT_ACCESS_KEY = "AKIDFAKE"
DEFAULT_SECRET_KEY = "fake-secret-key"
ACCOUNT_ID = "123456789012"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
CORAL_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.coral.service/"
MAX_BODY = 16 * 1024 * 1024
SOCKET_TIMEOUT = 60  # every read and write on a client socket is bounded by this
FORBIDDEN_SIGNED = ("user-agent", "accept", "expect")
TOKEN_LIFETIME = 24 * 3600  # AppConfig configuration tokens are good for 24 hours
STRICT_INTERVAL_TOLERANCE = 0.25  # seconds; see the strict_interval check in Handler.appconfig

# --------------------------------------------------------------------------------------------
# SigV4, written from the specification with hashlib/hmac (checked against the vectors in
# Tests/Fakes/vectors by test_fake_aws.py).

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def uri_encode(value):
    """SigV4 URI encoding: every byte except A-Z a-z 0-9 - _ . ~ becomes %XX (upper-case hex)."""
    return "".join(chr(b) if b in _UNRESERVED else "%%%02X" % b for b in value.encode("utf-8"))


def canonical_uri(raw_path):
    """The path as received on the wire, each segment URI-encoded (again), as AWS does for non-S3."""
    if not raw_path:
        return "/"
    return "/".join(uri_encode(segment) for segment in raw_path.split("/"))


def canonical_query(raw_query):
    """Names and values decoded (a raw `+` is a space, as AWS reads it), SigV4-encoded, sorted."""
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((uri_encode(unquote_plus(name)), uri_encode(unquote_plus(value))))
    pairs.sort()
    return "&".join(f"{n}={v}" for n, v in pairs)


def canonical_request(method, raw_path, raw_query, headers, signed_headers, body):
    """headers: lower-case name -> list of values; signed_headers: list of lower-case names."""
    lines = [method.upper(), canonical_uri(raw_path), canonical_query(raw_query)]
    for name in signed_headers:
        values = headers.get(name, [])
        lines.append(name + ":" + ",".join(" ".join(v.split()) for v in values))
    lines.append("")
    lines.append(";".join(signed_headers))
    lines.append(hashlib.sha256(body).hexdigest())
    return "\n".join(lines)


def string_to_sign(amz_date, scope, creq):
    return "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                      hashlib.sha256(creq.encode("utf-8")).hexdigest()])


def signing_key(secret, date, region, service):
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def compute_signature(secret, method, raw_path, raw_query, headers, signed_headers, body,
                      amz_date, region, service):
    """Returns (canonical request, string to sign, hex signature)."""
    creq = canonical_request(method, raw_path, raw_query, headers, signed_headers, body)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    sts = string_to_sign(amz_date, scope, creq)
    sig = hmac.new(signing_key(secret, amz_date[:8], region, service), sts.encode("utf-8"),
                   hashlib.sha256).hexdigest()
    return creq, sts, sig


def sign_request(method, raw_path, raw_query, headers, body, *, access_key, secret_key, region,
                 service, amz_date=None, session_token=None, signed_headers=None):
    """Client-side helper for the tests: returns a copy of `headers` (name -> value, must hold
    Host) with X-Amz-Date, X-Amz-Security-Token (when given) and Authorization added. By default
    every header passed in is signed; `signed_headers` overrides the list (for negative tests)."""
    out = dict(headers)
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out["X-Amz-Date"] = amz_date
    if session_token is not None:
        out["X-Amz-Security-Token"] = session_token
    lower = {}
    for k, v in out.items():
        lower.setdefault(k.lower(), []).append(v)
    names = sorted(signed_headers if signed_headers is not None else lower)
    _, _, sig = compute_signature(secret_key, method, raw_path, raw_query, lower, names, body,
                                  amz_date, region, service)
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{amz_date[:8]}/{region}/"
                            f"{service}/aws4_request, SignedHeaders={';'.join(names)}, Signature={sig}")
    return out


class SigCheck:
    """Outcome of verify_sigv4: ok, error_type (AWS exception name), message, access_key,
    signed_headers, credential (the looked-up credential dict when known)."""

    def __init__(self, ok, error_type=None, message="", access_key=None, signed_headers=None,
                 credential=None):
        self.ok, self.error_type, self.message = ok, error_type, message
        self.access_key, self.signed_headers, self.credential = access_key, signed_headers, credential


def verify_sigv4(method, raw_path, raw_query, headers, body, *, service, regions, lookup, now,
                 max_skew=900):
    """Verifies a SigV4 Authorization header. headers: lower-case name -> list of values;
    lookup(access_key) -> {"secret_key", "session_token", "expires"} or None; now: unix time."""
    def fail(kind, message, **kw):
        return SigCheck(False, kind, message, **kw)

    auth = headers.get("authorization")
    if not auth:
        return fail("MissingAuthenticationTokenException", "Missing Authentication Token")
    if len(auth) != 1:
        return fail("IncompleteSignatureException", "More than one Authorization header")
    m = re.fullmatch(r"AWS4-HMAC-SHA256 +(.*)", auth[0].strip(), re.S)
    if not m:
        return fail("IncompleteSignatureException", "Authorization header must start with "
                    "'AWS4-HMAC-SHA256 '")
    parts = {}
    for item in m.group(1).split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or key in parts:
            return fail("IncompleteSignatureException", f"Malformed Authorization component '{item.strip()}'")
        parts[key] = value
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        return fail("IncompleteSignatureException", "Authorization header requires exactly the "
                    "'Credential', 'SignedHeaders' and 'Signature' parameters")
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or not scope[0]:
        return fail("IncompleteSignatureException", "Credential must be <key>/<date>/<region>/<service>/aws4_request")
    access_key, scope_date, scope_region, scope_service, terminator = scope
    signed = parts["SignedHeaders"].split(";")
    kw = {"access_key": access_key, "signed_headers": signed}

    dates = headers.get("x-amz-date")
    if not dates or len(dates) != 1:
        return fail("IncompleteSignatureException", "Authorization requires one X-Amz-Date header", **kw)
    amz_date = dates[0].strip()
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return fail("IncompleteSignatureException", f"X-Amz-Date '{amz_date}' is not YYYYMMDD'T'HHMMSS'Z'", **kw)
    if scope_date != amz_date[:8]:
        return fail("InvalidSignatureException", f"Date in Credential scope '{scope_date}' does not "
                    f"match YYYYMMDD from X-Amz-Date '{amz_date}'", **kw)
    if scope_region not in regions:
        return fail("InvalidSignatureException", f"Credential should be scoped to a valid region, "
                    f"not '{scope_region}' (expected {' or '.join(sorted(regions))})", **kw)
    if scope_service != service:
        return fail("InvalidSignatureException", f"Credential should be scoped to correct service: "
                    f"'{service}', not '{scope_service}'", **kw)
    if terminator != "aws4_request":
        return fail("InvalidSignatureException", "Credential should be scoped with a valid "
                    f"terminator: 'aws4_request', not '{terminator}'", **kw)
    if any(not h or h != h.lower() for h in signed) or signed != sorted(set(signed)):
        return fail("InvalidSignatureException", "SignedHeaders must be lower-case, sorted, unique "
                    f"and non-empty: '{parts['SignedHeaders']}'", **kw)
    for needed in ("host", "x-amz-date") + (("x-amz-security-token",) if "x-amz-security-token" in headers else ()):
        if needed not in signed:
            return fail("InvalidSignatureException", f"'{needed}' must be a signed header", **kw)
    for banned in FORBIDDEN_SIGNED:
        if banned in signed:
            return fail("InvalidSignatureException", f"'{banned}' must not be a signed header "
                        "(a proxy may change it)", **kw)
    for name in signed:
        if name not in headers:
            return fail("InvalidSignatureException", f"Signed header '{name}' is not in the request", **kw)
    if abs(now - when) > max_skew:
        return fail("InvalidSignatureException", f"Signature expired or not yet current: "
                    f"X-Amz-Date {amz_date} is more than {max_skew}s from the server's time "
                    f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}", **kw)

    cred = lookup(access_key)
    if cred is None:
        return fail("UnrecognizedClientException", "The security token included in the request is "
                    "invalid. (unknown access key)", **kw)
    kw["credential"] = cred
    sent_token = headers.get("x-amz-security-token", [None])[-1]
    if (cred.get("session_token") or None) != sent_token:
        return fail("UnrecognizedClientException", "The security token included in the request is "
                    "invalid. (session token missing or not the one issued with this key)", **kw)
    if cred.get("expires") is not None and now >= cred["expires"]:
        return fail("ExpiredTokenException", "The security token included in the request is expired", **kw)
    creq, sts, expected = compute_signature(cred["secret_key"], method, raw_path, raw_query, headers,
                                            signed, body, amz_date, scope_region, service)
    if not hmac.compare_digest(expected, parts["Signature"]):
        return fail("InvalidSignatureException", "The request signature we calculated does not match "
                    "the signature you provided. Check your AWS Secret Access Key and signing method. "
                    f"The Canonical String for this request should have been\n'{creq}'\n\n"
                    f"The String-to-Sign should have been\n'{sts}'\n", **kw)
    return SigCheck(True, **kw)


# --------------------------------------------------------------------------------------------
# Small helpers.

def iso8601(ts, fractional=False):
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    if fractional:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_config_token():
    """Random base64 with `+`, `/` and `=` in it, so clients must percent-encode it."""
    while True:
        token = base64.b64encode(secrets.token_bytes(31)).decode()
        if "+" in token and "/" in token:
            return token


def new_request_id():
    return str(uuid.uuid4())


class Response:
    def __init__(self, status, body=b"", content_type=None, headers=None, error_type=None):
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.headers = ([("Content-Type", content_type)] if content_type else []) + list(headers or [])
        self.error_type = error_type
        self.truncate = False
        self.drop = False


def json_response(status, obj, headers=None):
    return Response(status, json.dumps(obj), "application/json", headers)


def aws_error(status, error_type, body, coral=False):
    """rest-json error: type in x-amzn-ErrorType (with the coral suffix AWS adds to its
    authentication errors, so clients must cut at ':'), JSON body."""
    header = error_type + (CORAL_SUFFIX if coral else "")
    return Response(status, json.dumps(body), "application/json",
                    [("x-amzn-ErrorType", header), ("x-amzn-RequestId", new_request_id())], error_type)


def token_problem(problem, message):
    return aws_error(400, "BadRequestException", {
        "Message": message, "Reason": "InvalidParameters",
        "Details": {"InvalidParameters": {"ConfigurationToken": {"Problem": problem}}}})


def sts_error(status, code, message, sender=True):
    rid = new_request_id()
    xml = (f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>{"Sender" if sender else "Receiver"}</Type>'
           f"<Code>{xml_escape(code)}</Code><Message>{xml_escape(message)}</Message></Error>"
           f"<RequestId>{rid}</RequestId></ErrorResponse>")
    return Response(status, xml, "text/xml", [("x-amzn-RequestId", rid)], code)


STS_AUTH_CODES = {"InvalidSignatureException": "SignatureDoesNotMatch",
                  "UnrecognizedClientException": "InvalidClientTokenId",
                  "IncompleteSignatureException": "IncompleteSignature",
                  "MissingAuthenticationTokenException": "MissingAuthenticationToken",
                  "ExpiredTokenException": "ExpiredToken"}
STATUS_ERROR_TYPES = {400: "BadRequestException", 403: "AccessDeniedException",
                      404: "ResourceNotFoundException", 429: "ThrottlingException",
                      500: "InternalServerException", 503: "ServiceUnavailableException"}
FAULT_KINDS = ("throttle", "status", "slow", "drop", "truncate", "expire_tokens", "not_found",
               "access_denied", "rewrite")
# Pass-through kinds change the answer (or its timing) instead of replacing it. `rewrite` sets the
# answer's headers from "headers" ({name: value}, null removes the header) and its body from "body".
PASS_THROUGH_KINDS = ("slow", "truncate", "expire_tokens", "rewrite")
FAULT_MATCH_KEYS = ("path", "method", "service", "app", "env", "profile", "action")
SETTING_KEYS = ("region", "credentials", "add_credentials", "next_poll_interval", "strict_interval",
                "web_identity_token", "container_token", "denied_roles", "role_external_ids",
                "max_session_duration", "credentials_ttl", "fractional_expiration", "imds_role",
                "max_skew_seconds")


def fault_response(service, fault):
    kind, message = fault["kind"], fault.get("message")
    status = {"throttle": 429, "not_found": 404, "access_denied": 403}.get(kind, fault.get("status", 500))
    if service == "sts":
        code = fault.get("error_type") or {"throttle": "Throttling", "access_denied": "AccessDenied",
                                           "not_found": "NoSuchEntity"}.get(kind) or \
            ("InternalFailure" if status >= 500 else "InvalidRequest")
        return sts_error(400 if kind == "throttle" else status, code,
                         message or ("Rate exceeded" if kind == "throttle" else f"injected {kind}"),
                         sender=status < 500)
    error_type = fault.get("error_type") or STATUS_ERROR_TYPES.get(status) or \
        ("InternalServerException" if status >= 500 else "BadRequestException")
    body = {"Message": message or ("Rate exceeded" if kind == "throttle" else f"injected fault: {kind}")}
    if kind == "not_found":
        body["ResourceType"] = "Configuration"
    return aws_error(status, error_type, body)


# --------------------------------------------------------------------------------------------
# Shared state; every access holds `lock`.

class State:
    def __init__(self, region, access_key, secret_key):
        self.lock = threading.RLock()
        self.initial = (region, access_key, secret_key)
        self.reset()

    def reset(self):
        region, access_key, secret_key = self.initial
        with self.lock:
            self.settings = {
                "region": region,
                "credentials": [{"access_key": access_key, "secret_key": secret_key}],
                "next_poll_interval": None, "strict_interval": False, "web_identity_token": None,
                "container_token": None, "denied_roles": [], "role_external_ids": {},
                "max_session_duration": 43200, "credentials_ttl": None,
                "fractional_expiration": False, "imds_role": "fake-role", "max_skew_seconds": 900,
            }
            self.configs = {}       # (app, env, profile) -> {content, content_type, version_label, version}
            self.versions = 0
            self.sessions = {}      # id -> session dict
            self.tokens = {}        # configuration token -> {"session", "state", "issued"}
            self.faults = []
            self.fault_ids = 0
            self.calls = []
            self.issued = {}        # access key -> credential dict (STS, container, IMDS)
            self.imds_tokens = {}   # token -> expiry

    # -- credentials
    def lookup_credential(self, access_key):
        with self.lock:
            if access_key in self.issued:
                return dict(self.issued[access_key])
            for c in self.settings["credentials"]:
                if c.get("access_key") == access_key:
                    return {"secret_key": c.get("secret_key", ""), "session_token": c.get("session_token"),
                            "expires": None, "source": "static", "role_arn": None}
        return None

    def issue_credentials(self, source, ttl, role_arn=None):
        with self.lock:
            if self.settings["credentials_ttl"] is not None:
                ttl = self.settings["credentials_ttl"]
            ak = "ASIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
            cred = {"access_key": ak, "secret_key": base64.b64encode(secrets.token_bytes(30)).decode(),
                    "session_token": "IQoJb3JpZ2luX2VjE" + base64.b64encode(secrets.token_bytes(121)).decode(),
                    "expires": time.time() + ttl, "source": source, "role_arn": role_arn}
            self.issued[ak] = cred
            return dict(cred, expiration=iso8601(cred["expires"], self.settings["fractional_expiration"]))

    # -- AppConfig sessions
    def expire_tokens(self, app=None, env=None, profile=None):
        n = 0
        with self.lock:
            for tok in self.tokens.values():
                s = self.sessions[tok["session"]]
                if tok["state"] == "valid" and all(v is None or s[k] == v for k, v in
                                                   (("app", app), ("env", env), ("profile", profile))):
                    tok["state"] = "expired"
                    n += 1
        return n

    def new_token(self, session_id):
        token = new_config_token()
        self.tokens[token] = {"session": session_id, "state": "valid", "issued": time.time()}
        return token

    def session_of(self, token):
        with self.lock:
            tok = self.tokens.get(token)
            return dict(self.sessions[tok["session"]]) if tok else None

    # -- faults
    def take_faults(self, ctx):
        """Matching faults in order, counting each use: pass-through kinds (PASS_THROUGH_KINDS)
        accumulate, the first terminal kind ends the list."""
        chosen = []
        with self.lock:
            for f in list(self.faults):
                if not all(ctx.get(k) == v or (k == "path" and isinstance(v, str) and v.endswith("*")
                                               and str(ctx.get("path", "")).startswith(v[:-1]))
                           for k, v in f["match"].items()):
                    continue
                f["hits"] += 1
                if f.get("count") is not None:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.faults.remove(f)
                chosen.append(dict(f))
                if f["kind"] not in PASS_THROUGH_KINDS:
                    break
        return chosen


# --------------------------------------------------------------------------------------------
# HTTP handler.

class BodyError(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeAWS/1.0"
    sys_version = ""
    timeout = SOCKET_TIMEOUT

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_aws: %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    @property
    def state(self):
        return self.server.state

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise BodyError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BodyError("bad Content-Length")
        if length < 0 or length > MAX_BODY:
            raise BodyError("bad Content-Length")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise BodyError("body shorter than Content-Length")
        return body

    def dispatch(self):
        started = time.time()
        target, absolute = self.path, False
        if target.startswith(("http://", "https://")):  # absolute-form, as an HTTP proxy receives it
            split = urlsplit(target)
            target, absolute = (split.path or "/") + ("?" + split.query if split.query else ""), True
        path, _, query = target.partition("?")
        try:
            body = self.read_body()
        except (BodyError, ValueError) as e:
            self.close_connection = True
            return self.send(json_response(400, {"message": f"bad request body: {e}"}))
        if path == "/_admin" or path.startswith("/_admin/"):
            try:
                return self.send(self.admin(path, query, body))
            except Exception as e:  # noqa: BLE001 - a bad admin call must not kill the server
                return self.send(json_response(400, {"error": f"{type(e).__name__}: {e}"}))

        headers = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        method = self.command
        if path in ("/configurationsessions", "/configuration"):
            service = "appconfig"
        elif path == "/" and method == "POST":
            service = "sts"
        elif path.startswith("/container-credentials"):
            service = "container"
        elif path.startswith("/latest/"):
            service = "imds"
        else:
            service = "unknown"
        rec = {"t": started, "method": method, "path": path, "query": query,
               "query_params": dict(parse_qsl(query, keep_blank_values=True)), "service": service,
               "status": None, "signature_ok": None, "access_key": None,
               "headers": {k: ", ".join(v) for k, v in headers.items()}, "body_len": len(body)}
        if absolute:
            rec["absolute_form"] = True
        rec["peer"] = self.client_address[1]  # the client's port: one per connection
        with self.state.lock:
            self.state.calls.append(rec)
        ctx = {"method": method, "path": path, "query": query, "headers": headers, "body": body,
               "rec": rec, "service": service}
        try:
            self.identify(ctx)
            resp, rewrites = None, []
            match = {"path": path, "method": method, "service": service,
                     **{k: rec.get(k) for k in ("app", "env", "profile", "action")}}
            for fault in self.state.take_faults(match):
                kind = fault["kind"]
                self.note(rec, faults=rec.get("faults", []) + [kind])
                if kind == "slow":
                    self.server.stopping.wait(fault.get("delay_ms", 1000) / 1000.0)
                elif kind == "expire_tokens":
                    m = fault["match"]
                    self.state.expire_tokens(m.get("app"), m.get("env"), m.get("profile"))
                elif kind in ("truncate", "rewrite"):
                    rewrites.append(fault)
                elif kind == "drop":
                    resp = Response(None)
                    resp.drop = True
                else:
                    resp = fault_response(service, fault)
            if resp is None:
                resp = {"appconfig": self.appconfig, "sts": self.sts, "container": self.container,
                        "imds": self.imds}.get(service, self.unknown)(ctx)
            for fault in rewrites:
                if fault["kind"] == "truncate":
                    resp.truncate = True
                    continue
                for name, value in fault.get("headers", {}).items():
                    resp.headers = [(n, v) for n, v in resp.headers if n.lower() != name.lower()]
                    if value is not None:
                        resp.headers.append((name, str(value)))
                if "body" in fault:
                    resp.body = fault["body"].encode("utf-8")
        except Exception as e:  # noqa: BLE001
            self.note(rec, internal_error=f"{type(e).__name__}: {e}")
            if self.server.verbose:
                import traceback
                traceback.print_exc()
            resp = aws_error(500, "InternalServerException", {"Message": "fake_aws internal error"})
        with self.state.lock:
            rec["status"] = resp.status
            rec["error_type"] = resp.error_type
            rec["response_headers"] = {k.lower(): v for k, v in resp.headers}
            rec["response_len"] = len(resp.body)
            rec["duration_ms"] = round((time.time() - started) * 1000, 3)
        self.send(resp)

    def send(self, resp):
        if resp.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        body = resp.body
        length = len(body)
        if resp.truncate:
            length, body = len(body) + 64, body[: len(body) // 2]
        try:
            self.send_response(resp.status)
            for name, value in resp.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
            if resp.truncate:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            self.close_connection = True

    # ---------------------------------------------------------------- routing helpers
    def identify(self, ctx):
        """Fills app/env/profile (and the STS action) into the record before faults are matched."""
        rec = ctx["rec"]
        if ctx["path"] == "/configurationsessions":
            try:
                doc = json.loads(ctx["body"] or b"{}")
            except ValueError:
                doc = {}
            if isinstance(doc, dict):
                for k, field in (("app", "ApplicationIdentifier"), ("env", "EnvironmentIdentifier"),
                                 ("profile", "ConfigurationProfileIdentifier")):
                    if isinstance(doc.get(field), str):
                        self.note(rec, **{k: doc[field]})
        elif ctx["path"] == "/configuration":
            session = self.state.session_of(rec["query_params"].get("configuration_token", ""))
            if session:
                self.note(rec, app=session["app"], env=session["env"], profile=session["profile"],
                          session_id=session["id"])
        elif ctx["service"] == "sts":
            form = dict(parse_qsl(ctx["body"].decode("utf-8", "replace"), keep_blank_values=True))
            ctx["form"] = form
            self.note(rec, action=form.get("Action"), form=form)

    def check_signature(self, ctx, service, regions):
        with self.state.lock:
            skew = self.state.settings["max_skew_seconds"]
        check = verify_sigv4(ctx["method"], ctx["path"], ctx["query"], ctx["headers"], ctx["body"],
                             service=service, regions=regions, lookup=self.state.lookup_credential,
                             now=time.time(), max_skew=skew)
        rec = ctx["rec"]
        self.note(rec, signature_ok=check.ok, access_key=check.access_key,
                  signed_headers=check.signed_headers)
        if check.credential:
            self.note(rec, credential_source=check.credential.get("source"),
                      credential_role_arn=check.credential.get("role_arn"))
        if not check.ok:
            self.note(rec, auth_error=check.message.split("\n")[0])
        return check

    def note(self, rec, **fields):
        """Call records are read (serialized) by admin requests on other threads: write under the lock."""
        with self.state.lock:
            rec.update(fields)

    def unknown(self, ctx):
        return aws_error(404, "UnknownOperationException", {"message": f"no route for {ctx['method']} {ctx['path']}"})

    # ---------------------------------------------------------------- AppConfig Data
    def appconfig(self, ctx):
        st = self.state
        with st.lock:
            region = st.settings["region"]
        check = self.check_signature(ctx, "appconfig", {region})
        if not check.ok:
            return aws_error(403, check.error_type, {"message": check.message}, coral=True)
        if ctx["path"] == "/configurationsessions":
            if ctx["method"] != "POST":
                return self.unknown(ctx)
            return self.start_session(ctx)
        if ctx["method"] != "GET":
            return self.unknown(ctx)
        return self.get_configuration(ctx)

    def start_session(self, ctx):
        st, rec = self.state, ctx["rec"]
        try:
            doc = json.loads(ctx["body"] or b"{}")
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return aws_error(400, "BadRequestException", {"Message": "Request body is not a JSON object"})
        fields = ("ApplicationIdentifier", "EnvironmentIdentifier", "ConfigurationProfileIdentifier")
        for field in fields:
            value = doc.get(field)
            if not isinstance(value, str) or not 1 <= len(value) <= 128:
                return aws_error(400, "BadRequestException", {"Message": f"1 validation error detected: "
                                 f"Value at '{field}' failed to satisfy constraint: Member must be a "
                                 "string of length 1 to 128"})
        interval = doc.get("RequiredMinimumPollIntervalInSeconds", 60)
        if isinstance(interval, bool) or not isinstance(interval, int) or not 15 <= interval <= 86400:
            return aws_error(400, "BadRequestException", {"Message": "1 validation error detected: Value "
                             f"'{interval}' at 'requiredMinimumPollIntervalInSeconds' failed to satisfy "
                             "constraint: Member must have value between 15 and 86400"})
        key = tuple(doc[f] for f in fields)
        with st.lock:
            if key not in st.configs:
                return aws_error(404, "ResourceNotFoundException", {
                    "Message": "Requested resource not found: application/environment/profile "
                               f"'{':'.join(key)}'", "ResourceType": "Configuration"})
            sid = uuid.uuid4().hex
            st.sessions[sid] = {"id": sid, "app": key[0], "env": key[1], "profile": key[2],
                                "interval": interval, "last_version": None, "last_call": None,
                                "polls": 0, "created": time.time()}
            token = st.new_token(sid)
            rec["session_id"] = sid
        return json_response(201, {"InitialConfigurationToken": token},
                             [("x-amzn-RequestId", new_request_id())])

    def get_configuration(self, ctx):
        st, rec = self.state, ctx["rec"]
        if "configuration_token" not in rec["query_params"]:
            return aws_error(400, "BadRequestException", {"Message": "1 validation error detected: Value "
                             "null at 'configurationToken' failed to satisfy constraint: Member must "
                             "not be null"})
        token = rec["query_params"]["configuration_token"]
        now = time.time()
        with st.lock:
            tok = st.tokens.get(token)
            if tok is None:
                return token_problem("Corrupted", "Invalid or malformed configuration token")
            if tok["state"] == "used":
                return token_problem("Corrupted", "This configuration token has already been used")
            if tok["state"] == "expired" or now - tok["issued"] > TOKEN_LIFETIME:
                return token_problem("Expired", "This configuration token has expired")
            session = st.sessions[tok["session"]]
            # Strict: a token used sooner than the interval announced with it is refused, as AWS does.
            # The gap is measured between arrivals here, the client measures between its sends: what
            # lies between (signing, a connection's queue, a loaded machine) moves the two apart, so
            # arrivals up to STRICT_INTERVAL_TOLERANCE early pass. AWS does not publish its own margin.
            if st.settings["strict_interval"] and session["last_call"] is not None and \
                    now - session["last_call"] < session.get("announced", session["interval"]) - STRICT_INTERVAL_TOLERANCE:
                return aws_error(400, "BadRequestException", {
                    "Message": "Poll interval not satisfied", "Reason": "InvalidParameters",
                    "Details": {"InvalidParameters": {"ConfigurationToken": {"Problem": "PollIntervalNotSatisfied"}}}})
            cfg = st.configs.get((session["app"], session["env"], session["profile"]))
            if cfg is None:
                return aws_error(404, "ResourceNotFoundException", {
                    "Message": "The configuration no longer exists", "ResourceType": "Configuration"})
            tok["state"] = "used"
            next_token = st.new_token(session["id"])
            session["last_call"] = now
            session["polls"] += 1
            interval = st.settings["next_poll_interval"] or session["interval"]
            session["announced"] = interval
            changed = session["last_version"] != cfg["version"]
            session["last_version"] = cfg["version"]
            content, content_type = cfg["content"], cfg["content_type"]
            accept = ",".join(ctx["headers"].get("accept", [])).replace(" ", "").lower()
            if cfg.get("ion_content") is not None and ION_FLAGS_TYPE.lower() in accept:
                # Variant flags: Ion only for an agent that asks for it (SPEC section 8).
                content, content_type = cfg["ion_content"], ION_FLAGS_TYPE
            body = content if changed else b""
            rec.update(changed=changed, version=cfg["version"], content_type=content_type)
        headers = [("Next-Poll-Configuration-Token", next_token),
                   ("Next-Poll-Interval-In-Seconds", str(interval)),
                   ("x-amzn-RequestId", new_request_id())]
        if cfg["version_label"] is not None:
            headers.append(("Version-Label", cfg["version_label"]))
        return Response(200, body, content_type, headers)

    # ---------------------------------------------------------------- STS
    def sts(self, ctx):
        st, rec, form = self.state, ctx["rec"], ctx["form"]
        action = form.get("Action")
        with st.lock:
            settings = json.loads(json.dumps(st.settings))
        if action == "AssumeRole":
            check = self.check_signature(ctx, "sts", {settings["region"], "us-east-1"})
            if not check.ok:
                code = STS_AUTH_CODES.get(check.error_type, "SignatureDoesNotMatch")
                return sts_error(400 if code == "ExpiredToken" else 403, code, check.message)
        elif action != "AssumeRoleWithWebIdentity":
            return sts_error(400, "InvalidAction", f"Could not find operation {action} for version 2011-06-15")
        if form.get("Version") != "2011-06-15":
            return sts_error(400, "MissingParameter" if "Version" not in form else "InvalidParameterValue",
                             "Version must be 2011-06-15")
        role_arn, session_name = form.get("RoleArn", ""), form.get("RoleSessionName", "")
        if not re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+", role_arn):
            return sts_error(400, "ValidationError", f"Invalid RoleArn '{role_arn}'")
        if not re.fullmatch(r"[\w+=,.@-]{2,64}", session_name):
            return sts_error(400, "ValidationError", "RoleSessionName must match [\\w+=,.@-]{2,64}")
        duration = form.get("DurationSeconds", "3600")
        if not duration.isdigit() or not 900 <= int(duration) <= settings["max_session_duration"]:
            return sts_error(400, "ValidationError", f"DurationSeconds {duration} is outside 900.."
                             f"{settings['max_session_duration']} (the role's MaxSessionDuration)")
        if role_arn in settings["denied_roles"]:
            caller = rec.get("access_key") or "web-identity"
            return sts_error(403, "AccessDenied", f"User: {caller} is not authorized to perform: "
                             f"sts:{action} on resource: {role_arn}")
        required_id = settings["role_external_ids"].get(role_arn)
        if action == "AssumeRole" and required_id is not None and form.get("ExternalId") != required_id:
            return sts_error(403, "AccessDenied", f"ExternalId does not match for {role_arn}")
        if action == "AssumeRoleWithWebIdentity":
            given = form.get("WebIdentityToken", "")
            wanted = settings["web_identity_token"]
            if not given or (wanted is not None and given != wanted):
                return sts_error(400, "InvalidIdentityToken", "The web identity token is not valid")
        cred = st.issue_credentials("web_identity" if action != "AssumeRole" else "sts",
                                    int(duration), role_arn)
        self.note(rec, issued_access_key=cred["access_key"])
        role_name = role_arn.rsplit("/", 1)[-1]
        rid = new_request_id()
        extra = ("<SubjectFromWebIdentityToken>fake-subject</SubjectFromWebIdentityToken>"
                 "<Provider>fake-oidc-provider</Provider><Audience>sts.amazonaws.com</Audience>"
                 if action != "AssumeRole" else "")
        xml = (f'<{action}Response xmlns="{STS_NS}"><{action}Result><Credentials>'
               f"<AccessKeyId>{cred['access_key']}</AccessKeyId>"
               f"<SecretAccessKey>{xml_escape(cred['secret_key'])}</SecretAccessKey>"
               f"<SessionToken>{xml_escape(cred['session_token'])}</SessionToken>"
               f"<Expiration>{cred['expiration']}</Expiration></Credentials>{extra}<AssumedRoleUser>"
               f"<AssumedRoleId>AROAFAKEROLEID:{xml_escape(session_name)}</AssumedRoleId>"
               f"<Arn>arn:aws:sts::{ACCOUNT_ID}:assumed-role/{xml_escape(role_name)}/"
               f"{xml_escape(session_name)}</Arn></AssumedRoleUser></{action}Result>"
               f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{action}Response>")
        return Response(200, xml, "text/xml", [("x-amzn-RequestId", rid)])

    # ---------------------------------------------------------------- container credentials
    def container(self, ctx):
        st, rec = self.state, ctx["rec"]
        if ctx["method"] != "GET":
            return json_response(405, {"code": "MethodNotAllowed", "message": "GET only"})
        with st.lock:
            wanted = st.settings["container_token"]
        given = ctx["headers"].get("authorization", [None])[-1]
        if wanted is not None and (given is None or not hmac.compare_digest(given.encode(), wanted.encode())):
            r = json_response(401, {"code": "InvalidToken", "message": "Authorization header missing or wrong"})
            r.error_type = "InvalidToken"
            return r
        cred = st.issue_credentials("container", 3600, f"arn:aws:iam::{ACCOUNT_ID}:role/container-role")
        self.note(rec, issued_access_key=cred["access_key"])
        return json_response(200, {"AccessKeyId": cred["access_key"], "SecretAccessKey": cred["secret_key"],
                                   "Token": cred["session_token"], "Expiration": cred["expiration"],
                                   "RoleArn": cred["role_arn"]})

    # ---------------------------------------------------------------- IMDSv2
    def imds(self, ctx):
        st, rec, path, headers = self.state, ctx["rec"], ctx["path"], ctx["headers"]
        now = time.time()
        text = lambda status, s: Response(status, s, "text/plain")  # noqa: E731
        if path == "/latest/api/token":
            if ctx["method"] != "PUT":
                return text(405, "Method Not Allowed")
            if "x-forwarded-for" in headers:
                return text(403, "Forbidden")
            ttl = headers.get("x-aws-ec2-metadata-token-ttl-seconds", [""])[-1].strip()
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return text(400, "Bad Request: x-aws-ec2-metadata-token-ttl-seconds must be 1..21600")
            token = "AQAEA" + base64.urlsafe_b64encode(secrets.token_bytes(40)).decode().rstrip("=")
            with st.lock:
                st.imds_tokens[token] = now + int(ttl)
            return Response(200, token, "text/plain", [("x-aws-ec2-metadata-token-ttl-seconds", ttl)])
        if ctx["method"] not in ("GET", "HEAD"):
            return text(405, "Method Not Allowed")
        token = headers.get("x-aws-ec2-metadata-token", [""])[-1]
        with st.lock:
            valid = st.imds_tokens.get(token, 0) > now
            role, region = st.settings["imds_role"], st.settings["region"]
        self.note(rec, imds_token_ok=valid)
        if not valid:
            return text(401, "Unauthorized")
        prefix = "/latest/meta-data/iam/security-credentials"
        if path in (prefix, prefix + "/"):
            return text(200, role)
        if path.startswith(prefix + "/"):
            if unquote(path[len(prefix) + 1:]) != role:
                return text(404, "Not Found")
            cred = st.issue_credentials("imds", 3600, f"arn:aws:iam::{ACCOUNT_ID}:role/{role}")
            self.note(rec, issued_access_key=cred["access_key"])
            return json_response(200, {"Code": "Success", "LastUpdated": iso8601(now), "Type": "AWS-HMAC",
                                       "AccessKeyId": cred["access_key"], "SecretAccessKey": cred["secret_key"],
                                       "Token": cred["session_token"], "Expiration": cred["expiration"]})
        if path == "/latest/meta-data/placement/region":
            return text(200, region)
        if path == "/latest/meta-data/placement/availability-zone":
            return text(200, region + "a")
        if path == "/latest/dynamic/instance-identity/document":
            return json_response(200, {"region": region, "availabilityZone": region + "a",
                                       "accountId": ACCOUNT_ID, "instanceId": "i-0fake0000000000000"})
        return text(404, "Not Found")

    # ---------------------------------------------------------------- admin API
    def admin(self, path, query, body):
        st, method = self.state, self.command
        parts = [unquote(p) for p in path.split("/")[2:]]
        doc = json.loads(body) if body.strip() else {}
        route = (method, parts[0] if parts else "")

        if route == ("GET", "health"):
            return Response(200, "ok", "text/plain")
        if route == ("POST", "reset"):
            st.reset()
            return json_response(200, {"reset": True})
        if route in (("GET", "settings"), ("PUT", "settings")):
            with st.lock:
                if method == "PUT":
                    unknown = set(doc) - set(SETTING_KEYS)
                    if unknown:
                        return json_response(400, {"error": f"unknown settings {sorted(unknown)}"})
                    for key, value in doc.items():
                        if key == "add_credentials":
                            st.settings["credentials"] = st.settings["credentials"] + list(value)
                        else:
                            st.settings[key] = value
                return json_response(200, st.settings)
        if parts and parts[0] == "configurations":
            if len(parts) == 1 and method == "GET":
                with st.lock:
                    return json_response(200, [
                        {"app": k[0], "env": k[1], "profile": k[2], "version": c["version"],
                         "version_label": c["version_label"], "content_type": c["content_type"],
                         "size": len(c["content"])} for k, c in st.configs.items()])
            if len(parts) != 4:
                return json_response(400, {"error": "use /_admin/configurations/<app>/<env>/<profile>"})
            key = tuple(parts[1:])
            with st.lock:
                if method == "PUT":
                    if "content_base64" in doc:
                        content = base64.b64decode(doc["content_base64"], validate=True)
                    elif "content" in doc:
                        content = doc["content"].encode("utf-8")
                    else:
                        return json_response(400, {"error": "content or content_base64 is required"})
                    st.versions += 1
                    ion = doc.get("ion_content_base64")
                    st.configs[key] = {"content": content, "version": st.versions,
                                       "content_type": doc.get("content_type") or "application/json",
                                       "version_label": doc.get("version_label"),
                                       "ion_content": base64.b64decode(ion, validate=True) if ion else None}
                    return json_response(200, {"version": st.versions, "version_label": doc.get("version_label")})
                if method == "DELETE":
                    found = st.configs.pop(key, None) is not None
                    return json_response(200 if found else 404, {"deleted": found})
                if method == "GET" and key in st.configs:
                    c = st.configs[key]
                    return json_response(200, {"version": c["version"], "version_label": c["version_label"],
                                               "content_type": c["content_type"],
                                               "content_base64": base64.b64encode(c["content"]).decode()})
                return json_response(404, {"error": "no such configuration"})
        if parts and parts[0] == "faults":
            with st.lock:
                if method == "GET":
                    return json_response(200, st.faults)
                if method == "DELETE":
                    if len(parts) == 2:
                        before = len(st.faults)
                        st.faults = [f for f in st.faults if str(f["id"]) != parts[1]]
                        return json_response(200, {"deleted": before - len(st.faults)})
                    st.faults = []
                    return json_response(200, {"deleted": "all"})
                if method == "POST":
                    fault = dict(doc)
                    fault.setdefault("match", {})
                    bad = set(fault["match"]) - set(FAULT_MATCH_KEYS)
                    if fault.get("kind") not in FAULT_KINDS or bad:
                        return json_response(400, {"error": f"kind must be one of {FAULT_KINDS}; match "
                                                            f"keys one of {FAULT_MATCH_KEYS} (bad: {sorted(bad)})"})
                    count = fault.get("count")
                    if count is not None and (not isinstance(count, int) or count < 1):
                        return json_response(400, {"error": "count must be a positive integer"})
                    st.fault_ids += 1
                    fault.update(id=st.fault_ids, hits=0)
                    st.faults.append(fault)
                    return json_response(200, {"id": fault["id"]})
        if parts and parts[0] == "calls":
            with st.lock:
                if method == "DELETE":
                    st.calls = []
                    return json_response(200, {"deleted": True})
                if method == "GET":
                    filters = dict(parse_qsl(query))
                    since = float(filters.pop("since", 0))
                    out = [c for c in st.calls if c["t"] >= since and
                           all(str(c.get(k)) == v for k, v in filters.items())]
                    return json_response(200, out)
        if route == ("GET", "sessions"):
            with st.lock:
                return json_response(200, [dict(s, valid_tokens=sum(
                    1 for t in st.tokens.values() if t["session"] == s["id"] and t["state"] == "valid"))
                    for s in st.sessions.values()])
        if route == ("POST", "expire_tokens"):
            return json_response(200, {"expired": st.expire_tokens(doc.get("app"), doc.get("env"),
                                                                   doc.get("profile"))})
        if parts and parts[0] == "credentials":
            with st.lock:
                if method == "GET" and len(parts) == 1:
                    return json_response(200, {"static": st.settings["credentials"],
                                               "issued": list(st.issued.values())})
                if method == "POST" and parts[1:] == ["expire"]:
                    n = 0
                    for cred in st.issued.values():
                        if all(cred.get(k) == v for k, v in doc.items()):
                            cred["expires"] = time.time() - 1
                            n += 1
                    return json_response(200, {"expired": n})
        return json_response(404, {"error": f"no admin route {method} {path}"})


# --------------------------------------------------------------------------------------------

class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fake AWS services for appconfig-agent tests")
    parser.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--access-key", default=DEFAULT_ACCESS_KEY)
    parser.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    parser.add_argument("--no-parent-watch", action="store_true",
                        help="keep running when the parent process exits")
    args = parser.parse_args(argv)

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args.region, args.access_key, args.secret_key)
    server.verbose = args.verbose
    server.stopping = threading.Event()

    def stop(signum, frame):
        server.stopping.set()
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # A parent may start us with these blocked (Foundation's Process passes its thread's mask on).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    if not args.no_parent_watch:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    print(f"FAKE_AWS_PORT={server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
