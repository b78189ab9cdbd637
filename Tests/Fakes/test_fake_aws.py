"""Tests for fake_aws.py. Run: python3 -m unittest discover -s Tests/Fakes

The fake's SigV4 signer is first checked against the botocore-generated vectors in vectors/, then
used as the client-side signer for every request these tests send to a fake started as a child
process (exactly as the Swift end-to-end tests start it)."""

import datetime
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_aws  # noqa: E402

FAKE = os.path.join(HERE, "fake_aws.py")
VECTORS = os.path.join(HERE, "vectors")
STS_NS = {"s": fake_aws.STS_NS}
ROLE = "arn:aws:iam::123456789012:role/demo"


def start_fake(*args):
    """Starts the fake; returns (process, port). Reads the single FAKE_AWS_PORT= line, bounded."""
    proc = subprocess.Popen([sys.executable, FAKE, "--port", "0", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(10)
    if not line or not line[0].startswith(b"FAKE_AWS_PORT="):
        proc.kill()
        raise RuntimeError(f"fake did not start: {line!r}")
    return proc, int(line[0].split(b"=")[1])


def parse_req(text):
    """A vector's .req/.sreq: request line, `Name:value` headers, blank line, body."""
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, target, _ = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.lower(), []).append(value)
    path, _, query = target.partition("?")
    return method, path, query, headers, body.encode()


class VectorTests(unittest.TestCase):
    def cases(self):
        names = sorted(n for n in os.listdir(VECTORS) if os.path.isdir(os.path.join(VECTORS, n)))
        self.assertEqual(len(names), 4)
        for name in names:
            def read(ext, name=name):
                with open(os.path.join(VECTORS, name, f"{name}.{ext}"), encoding="utf-8") as f:
                    return f.read()
            with open(os.path.join(VECTORS, name, "context.json")) as f:
                yield name, read, json.load(f)

    def test_signer_reproduces_vectors(self):
        for name, read, ctx in self.cases():
            with self.subTest(name):
                method, path, query, headers, body = parse_req(read("req"))
                signed = sorted(headers)
                creq, sts, sig = fake_aws.compute_signature(
                    ctx["secret_access_key"], method, path, query, headers, signed, body,
                    ctx["x_amz_date"], ctx["region"], ctx["service"])
                self.assertEqual(creq, read("creq"))
                self.assertEqual(sts, read("sts"))
                authz = (f"AWS4-HMAC-SHA256 Credential={ctx['access_key_id']}/{ctx['x_amz_date'][:8]}/"
                         f"{ctx['region']}/{ctx['service']}/aws4_request, SignedHeaders={';'.join(signed)}, "
                         f"Signature={sig}")
                self.assertEqual(authz, read("authz"))
                # The client helper produces the same Authorization header.
                plain = {k: v[0] for k, v in headers.items() if k not in ("x-amz-date", "x-amz-security-token")}
                out = fake_aws.sign_request(method, path, query, plain, body, access_key=ctx["access_key_id"],
                                            secret_key=ctx["secret_access_key"], region=ctx["region"],
                                            service=ctx["service"], amz_date=ctx["x_amz_date"],
                                            session_token=ctx["token"])
                self.assertEqual(out["Authorization"], read("authz"))

    def test_verifier_accepts_signed_vectors_and_rejects_tampering(self):
        for name, read, ctx in self.cases():
            with self.subTest(name):
                method, path, query, headers, body = parse_req(read("sreq"))
                now = datetime.datetime.strptime(ctx["x_amz_date"], "%Y%m%dT%H%M%SZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                cred = {"secret_key": ctx["secret_access_key"], "session_token": ctx["token"], "expires": None}

                def verify(body=body, now=now, lookup=lambda ak: cred if ak == ctx["access_key_id"] else None):
                    return fake_aws.verify_sigv4(method, path, query, headers, body, service=ctx["service"],
                                                 regions={ctx["region"]}, lookup=lookup, now=now)
                self.assertTrue(verify().ok, verify().message)
                self.assertEqual(verify(body=body + b" ").error_type, "InvalidSignatureException")
                self.assertEqual(verify(now=now + 3600).error_type, "InvalidSignatureException")
                self.assertEqual(verify(lookup=lambda ak: None).error_type, "UnrecognizedClientException")
                wrong = dict(cred, secret_key="nope")
                self.assertEqual(verify(lookup=lambda ak: wrong).error_type, "InvalidSignatureException")

    def test_encoding(self):
        self.assertEqual(fake_aws.uri_encode("a+b/c=~ é"), "a%2Bb%2Fc%3D~%20%C3%A9")
        self.assertEqual(fake_aws.canonical_query("b=2&a=%2B+&a=1"), "a=%2B%20&a=1&b=2")
        self.assertEqual(fake_aws.canonical_uri("/a b/c"), "/a%20b/c")


class FakeTestCase(unittest.TestCase):
    """One fake for the whole class, reset before each test."""

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_fake()

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        cls.proc.wait(5)
        cls.proc.stdout.close()

    def setUp(self):
        self.assertEqual(self.admin("POST", "reset")[0], 200)

    # -- HTTP plumbing
    def raw(self, method, target, headers, body=b"", read=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            headers = dict(headers)
            if body and "Content-Length" not in headers:
                headers["Content-Length"] = str(len(body))
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read() if read else None
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def admin(self, method, path, obj=None):
        body = json.dumps(obj).encode() if obj is not None else b""
        status, headers, data = self.raw(method, "/_admin/" + path, {"Host": "x"}, body)
        if headers.get("content-type") == "application/json":
            return status, json.loads(data)
        return status, data.decode()

    def signed(self, method, path, query="", body=b"", service="appconfig", ak="AKIDFAKE",
               sk="fake-secret-key", token=None, signed_headers=None, extra=None, amz_date=None,
               region="us-east-1", content_type=None, unsigned=None):
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(extra or {})
        headers = fake_aws.sign_request(method, path, query, headers, body, access_key=ak, secret_key=sk,
                                        region=region, service=service, amz_date=amz_date,
                                        session_token=token, signed_headers=signed_headers)
        headers.update(unsigned or {"User-Agent": "test/1.0", "Accept": "*/*"})
        return self.raw(method, path + ("?" + query if query else ""), headers, body)

    def put_config(self, content='{"a":1}', app="app", env="env", profile="prof", **kw):
        status, doc = self.admin("PUT", f"configurations/{quote(app, safe='')}/{env}/{profile}",
                                 dict(content=content, **kw))
        self.assertEqual(status, 200)
        return doc

    def start_session(self, app="app", env="env", profile="prof", interval=15, **kw):
        doc = {"ApplicationIdentifier": app, "EnvironmentIdentifier": env,
               "ConfigurationProfileIdentifier": profile}
        if interval is not None:
            doc["RequiredMinimumPollIntervalInSeconds"] = interval
        return self.signed("POST", "/configurationsessions", body=json.dumps(doc).encode(),
                           content_type="application/json", **kw)

    def session_token(self, **kw):
        status, _, data = self.start_session(**kw)
        self.assertEqual(status, 201, data)
        return json.loads(data)["InitialConfigurationToken"]

    def poll(self, token, **kw):
        return self.signed("GET", "/configuration", "configuration_token=" + quote(token, safe=""), **kw)

    def assertError(self, result, status, error_type):
        self.assertEqual(result[0], status, result[2])
        self.assertEqual(result[1].get("x-amzn-errortype", "").split(":")[0], error_type)

    def problem(self, result):
        return json.loads(result[2])["Details"]["InvalidParameters"]["ConfigurationToken"]["Problem"]

    def sts_code(self, result):
        return ET.fromstring(result[2]).find("s:Error/s:Code", STS_NS).text

    def assume_role(self, role=ROLE, extra="", **kw):
        body = (f"Action=AssumeRole&Version=2011-06-15&RoleArn={quote(role, safe='')}"
                f"&RoleSessionName=daemon{extra}").encode()
        return self.signed("POST", "/", body=body, service="sts",
                           content_type="application/x-www-form-urlencoded; charset=utf-8", **kw)


class AppConfigTests(FakeTestCase):
    def test_health(self):
        self.assertEqual(self.admin("GET", "health"), (200, "ok"))

    def test_session_poll_unchanged_and_new_version(self):
        self.put_config('{"a":1}', version_label="v1")
        token = self.session_token()
        self.assertIn("+", token)
        self.assertIn("/", token)
        status, headers, data = self.poll(token)
        self.assertEqual((status, data), (200, b'{"a":1}'))
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(headers["version-label"], "v1")
        self.assertEqual(headers["next-poll-interval-in-seconds"], "15")
        status, headers2, data = self.poll(headers["next-poll-configuration-token"])
        self.assertEqual((status, data), (200, b""))
        self.put_config("plain", content_type="text/plain")
        status, headers3, data = self.poll(headers2["next-poll-configuration-token"])
        self.assertEqual((status, data, headers3["content-type"]), (200, b"plain", "text/plain"))
        self.assertNotIn("version-label", headers3)

    def test_content_base64_and_encoded_names(self):
        self.assertEqual(self.admin("PUT", "configurations/my%2Fapp/env/prof",
                                    {"content_base64": "AAEC/w==", "content_type": "application/octet-stream"})[0], 200)
        status, _, data = self.poll(self.session_token(app="my/app"))
        self.assertEqual((status, data), (200, b"\x00\x01\x02\xff"))

    def test_token_single_use_unknown_and_expired(self):
        self.put_config()
        token = self.session_token()
        self.assertEqual(self.poll(token)[0], 200)
        reused = self.poll(token)
        self.assertError(reused, 400, "BadRequestException")
        self.assertEqual(self.problem(reused), "Corrupted")
        self.assertEqual(json.loads(reused[2])["Reason"], "InvalidParameters")
        self.assertEqual(self.problem(self.poll("bm9wZQ==")), "Corrupted")
        token = self.session_token()
        # Both valid tokens of the app's two sessions: the first one's next token and this one.
        self.assertEqual(self.admin("POST", "expire_tokens", {"app": "app"}), (200, {"expired": 2}))
        self.assertEqual(self.problem(self.poll(token)), "Expired")

    def test_token_sent_unencoded_is_corrupted(self):
        self.put_config()
        token = self.session_token()
        result = self.signed("GET", "/configuration", "configuration_token=" + token)
        self.assertEqual(self.problem(result), "Corrupted")  # a raw `+` reads as a space

    def test_start_session_errors(self):
        self.put_config()
        self.assertError(self.start_session(app="nope"), 404, "ResourceNotFoundException")
        self.assertEqual(json.loads(self.start_session(app="nope")[2])["ResourceType"], "Configuration")
        self.assertError(self.start_session(interval=14), 400, "BadRequestException")
        self.assertError(self.start_session(interval=86401), 400, "BadRequestException")
        self.assertEqual(self.start_session(interval=None)[0], 201)
        self.assertError(self.signed("GET", "/configuration"), 400, "BadRequestException")

    def test_interval_override_and_strict_interval(self):
        self.put_config()
        self.admin("PUT", "settings", {"next_poll_interval": 1, "strict_interval": True})
        status, headers, _ = self.poll(self.session_token())
        self.assertEqual((status, headers["next-poll-interval-in-seconds"]), (200, "1"))
        early = self.poll(headers["next-poll-configuration-token"])
        self.assertEqual(self.problem(early), "PollIntervalNotSatisfied")
        # The interval enforced is the one announced (1 s), not the session's 15 s.
        time.sleep(1.1)
        self.assertEqual(self.poll(headers["next-poll-configuration-token"])[0], 200)
        _, sessions = self.admin("GET", "sessions")
        self.assertEqual([(s["interval"], s["announced"]) for s in sessions], [(15, 1)])

    def test_deleted_configuration(self):
        self.put_config()
        token = self.session_token()
        self.assertEqual(self.admin("DELETE", "configurations/app/env/prof")[0], 200)
        self.assertError(self.poll(token), 404, "ResourceNotFoundException")
        self.assertEqual(self.admin("DELETE", "configurations/app/env/prof")[0], 404)

    def test_call_records(self):
        self.put_config()
        token = self.session_token()
        self.poll(token)
        self.admin("GET", "health")
        status, calls = self.admin("GET", "calls")
        self.assertEqual([c["path"] for c in calls], ["/configurationsessions", "/configuration"])
        start, poll = calls
        for key in ("t", "method", "path", "query", "service", "status", "signature_ok", "access_key", "headers"):
            self.assertIn(key, poll)
        self.assertEqual((poll["service"], poll["app"], poll["env"], poll["profile"]), ("appconfig", "app", "env", "prof"))
        self.assertEqual((poll["status"], poll["signature_ok"], poll["access_key"]), (200, True, "AKIDFAKE"))
        self.assertEqual(poll["query_params"]["configuration_token"], token)
        self.assertEqual(poll["headers"]["user-agent"], "test/1.0")
        self.assertEqual(start["signed_headers"], ["content-type", "host", "x-amz-date"])
        self.assertEqual(start["credential_source"], "static")
        self.assertEqual(len(self.admin("GET", "calls?path=/configuration")[1]), 1)
        self.admin("DELETE", "calls")
        self.assertEqual(self.admin("GET", "calls")[1], [])


class SignatureTests(FakeTestCase):
    def setUp(self):
        super().setUp()
        self.put_config()

    def test_failures_give_403(self):
        cases = {
            "wrong secret": (dict(sk="wrong"), "InvalidSignatureException"),
            "host not signed": (dict(signed_headers=["content-type", "x-amz-date"]), "InvalidSignatureException"),
            "user-agent signed": (dict(extra={"User-Agent": "x"}, unsigned={}), "InvalidSignatureException"),
            "accept signed": (dict(extra={"Accept": "*/*"}, unsigned={}), "InvalidSignatureException"),
            "unknown key": (dict(ak="AKIDNOPE"), "UnrecognizedClientException"),
            "old date": (dict(amz_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 1000))),
                         "InvalidSignatureException"),
            "wrong region": (dict(region="eu-west-1"), "InvalidSignatureException"),
            "token not signed": (dict(signed_headers=["content-type", "host", "x-amz-date"], token="t"),
                                 "InvalidSignatureException"),
            "token not issued": (dict(token="t"), "UnrecognizedClientException"),
            "no authorization": (dict(unsigned={"Authorization": ""}), "IncompleteSignatureException"),
        }
        for name, (kw, error_type) in cases.items():
            with self.subTest(name):
                result = self.start_session(**kw)
                self.assertError(result, 403, error_type)
                self.assertIn("message", json.loads(result[2]))
        self.assertError(self.raw("POST", "/configurationsessions", {"Host": "h"}, b"{}"), 403,
                         "MissingAuthenticationTokenException")
        wrong = self.admin("GET", "calls")[1][0]
        self.assertEqual((wrong["status"], wrong["signature_ok"], wrong["access_key"]), (403, False, "AKIDFAKE"))
        result = self.signed("GET", "/configuration", "configuration_token=x", service="sts")
        self.assertError(result, 403, "InvalidSignatureException")

    def test_static_credentials_with_session_token(self):
        self.admin("PUT", "settings", {"add_credentials": [
            {"access_key": "AKIDTOK", "secret_key": "s2", "session_token": "tok+/="}]})
        self.assertEqual(self.start_session(ak="AKIDTOK", sk="s2", token="tok+/=")[0], 201)
        self.assertError(self.start_session(ak="AKIDTOK", sk="s2"), 403, "UnrecognizedClientException")
        self.assertEqual(self.start_session()[0], 201)  # the default key is still there
        self.admin("PUT", "settings", {"credentials": [{"access_key": "AKIDONLY", "secret_key": "s3"}]})
        self.assertError(self.start_session(), 403, "UnrecognizedClientException")
        self.assertEqual(self.start_session(ak="AKIDONLY", sk="s3")[0], 201)


class FaultTests(FakeTestCase):
    def setUp(self):
        super().setUp()
        self.put_config()

    def fault(self, **doc):
        status, body = self.admin("POST", "faults", doc)
        self.assertEqual(status, 200, body)
        return body["id"]

    def test_throttle_with_count(self):
        self.fault(match={"path": "/configurationsessions"}, kind="throttle", count=2)
        self.assertError(self.start_session(), 429, "ThrottlingException")
        self.assertError(self.start_session(), 429, "ThrottlingException")
        self.assertEqual(self.start_session()[0], 201)
        self.assertEqual(self.admin("GET", "calls")[1][0]["faults"], ["throttle"])

    def test_status(self):
        self.fault(match={"path": "/configuration"}, kind="status", status=500)
        self.assertError(self.poll(self.session_token()), 500, "InternalServerException")
        self.admin("DELETE", "faults")
        self.fault(match={"service": "appconfig"}, kind="status", status=503, count=1)
        self.assertError(self.start_session(), 503, "ServiceUnavailableException")

    def test_match_by_app(self):
        self.put_config(app="other")
        self.fault(match={"app": "other"}, kind="access_denied")
        self.assertEqual(self.start_session()[0], 201)
        self.assertError(self.start_session(app="other"), 403, "AccessDeniedException")

    def test_not_found(self):
        self.fault(match={"path": "/configuration"}, kind="not_found", count=1)
        self.assertError(self.poll(self.session_token()), 404, "ResourceNotFoundException")

    def test_slow(self):
        self.fault(match={"path": "/configurationsessions"}, kind="slow", delay_ms=600, count=1)
        t0 = time.monotonic()
        self.assertEqual(self.start_session()[0], 201)
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)

    def test_drop(self):
        self.fault(match={"path": "/configurationsessions"}, kind="drop", count=1)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.start_session()
        self.assertEqual(self.start_session()[0], 201)
        self.assertIsNone(self.admin("GET", "calls")[1][0]["status"])

    def test_rewrite(self):
        self.put_config()
        self.fault(match={"path": "/configuration"}, kind="rewrite", count=1,
                   headers={"Next-Poll-Configuration-Token": None, "Next-Poll-Interval-In-Seconds": "soon"})
        status, headers, body = self.poll(self.session_token())
        self.assertEqual((status, body), (200, b'{"a":1}'))
        self.assertNotIn("next-poll-configuration-token", headers)
        self.assertEqual(headers["next-poll-interval-in-seconds"], "soon")
        self.fault(match={"path": "/configurationsessions"}, kind="rewrite", body="<html>", count=1)
        self.assertEqual(self.start_session()[::2], (201, b"<html>"))
        self.assertEqual(self.start_session()[0], 201)

    def test_truncate(self):
        token = self.session_token()
        self.fault(match={"path": "/configuration"}, kind="truncate", count=1)
        with self.assertRaises(http.client.IncompleteRead):
            self.poll(token)

    def test_expire_tokens(self):
        token = self.session_token()
        self.fault(match={"path": "/configuration"}, kind="expire_tokens", count=1)
        self.assertEqual(self.problem(self.poll(token)), "Expired")
        self.assertEqual(self.poll(self.session_token())[0], 200)

    def test_bad_fault_and_delete_by_id(self):
        self.assertEqual(self.admin("POST", "faults", {"kind": "explode"})[0], 400)
        self.assertEqual(self.admin("POST", "faults", {"kind": "drop", "match": {"pth": "/"}})[0], 400)
        fid = self.fault(kind="throttle")
        self.assertEqual(self.admin("DELETE", f"faults/{fid}")[1], {"deleted": 1})
        self.assertEqual(self.start_session()[0], 201)

    def test_sts_fault_shape(self):
        self.fault(match={"service": "sts"}, kind="throttle", count=1)
        result = self.assume_role()
        self.assertEqual((result[0], self.sts_code(result)), (400, "Throttling"))


class CredentialTests(FakeTestCase):
    def setUp(self):
        super().setUp()
        self.put_config()

    def parse_sts(self, data, action="AssumeRole"):
        creds = ET.fromstring(data).find(f"s:{action}Result/s:Credentials", STS_NS)
        return {c.tag.split("}")[1]: c.text for c in creds}

    def test_assume_role_then_poll(self):
        status, _, data = self.assume_role(extra="&ExternalId=ext-1&DurationSeconds=900")
        self.assertEqual(status, 200, data)
        creds = self.parse_sts(data)
        expires = datetime.datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertAlmostEqual(expires.replace(tzinfo=datetime.timezone.utc).timestamp(), time.time() + 900, delta=5)
        self.assertIn("assumed-role/demo/daemon", data.decode())
        kw = dict(ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
        self.assertEqual(self.start_session(**kw)[0], 201)
        self.assertError(self.start_session(**dict(kw, token=None)), 403, "UnrecognizedClientException")
        calls = self.admin("GET", "calls")[1]
        self.assertEqual(calls[0]["form"]["RoleArn"], ROLE)
        self.assertEqual(calls[0]["form"]["ExternalId"], "ext-1")
        self.assertEqual(calls[0]["form"]["DurationSeconds"], "900")
        self.assertEqual((calls[0]["service"], calls[0]["action"], calls[0]["signature_ok"]), ("sts", "AssumeRole", True))
        self.assertEqual(calls[1]["credential_source"], "sts")
        self.assertEqual(calls[1]["credential_role_arn"], ROLE)
        # Expired credentials are refused.
        self.admin("POST", "credentials/expire", {"source": "sts"})
        self.assertError(self.start_session(**kw), 403, "ExpiredTokenException")

    def test_assume_role_errors(self):
        self.admin("PUT", "settings", {"denied_roles": [ROLE], "role_external_ids":
                                       {"arn:aws:iam::123456789012:role/ext": "good"}})
        result = self.assume_role()
        self.assertEqual((result[0], self.sts_code(result)), (403, "AccessDenied"))
        result = self.assume_role(role="arn:aws:iam::123456789012:role/ext", extra="&ExternalId=bad")
        self.assertEqual((result[0], self.sts_code(result)), (403, "AccessDenied"))
        result = self.assume_role(role="arn:aws:iam::123456789012:role/ext", extra="&ExternalId=good")
        self.assertEqual(result[0], 200)
        result = self.assume_role(role="not-an-arn")
        self.assertEqual((result[0], self.sts_code(result)), (400, "ValidationError"))
        result = self.assume_role(sk="wrong")
        self.assertEqual((result[0], self.sts_code(result)), (403, "SignatureDoesNotMatch"))
        result = self.assume_role(ak="AKIDNOPE")
        self.assertEqual((result[0], self.sts_code(result)), (403, "InvalidClientTokenId"))

    def test_web_identity(self):
        self.admin("PUT", "settings", {"web_identity_token": "jwt-1", "fractional_expiration": True})
        def call(token):
            body = ("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + quote(ROLE, safe="")
                    + "&RoleSessionName=web&WebIdentityToken=" + token).encode()
            return self.raw("POST", "/", {"Host": "sts", "Content-Type": "application/x-www-form-urlencoded"}, body)
        result = call("jwt-2")
        self.assertEqual((result[0], self.sts_code(result)), (400, "InvalidIdentityToken"))
        status, _, data = call("jwt-1")
        self.assertEqual(status, 200, data)
        creds = self.parse_sts(data, "AssumeRoleWithWebIdentity")
        self.assertRegex(creds["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(self.start_session(ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"],
                                            token=creds["SessionToken"])[0], 201)
        call_rec = self.admin("GET", "calls?action=AssumeRoleWithWebIdentity")[1][-1]
        self.assertEqual((call_rec["signature_ok"], call_rec["form"]["WebIdentityToken"]), (None, "jwt-1"))

    def test_container_credentials(self):
        self.admin("PUT", "settings", {"container_token": "Bearer abc"})
        self.assertEqual(self.raw("GET", "/container-credentials/x", {"Host": "h"})[0], 401)
        self.assertEqual(self.raw("GET", "/container-credentials/x", {"Host": "h", "Authorization": "no"})[0], 401)
        status, _, data = self.raw("GET", "/container-credentials/x", {"Host": "h", "Authorization": "Bearer abc"})
        self.assertEqual(status, 200)
        creds = json.loads(data)
        self.assertEqual(set(creds) >= {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}, True)
        self.assertEqual(self.start_session(ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"],
                                            token=creds["Token"])[0], 201)
        self.assertEqual(self.admin("GET", "calls")[1][-1]["credential_source"], "container")

    def test_imds_flow(self):
        h = {"Host": "169.254.169.254"}
        self.assertEqual(self.raw("PUT", "/latest/api/token", h)[0], 400)
        self.assertEqual(self.raw("PUT", "/latest/api/token", dict(h, **{"x-aws-ec2-metadata-token-ttl-seconds": "60",
                                                                          "X-Forwarded-For": "1.2.3.4"}))[0], 403)
        status, _, token = self.raw("PUT", "/latest/api/token", dict(h, **{"x-aws-ec2-metadata-token-ttl-seconds": "60"}))
        self.assertEqual(status, 200)
        base = "/latest/meta-data/iam/security-credentials/"
        self.assertEqual(self.raw("GET", base, h)[0], 401)
        self.assertEqual(self.raw("GET", base, dict(h, **{"x-aws-ec2-metadata-token": "bad"}))[0], 401)
        auth = dict(h, **{"x-aws-ec2-metadata-token": token.decode()})
        status, _, role = self.raw("GET", base, auth)
        self.assertEqual((status, role), (200, b"fake-role"))
        self.assertEqual(self.raw("GET", base + "other", auth)[0], 404)
        status, _, data = self.raw("GET", base + "fake-role", auth)
        creds = json.loads(data)
        self.assertEqual((status, creds["Code"]), (200, "Success"))
        self.assertEqual(self.raw("GET", "/latest/meta-data/placement/region", auth)[2], b"us-east-1")
        self.assertEqual(self.start_session(ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"],
                                            token=creds["Token"])[0], 201)
        services = [c["service"] for c in self.admin("GET", "calls")[1]]
        self.assertEqual(services[:-1], ["imds"] * 9)


class ProcessTests(unittest.TestCase):
    def test_sigterm_exits_zero_promptly(self):
        proc, port = start_fake()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/_admin/health")
        self.assertEqual(conn.getresponse().read(), b"ok")
        conn.close()
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(5), 0)
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(proc.stdout.read(), b"")  # exactly one line was ever printed
        proc.stdout.close()

    def test_exits_when_parent_goes_away(self):
        shell = subprocess.Popen(["sh", "-c", f'"{sys.executable}" "{FAKE}" --port 0 & sleep 1'],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.assertTrue(shell.stdout.readline().startswith(b"FAKE_AWS_PORT="))
        shell.wait(5)
        done = threading.Event()
        threading.Thread(target=lambda: (shell.stdout.read(), done.set()), daemon=True).start()
        self.assertTrue(done.wait(5), "the orphaned fake kept running")  # EOF: the fake exited
        shell.stdout.close()


if __name__ == "__main__":
    unittest.main()
