#!/usr/bin/env python3
"""Self-test for canary-console-emulator: starts it on 127.0.0.1:0 and checks every
endpoint, error, fault kind, the rate limit, --only-path, TLS and shutdown.

Run: python3 emulator/selftest.py   (prints "N passed, M failed"; exit 1 on failure)
"""

import http.client
import json
import os
import re
import select
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import unittest.mock
import urllib.parse
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "canary-console-emulator")
FACTORY = "/api/v1/canarytoken/factory"
FACTORY_CREATE = "/api/v1/canarytoken/factory/create"
CREATE = "/api/v1/canarytoken/create"
CREATE_FACTORY = "/api/v1/canarytoken/create_factory"
DELETE_FACTORY = "/api/v1/canarytoken/delete_factory"
LIST_FACTORIES = "/api/v1/canarytoken/list_factories"
TOKEN_KEYS = {
    "access_key_id", "canarytoken", "created", "created_printable", "enabled",
    "factory_auth", "flock_id", "hostname", "key", "kind", "memo", "renders",
    "secret_access_key", "triggered_count", "updated_id", "url", "username",
}


class Emulator:
    """One emulator subprocess with its own scratch state dir, stopped by pid."""

    def __init__(self, *extra, credentials=True):
        self.tmp = tempfile.TemporaryDirectory(prefix="emu-selftest-")
        self.dir = self.tmp.name
        self.state = os.path.join(self.dir, "state")
        self.files = {n: os.path.join(self.dir, n) for n in ("factory", "admin", "deploy")}
        self.url_file = os.path.join(self.dir, "url")
        self.cafile = os.path.join(self.state, "ca.pem")
        cmd = [sys.executable, EMULATOR, "--state-dir", self.state,
               "--url-file", self.url_file]
        if credentials:
            cmd += ["--factory-auth-file", self.files["factory"],
                    "--admin-token-file", self.files["admin"],
                    "--deploy-key-file", self.files["deploy"]]
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd + list(extra), stdout=subprocess.PIPE,
                                     stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.line = self._read_line()
        match = re.fullmatch(r"listening on (https?)://(127\.0\.0\.1|\[::1\]):(\d+)\n",
                             self.line)
        if not match:
            self.stop()
            raise AssertionError("bad start line %r; stderr: %s" % (self.line, self.log()))
        self.scheme, self.host, self.port = match[1], match[2].strip("[]"), int(match[3])
        self.url = self.line.split(" ", 2)[2].strip()

    def _read_line(self, timeout=15):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().decode() if ready else ""

    def secret(self, name):
        with open(self.files[name]) as f:
            return f.read().strip()

    def log(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def context(self):
        return ssl.create_default_context(cafile=self.cafile)

    def conn(self, timeout=10, host=None, context=None):
        host = host or self.host
        if self.scheme == "https":
            return http.client.HTTPSConnection(host, self.port, timeout=timeout,
                                               context=context or self.context())
        return http.client.HTTPConnection(host, self.port, timeout=timeout)

    def request(self, method, path, form=None, headers=None, body=None, conn=None):
        """Send one request; return (status, headers dict, parsed JSON or raw bytes)."""
        own = conn is None
        conn = conn or self.conn()
        headers = dict(headers or {})
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            if own:
                conn.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw
        return resp.status, hdrs, data

    def control(self, method, path, payload=None):
        body = json.dumps(payload) if payload is not None else None
        return self.request(method, "/_emulator/" + path, body=body,
                            headers={"Content-Type": "application/json"})

    def faults(self, *faults):
        status, _, data = self.control("POST", "faults", list(faults))
        assert status == 200, data
        return data["ids"]

    def make_token(self, path=FACTORY, **fields):
        form = {"factory_auth": self.secret("factory"), "memo": "selftest", "kind": "aws-id"}
        form.update(fields)
        return self.request("POST", path, form={k: v for k, v in form.items() if v is not None})

    def jsonl(self, name):
        with open(os.path.join(self.state, name)) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        rc = self.proc.returncode
        self.tmp.cleanup()
        return rc


def check_token(case, token, memo="selftest", flock="flock:default"):
    case.assertRegex(token["access_key_id"], r"\AAKIA[A-Z2-7]{16}\Z")
    case.assertRegex(token["secret_access_key"], r"\A[A-Za-z0-9+/]{40}\Z")
    case.assertRegex(token["canarytoken"], r"\A[a-z0-9]{25}\Z")
    case.assertRegex(token["created"], r"\A\d+\.\d+\Z")
    case.assertAlmostEqual(float(token["created"]), time.time(), delta=60)
    case.assertRegex(token["created_printable"],
                     r"\A\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\)\Z")
    case.assertEqual(token["kind"], "aws-id")
    case.assertEqual(token["memo"], memo)
    case.assertEqual(token["flock_id"], flock)
    case.assertIs(token["enabled"], True)
    case.assertEqual(token["renders"]["aws-id"],
                     "\n    [default]\n    aws_access_key_id = %s\n"
                     "    aws_secret_access_key = %s"
                     % (token["access_key_id"], token["secret_access_key"]))


class PlainEmulator(unittest.TestCase):
    """Endpoints, errors, records and faults against one plain-HTTP emulator."""

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def setUp(self):
        self.emu.control("DELETE", "faults")

    def assertError(self, response, status, message):
        self.assertEqual(response[0], status, response)
        self.assertEqual(response[2], {"result": "error", "message": message})

    # Start-up.

    def test_start_line_url_file_and_secret_files(self):
        with open(self.emu.url_file) as f:
            self.assertEqual(f.read().strip(), self.emu.url)
        self.assertEqual(self.emu.scheme, "http")
        for name in ("factory", "admin", "deploy"):
            self.assertRegex(self.emu.secret(name), r"\A[0-9a-f]{32}\Z")
            self.assertEqual(stat.S_IMODE(os.stat(self.emu.files[name]).st_mode), 0o600)

    # Token creation.

    def test_factory_legacy_path_issues_token(self):
        status, headers, data = self.emu.make_token(FACTORY)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(set(data), {"canarytoken", "result"})
        self.assertEqual(data["result"], "success")
        token = data["canarytoken"]
        self.assertEqual(set(token), TOKEN_KEYS)
        check_token(self, token)
        self.assertEqual(token["factory_auth"], self.emu.secret("factory"))
        issued = self.emu.jsonl("issued.jsonl")[-1]
        self.assertEqual(issued["canarytoken"], token["canarytoken"])
        self.assertEqual(issued["secret_access_key"], token["secret_access_key"])
        self.assertEqual(issued["path"], FACTORY)
        self.assertRegex(issued["factory_auth_id"], r"\Afa-[0-9a-f]{8}\Z")
        record = self.emu.jsonl("requests.jsonl")[-1]
        self.assertEqual(record["token"], token["canarytoken"])
        self.assertEqual(record["fields"], ["factory_auth", "memo", "kind"])
        self.assertEqual(record["content_type"], "application/x-www-form-urlencoded")
        self.assertNotIn(self.emu.secret("factory"), json.dumps(record))

    def test_factory_create_path_with_optional_fields(self):
        status, _, data = self.emu.make_token(
            FACTORY_CREATE, flock_id="flock:abc123", aws_id_username="web-1", expiry="6mo")
        self.assertEqual(status, 200, data)
        token = data["canarytoken"]
        check_token(self, token, flock="flock:abc123")
        self.assertEqual(token["username"], "web-1")
        self.assertEqual(self.emu.jsonl("issued.jsonl")[-1]["expiry"], "6mo")
        status, _, data = self.emu.make_token(FACTORY_CREATE, expiry="12h")
        self.assertEqual(status, 200)
        self.assertRegex(data["canarytoken"]["username"], r"\Acanarytoken-[a-z0-9]+\Z")

    def test_deploy_key_as_field_or_header(self):
        key = self.emu.secret("deploy")
        form = {"memo": "deploy", "kind": "aws-id"}
        status, _, data = self.emu.request("POST", CREATE, form=dict(form, auth_token=key))
        self.assertEqual(status, 200, data)
        check_token(self, data["canarytoken"], memo="deploy")
        self.assertNotIn("factory_auth", data["canarytoken"])
        for name in ("X-Canary-Auth-Token", "x-canary-auth-token", "X-CANARY-AUTH-TOKEN"):
            status, _, data = self.emu.request("POST", CREATE, form=form, headers={name: key})
            self.assertEqual(status, 200, data)
        self.assertRegex(self.emu.jsonl("issued.jsonl")[-1]["factory_auth_id"],
                         r"\Adk-[0-9a-f]{8}\Z")
        self.assertError(self.emu.request("POST", CREATE, form=form), 400, "Missing auth_token")
        self.assertError(self.emu.request("POST", CREATE, form=dict(form, auth_token="x" * 32)),
                         403, "Invalid auth_token")
        self.assertError(self.emu.request(
            "POST", CREATE, form=dict(form, auth_token=self.emu.secret("factory"))),
            403, "Invalid auth_token")

    def test_creation_errors(self):
        emu = self.emu
        self.assertError(emu.make_token(factory_auth=None), 400, "Missing factory_auth")
        self.assertError(emu.make_token(factory_auth=""), 400, "Missing factory_auth")
        self.assertError(emu.make_token(factory_auth="0" * 32), 403, "Invalid factory_auth")
        self.assertError(emu.make_token(memo=None), 400, "Empty memo")
        self.assertError(emu.make_token(memo="   "), 400, "Empty memo")
        self.assertError(emu.make_token(memo="m" * 10001), 400, "Memo too long")
        self.assertEqual(emu.make_token(memo="m" * 10000)[0], 200)
        self.assertError(emu.make_token(kind="http"), 400, "Supplied kind is not valid.")
        self.assertError(emu.make_token(kind=None), 400, "Supplied kind is not valid.")
        self.assertError(emu.make_token(expiry="12 hours"), 400, "Invalid expiry")
        self.assertError(emu.make_token(flock_id="default"), 400, "Invalid flock_id")
        # A JSON body is not a form: the Console sees no fields at all.
        status, _, data = emu.request(
            "POST", FACTORY, body=json.dumps({"factory_auth": emu.secret("factory")}),
            headers={"Content-Type": "application/json"})
        self.assertError((status, None, data), 400, "Missing factory_auth")

    # Factory management.

    def test_create_list_delete_factory(self):
        emu, admin = self.emu, self.emu.secret("admin")
        status, _, data = emu.request("POST", CREATE_FACTORY,
                                      form={"auth_token": admin, "memo": "fleet"})
        self.assertEqual(status, 200, data)
        self.assertEqual(set(data), {"factory_auth", "factory_url", "result"})
        self.assertEqual(data["factory_url"], FACTORY)
        new = data["factory_auth"]
        self.assertRegex(new, r"\A[0-9a-f]{32}\Z")
        self.assertEqual(emu.make_token(factory_auth=new)[0], 200)

        status, _, data = emu.request("GET", LIST_FACTORIES + "?auth_token=" + admin)
        self.assertEqual(status, 200)
        listed = {f["factory_auth"]: f for f in data["factories"]}
        self.assertEqual(listed[new], {"factory_auth": new, "memo": "fleet",
                                       "flock_id": "flock:default"})
        self.assertIn(emu.secret("factory"), listed)

        form = {"auth_token": admin, "factory_auth": new}
        self.assertEqual(emu.request("DELETE", DELETE_FACTORY, form=form),
                         (200, unittest.mock.ANY,
                          {"msg": "TokenFactory auth string deleted", "result": "success"}))
        self.assertError(emu.make_token(factory_auth=new), 403, "Invalid factory_auth")
        self.assertError(emu.request("DELETE", DELETE_FACTORY, form=form),
                         400, "Invalid factory_auth")

    def test_admin_errors(self):
        emu, admin = self.emu, self.emu.secret("admin")
        self.assertError(emu.request("POST", CREATE_FACTORY, form={"memo": "x"}),
                         400, "Missing auth_token")
        self.assertError(emu.request("POST", CREATE_FACTORY,
                                     form={"auth_token": "bad", "memo": "x"}),
                         403, "Invalid auth_token")
        self.assertError(emu.request("POST", CREATE_FACTORY,
                                     form={"auth_token": emu.secret("factory"), "memo": "x"}),
                         403, "Invalid auth_token")
        self.assertError(emu.request("POST", CREATE_FACTORY, form={"auth_token": admin}),
                         400, "Empty memo")
        self.assertError(emu.request("POST", CREATE_FACTORY,
                                     form={"auth_token": admin, "memo": "m" * 10001}),
                         400, "Memo too long")
        self.assertError(emu.request("DELETE", DELETE_FACTORY, form={"auth_token": admin}),
                         400, "Missing factory_auth")
        self.assertError(emu.request("GET", LIST_FACTORIES + "?auth_token=bad"),
                         403, "Invalid auth_token")

    def test_unknown_path_and_wrong_method(self):
        self.assertError(self.emu.request("GET", "/api/v1/nothing"), 404, "Not found")
        self.assertError(self.emu.request("POST", FACTORY + "/"), 404, "Not found")
        status, headers, data = self.emu.request("GET", FACTORY)
        self.assertError((status, headers, data), 405, "Method not allowed")
        self.assertEqual(headers["allow"], "POST")
        self.assertEqual(self.emu.request("POST", DELETE_FACTORY, form={})[0], 405)

    def test_malformed_request_line(self):
        line = "GET /x?auth_token=%s HTTP/1.1 junk\r\nHost: a\r\n\r\n" % self.emu.secret("admin")
        with socket.create_connection((self.emu.host, self.emu.port), timeout=5) as sock:
            sock.sendall(line.encode())
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 400 "), answer)
        self.assertEqual(json.loads(body), {"result": "error", "message": "Bad Request"})

    def test_oversized_body(self):
        status, _, data = self.emu.request("POST", FACTORY, body=b"m=" + b"x" * (1 << 20),
                                           headers={"Content-Type":
                                                    "application/x-www-form-urlencoded"})
        self.assertEqual((status, data["message"]), (413, "Payload Too Large"))

    def test_keep_alive_and_content_length(self):
        conn = self.emu.conn()
        try:
            for _ in range(3):
                status, headers, data = self.emu.request(
                    "POST", FACTORY, conn=conn,
                    form={"factory_auth": self.emu.secret("factory"), "memo": "ka",
                          "kind": "aws-id"})
                self.assertEqual(status, 200)
                self.assertEqual(int(headers["content-length"]),
                                 len(json.dumps(data).encode()))
        finally:
            conn.close()

    def test_chunked_request_body(self):
        form = urllib.parse.urlencode({"factory_auth": self.emu.secret("factory"),
                                       "memo": "chunky", "kind": "aws-id"}).encode()
        conn = self.emu.conn()
        try:
            conn.request("POST", FACTORY, body=iter([form[:10], form[10:]]),
                         headers={"Content-Type": "application/x-www-form-urlencoded"},
                         encode_chunked=True)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.read())["canarytoken"]["memo"], "chunky")
        finally:
            conn.close()

    def test_concurrent_requests(self):
        self.emu.faults({"path": FACTORY, "delay": 1.0})
        slow = threading.Thread(target=self.emu.make_token)
        slow.start()
        time.sleep(0.1)
        started = time.monotonic()
        self.assertEqual(self.emu.make_token(FACTORY_CREATE)[0], 200)
        self.assertLess(time.monotonic() - started, 0.5)
        slow.join()

    # Control endpoints.

    def test_control_issued_requests_and_faults_listing(self):
        status, _, data = self.emu.make_token()
        status, _, issued = self.emu.control("GET", "issued")
        self.assertEqual(status, 200)
        self.assertEqual(issued[-1]["canarytoken"], data["canarytoken"]["canarytoken"])
        _, _, records = self.emu.control("GET", "requests")
        self.assertEqual(records[-1]["token"], data["canarytoken"]["canarytoken"])
        self.assertFalse(any(r["path"].startswith("/_emulator") for r in records))
        ids = self.emu.faults({"status": 500, "times": 3})
        _, _, queued = self.emu.control("GET", "faults")
        self.assertEqual([(f["id"], f["remaining"]) for f in queued], [(ids[0], 3)])
        self.assertEqual(self.emu.control("DELETE", "faults")[2],
                         {"cleared": 1, "result": "success"})
        self.assertEqual(self.emu.control("GET", "faults")[2], [])

    def test_control_rejects_bad_faults(self):
        for bad in ({"stauts": 500}, {"status": "500"}, {"times": 0},
                    {"body": "x", "json": {}}, {"redirect": "http://example.com/"},
                    {"redirect": "//example.com/x"}, {"headers": {"X": "a\r\nb"}}, 5):
            status, _, data = self.emu.control("POST", "faults", bad)
            self.assertEqual(status, 400, bad)
            self.assertEqual(data["result"], "error")
        self.assertEqual(self.emu.control("GET", "faults")[2], [])
        status, _, _ = self.emu.request("POST", "/_emulator/faults", body="not json")
        self.assertEqual(status, 400)
        self.assertEqual(self.emu.control("GET", "nothing")[0], 404)
        self.assertEqual(self.emu.control("GET", "reset")[0], 405)

    # Faults.

    def test_fault_status_json_and_times(self):
        self.emu.faults({"status": 500, "json": {"result": "error", "message": "boom"},
                         "times": 2})
        for path in (FACTORY, FACTORY_CREATE):
            self.assertError(self.emu.make_token(path), 500, "boom")
        self.assertEqual(self.emu.make_token()[0], 200)
        record = self.emu.jsonl("requests.jsonl")[-2]
        self.assertEqual((record["status"], record["fault"] > 0), (500, True))

    def test_fault_raw_body_content_type_and_headers(self):
        self.emu.faults({"status": 503, "body": "<html>busy</html>",
                         "content_type": "text/html", "headers": {"Retry-After": "2"}})
        status, headers, data = self.emu.make_token()
        self.assertEqual((status, data), (503, b"<html>busy</html>"))
        self.assertEqual(headers["content-type"], "text/html")
        self.assertEqual(headers["retry-after"], "2")

    def test_fault_body_without_status_is_200(self):
        self.emu.faults({"json": {"result": "error", "message": "Could not save Canarydrop"}})
        self.assertError(self.emu.make_token(), 200, "Could not save Canarydrop")
        self.emu.faults({"status": 502})
        self.assertError(self.emu.make_token(), 502, "Bad Gateway")

    def test_fault_path_specific_and_forever(self):
        self.emu.faults({"path": FACTORY_CREATE, "status": 404,
                         "json": {"result": "error", "message": "Not found"}, "times": -1})
        for _ in range(3):
            self.assertEqual(self.emu.make_token(FACTORY_CREATE)[0], 404)
            self.assertEqual(self.emu.make_token(FACTORY)[0], 200)
        self.emu.control("DELETE", "faults")
        self.assertEqual(self.emu.make_token(FACTORY_CREATE)[0], 200)

    def test_fault_method_match_and_default_paths(self):
        self.emu.faults({"status": 500})
        admin = self.emu.secret("admin")
        status, _, _ = self.emu.request("GET", LIST_FACTORIES + "?auth_token=" + admin)
        self.assertEqual(status, 200)
        self.assertEqual(self.emu.request(
            "POST", CREATE, form={"auth_token": self.emu.secret("deploy"), "memo": "m",
                                  "kind": "aws-id"})[0], 500)
        self.emu.faults({"path": LIST_FACTORIES, "method": "POST", "status": 500})
        self.assertEqual(self.emu.request("GET", LIST_FACTORIES + "?auth_token=" + admin)[0],
                         200)

    def test_fault_delay_falls_through(self):
        self.emu.faults({"delay": 0.4, "headers": {"X-Extra": "yes"}})
        started = time.monotonic()
        status, headers, data = self.emu.make_token()
        self.assertGreaterEqual(time.monotonic() - started, 0.4)
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-extra"], "yes")
        check_token(self, data["canarytoken"])

    def test_fault_delay_beyond_client_timeout(self):
        self.emu.faults({"delay": 1.5, "status": 500})
        conn = self.emu.conn(timeout=0.3)
        with self.assertRaises(socket.timeout):
            self.emu.request("POST", FACTORY, form={}, conn=conn)
        conn.close()

    def test_fault_close(self):
        self.emu.faults({"close": True})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.emu.make_token()
        record = self.emu.jsonl("requests.jsonl")[-1]
        self.assertEqual((record["status"], record["action"]), (None, "close"))
        self.assertEqual(self.emu.make_token()[0], 200)

    def test_fault_slow_body(self):
        self.emu.faults({"status": 500, "body": "x" * 40, "slow_body": 100})
        started = time.monotonic()
        status, _, data = self.emu.make_token()
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.assertEqual((status, data), (500, b"x" * 40))
        self.emu.faults({"slow_body": 2000})
        started = time.monotonic()
        status, _, data = self.emu.make_token()
        self.assertGreaterEqual(time.monotonic() - started, 0.2)
        self.assertEqual(status, 200)
        check_token(self, data["canarytoken"])

    def test_fault_endless_chunked(self):
        self.emu.faults({"endless": True})
        conn = self.emu.conn()
        conn.request("POST", FACTORY, body="", headers={})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        got = resp.read(200000)
        self.assertEqual(len(got), 200000)
        self.assertTrue(got.startswith(b'{"canarytoken": {"memo": "aaa'))
        conn.close()

    def test_fault_endless_content_length(self):
        self.emu.faults({"endless": "length", "slow_body": 5000, "status": 200})
        conn = self.emu.conn(timeout=0.5)
        conn.request("POST", FACTORY, body="", headers={})
        resp = conn.getresponse()
        self.assertEqual(int(resp.getheader("Content-Length")), 10 ** 12)
        self.assertTrue(resp.read(1000))
        conn.close()

    def test_fault_redirect(self):
        target = "%s%s" % (self.emu.url, FACTORY_CREATE)
        self.emu.faults({"redirect": target}, {"redirect": "/x", "status": 307},
                        {"redirect": "https://evil.invalid/api", "status": 308})
        for code, location in ((302, target), (307, "/x"), (308, "https://evil.invalid/api")):
            status, headers, data = self.emu.make_token()
            self.assertEqual((status, headers["location"], data), (code, location, None))

    def test_reset_clears_faults_and_records(self):
        emu = Emulator()
        try:
            emu.make_token()
            emu.faults({"status": 500, "times": -1})
            self.assertEqual(emu.control("POST", "reset")[2], {"result": "success"})
            self.assertEqual(emu.control("GET", "issued")[2], [])
            self.assertEqual(emu.control("GET", "requests")[2], [])
            self.assertEqual(emu.control("GET", "faults")[2], [])
            self.assertEqual((emu.jsonl("issued.jsonl"), emu.jsonl("requests.jsonl")), ([], []))
            self.assertEqual(emu.make_token()[0], 200)
        finally:
            emu.stop()

    # Must run last in this class (alphabetical order): inspects everything so far.
    def test_zz_no_secrets_in_logs_or_request_records(self):
        log = self.emu.log()
        with open(os.path.join(self.emu.state, "requests.jsonl")) as f:
            records = f.read()
        secrets = [self.emu.secret(n) for n in ("factory", "admin", "deploy")]
        secrets += [t["secret_access_key"] for t in self.emu.jsonl("issued.jsonl")]
        self.assertGreater(len(secrets), 10)
        for secret in secrets:
            self.assertNotIn(secret, log)
            self.assertNotIn(secret, records)
        self.assertNotIn("selftest", log)   # memo values stay out too
        self.assertIn("POST /api/v1/canarytoken/factory 200", log)


class OtherModes(unittest.TestCase):
    """Instances started with other options."""

    def test_rate_limit(self):
        emu = Emulator("--rate", "2", "--burst", "2")
        try:
            self.assertEqual(emu.make_token()[0], 200)
            self.assertEqual(emu.make_token()[0], 200)
            status, headers, data = emu.make_token()
            self.assertEqual((status, data),
                             (429, {"result": "error", "message": "Rate limit exceeded"}))
            self.assertEqual(headers["retry-after"], "1")
            self.assertEqual(emu.jsonl("issued.jsonl").__len__(), 2)
            time.sleep(0.6)
            self.assertEqual(emu.make_token()[0], 200)
            admin = emu.secret("admin")
            self.assertEqual(emu.request("GET", LIST_FACTORIES + "?auth_token=" + admin)[0],
                             200)
        finally:
            self.assertEqual(emu.stop(), 0)

    def test_only_path_current_and_legacy(self):
        for mode, gone, kept in (("current", FACTORY, FACTORY_CREATE),
                                 ("legacy", FACTORY_CREATE, FACTORY)):
            emu = Emulator("--only-path", mode)
            try:
                status, _, data = emu.make_token(gone)
                self.assertEqual((status, data),
                                 (404, {"result": "error", "message": "Not found"}), mode)
                self.assertEqual(emu.make_token(kept)[0], 200, mode)
                emu.faults({"status": 500})      # path-less faults skip the missing path
                self.assertEqual(emu.make_token(gone)[0], 404, mode)
                self.assertEqual(emu.make_token(kept)[0], 500, mode)
            finally:
                emu.stop()

    def test_errors_as_200(self):
        emu = Emulator("--errors-as-200")
        try:
            self.assertEqual(emu.make_token(factory_auth="bad"),
                             (200, unittest.mock.ANY,
                              {"result": "error", "message": "Invalid factory_auth"}))
            self.assertEqual(emu.make_token(memo="")[2]["message"], "Empty memo")
            self.assertEqual(emu.make_token(FACTORY + "x")[0], 404)
        finally:
            emu.stop()

    def test_refuse_connections_then_serve(self):
        started = time.monotonic()
        emu = Emulator("--refuse-connections-for", "3")
        try:
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection((emu.host, emu.port), timeout=2).close()
            # The emulator's clock starts after its own start-up, which is slow under
            # load: wait for it to listen, bounded, instead of guessing a sleep.
            for _ in range(50):
                try:
                    socket.create_connection((emu.host, emu.port), timeout=2).close()
                    break
                except ConnectionRefusedError:
                    time.sleep(0.1)
            self.assertGreaterEqual(time.monotonic() - started, 3)
            self.assertEqual(emu.make_token()[0], 200)
        finally:
            self.assertEqual(emu.stop(), 0)

    def test_refuses_non_loopback_listen(self):
        for listen in ("0.0.0.0:0", "192.0.2.1:8080", "[::]:0", "localhost:0",
                       "127.0.0.2:0", "::1:0", "127.0.0.1"):
            with tempfile.TemporaryDirectory() as tmp:
                proc = subprocess.run(
                    [sys.executable, EMULATOR, "--state-dir", tmp, "--listen", listen],
                    capture_output=True, timeout=10)
            self.assertNotEqual(proc.returncode, 0, listen)
            self.assertEqual(proc.stdout, b"", listen)
            self.assertIn(b"error", proc.stderr, listen)

    def test_ipv6_loopback(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        emu = Emulator("--listen", "[::1]:0")
        try:
            self.assertTrue(emu.url.startswith("http://[::1]:"))
            self.assertEqual(emu.make_token()[0], 200)
        finally:
            emu.stop()

    def test_without_credential_files(self):
        emu = Emulator(credentials=False)
        try:
            form = {"factory_auth": "a" * 32, "memo": "m", "kind": "aws-id"}
            self.assertEqual(emu.request("POST", FACTORY, form=form)[0], 403)
            self.assertEqual(emu.request("GET", LIST_FACTORIES + "?auth_token=x")[0], 403)
        finally:
            emu.stop()

    def test_sigterm_exits_cleanly(self):
        emu = Emulator()
        conn = emu.conn()
        conn.connect()      # an idle keep-alive connection must not block shutdown
        started = time.monotonic()
        rc = emu.stop()
        conn.close()
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - started, 3)

    def test_sigint_exits_cleanly(self):
        emu = Emulator()
        os.kill(emu.proc.pid, signal.SIGINT)
        self.assertEqual(emu.proc.wait(5), 0)
        emu.stop()


class Tls(unittest.TestCase):
    """HTTPS with a generated private CA, and with --cert/--key."""

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator("--tls")

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def test_generated_files_and_modes(self):
        self.assertTrue(self.emu.url.startswith("https://127.0.0.1:"))
        modes = {n: stat.S_IMODE(os.stat(os.path.join(self.emu.state, n)).st_mode)
                 for n in ("ca.pem", "server.pem", "server.key")}
        self.assertEqual(modes["server.key"], 0o600)
        self.assertFalse(any(n.endswith(".key") and n != "server.key"
                             for n in os.listdir(self.emu.state)))

    def test_token_over_tls_for_each_name(self):
        status, _, data = self.emu.make_token()
        self.assertEqual(status, 200)
        check_token(self, data["canarytoken"])
        self.assertIn(self.emu.jsonl("requests.jsonl")[-1]["tls"], ("TLSv1.2", "TLSv1.3"))
        conn = self.emu.conn(host="localhost")
        self.assertEqual(self.emu.request("GET", "/", conn=conn)[0], 404)
        conn.close()

    def test_ipv6_loopback_matches_certificate(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        emu = Emulator("--tls", "--listen", "[::1]:0")
        try:
            self.assertTrue(emu.url.startswith("https://[::1]:"))
            self.assertEqual(emu.make_token()[0], 200)
        finally:
            emu.stop()

    def test_untrusted_client_fails(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.emu.port, timeout=5,
                                           context=ssl.create_default_context())
        with self.assertRaises(ssl.SSLCertVerificationError):
            conn.request("GET", "/")
        conn.close()

    def test_tls_1_2_accepted(self):
        ctx = self.emu.context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", self.emu.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                self.assertEqual(tls.version(), "TLSv1.2")

    def test_tls_1_1_refused_by_server(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = self.emu.context()
            try:
                # Lower the client's own floor so any refusal must come from the server.
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            except (ValueError, ssl.SSLError):
                self.skipTest("client cannot offer TLS 1.1")
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with socket.create_connection(("127.0.0.1", self.emu.port), timeout=5) as raw:
                ctx.wrap_socket(raw, server_hostname="127.0.0.1").close()
        deadline = time.monotonic() + 3
        while "tls handshake failed" not in self.emu.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("tls handshake failed", self.emu.log())

    def test_given_cert_and_key(self):
        with tempfile.TemporaryDirectory() as keep:
            for name in ("ca.pem", "server.pem", "server.key"):
                with open(os.path.join(self.emu.state, name), "rb") as src, \
                        open(os.path.join(keep, name), "wb") as dst:
                    dst.write(src.read())
            emu = Emulator("--tls", "--cert", os.path.join(keep, "server.pem"),
                           "--key", os.path.join(keep, "server.key"))
            try:
                self.assertFalse(os.path.exists(os.path.join(emu.state, "ca.pem")))
                emu.cafile = os.path.join(keep, "ca.pem")
                self.assertEqual(emu.make_token()[0], 200)
            finally:
                emu.stop()


def main():
    started = time.monotonic()
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for case in (PlainEmulator, OtherModes, Tls):
        suite.addTests(loader.loadTestsFromTestCase(case))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print("%d passed, %d failed, %d skipped in %.1fs"
          % (passed, failed, len(result.skipped), time.monotonic() - started))
    return 1 if failed or result.testsRun == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
