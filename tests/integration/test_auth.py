"""dss-emulator --auth verify: signatures checked on every request, with each service's own error.

A credentials file with two profiles (alice, bob) is given to the emulator with --credentials and
to the AWS CLIs as their shared-credentials file. boto3 and both CLIs must work with either pair
and fail with a wrong secret or an unknown key exactly as AWS answers (code and HTTP status per
service); requests without a signature, with a malformed one, or dated more than 15 minutes off
are signed by hand here (an independent SigV4 signer: a request it signs with the right date is
accepted, so a refusal is the emulator's verdict, not the signer's bug). S3 presigned URLs (boto3's
default SigV2 form and SigV4, aws s3 presign) work for GET and PUT and expire; a chunk-signed
upload is verified chunk by chunk; a body that does not match x-amz-content-sha256 is refused and
nothing is stored. The binding rules and the /_dss/ control endpoints are checked on a
non-loopback address of this machine when it has one.
"""
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore
import botocore.config

import dsstest

ALICE = ("AKIDALICE000000000001", "alice/secret+key")
BOB = ("AKIDBOB00000000000002", "bob-secret")
CREDENTIALS = """# two profiles: the emulator's keys, and the CLIs' profiles
[alice]
aws_access_key_id = %s
aws_secret_access_key = %s
region = us-east-1

[bob]
aws_access_key_id=%s
aws_secret_access_key=%s
""" % (ALICE + BOB)
# Profiles only the CLIs know: a wrong secret, an unknown key.
CLI_ONLY = """[mallory]
aws_access_key_id = %s
aws_secret_access_key = not-the-secret

[stranger]
aws_access_key_id = AKIDNOBODY0000000000
aws_secret_access_key = whatever
""" % ALICE[0]

# What each service answers: (code, HTTP status) for a wrong secret, an unknown key, no signature.
WRONG_SECRET = {"sqs": ("SignatureDoesNotMatch", 403), "dynamodb": ("InvalidSignatureException", 400),
                "s3": ("SignatureDoesNotMatch", 403), "ec2": ("AuthFailure", 401),
                "autoscaling": ("SignatureDoesNotMatch", 403), "ssm": ("InvalidSignatureException", 400)}
UNKNOWN_KEY = {"sqs": ("InvalidClientTokenId", 403), "dynamodb": ("UnrecognizedClientException", 400),
               "s3": ("InvalidAccessKeyId", 403), "ec2": ("AuthFailure", 401),
               "autoscaling": ("InvalidClientTokenId", 403), "ssm": ("UnrecognizedClientException", 400)}
MISSING = {"sqs": ("MissingAuthenticationToken", 403), "dynamodb": ("MissingAuthenticationTokenException", 400),
           "s3": ("AccessDenied", 403), "ec2": ("MissingAuthenticationToken", 403),
           "autoscaling": ("MissingAuthenticationToken", 403), "ssm": ("MissingAuthenticationTokenException", 400)}


def call_each_service(client_for):
    """One cheap read per service; returns {service: None or (code, status)}."""
    calls = {"sqs": lambda c: c.list_queues(), "dynamodb": lambda c: c.list_tables(),
             "s3": lambda c: c.list_buckets(), "ec2": lambda c: c.describe_instances(),
             "autoscaling": lambda c: c.describe_auto_scaling_groups(),
             "ssm": lambda c: c.describe_instance_information()}
    out = {}
    for service, call in calls.items():
        c = client_for(service)
        try:
            call(c)
            out[service] = None
        except botocore.exceptions.ClientError as e:
            out[service] = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        finally:
            getattr(c, "close", lambda: None)()
    return out


# ---- an independent SigV4 signer ----

def amz_date(offset_s=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y%m%dT%H%M%SZ")


def signing_key(secret, date, service, region="us-east-1"):
    k = ("AWS4" + secret).encode()
    for part in (date[:8], region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def sign(method, path, headers, body=b"", key=ALICE, service="dynamodb", date=None, payload=None, query=""):
    """Returns headers (lower-case names) with x-amz-date and Authorization added; path and query
    must need no escaping. payload: the payload hash to sign (default: the body's)."""
    date = date or amz_date()
    h = {k.lower(): v for k, v in headers.items()}
    h["x-amz-date"] = date
    payload = payload or hashlib.sha256(body).hexdigest()
    names = sorted(h)
    canonical = "\n".join([method, path, "&".join(sorted(query.split("&"))) if query else "",
                           "".join("%s:%s\n" % (n, " ".join(str(h[n]).split())) for n in names),
                           ";".join(names), payload])
    scope = "%s/us-east-1/%s/aws4_request" % (date[:8], service)
    sts = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    sig = hmac.new(signing_key(key[1], date, service), sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        key[0], scope, ";".join(names), sig)
    return h, sig, scope, date


def http_call(port, method, path, headers, body=b"", host="127.0.0.1"):
    """(status, lower-case headers, body) of one request."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def xml_code(body):
    root = ET.fromstring(body)
    code = root.find(".//{*}Code")
    if code is None:
        code = root.find(".//Code")
    message = root.find(".//{*}Message")
    if message is None:
        message = root.find(".//Message")
    return code.text, message.text if message is not None else None


def aws_env(creds_path, profile):
    env = dict(os.environ)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    env.update({"AWS_SHARED_CREDENTIALS_FILE": creds_path, "AWS_CONFIG_FILE": os.devnull, "AWS_PROFILE": profile,
                "AWS_DEFAULT_REGION": "us-east-1"})
    return env


def clis():
    """The AWS CLIs on this machine: Debian's v2, and the one on PATH when it is another."""
    found = []
    if os.path.exists("/usr/bin/aws"):
        found.append("/usr/bin/aws")
    on_path = shutil.which("aws")
    if on_path and os.path.realpath(on_path) != "/usr/bin/aws":
        found.append(on_path)
    return found


def non_loopback_ipv4():
    """An IPv4 address of this machine other than loopback, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # UDP: no packet is sent; the route picks the address
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


class AuthVerifyTest(dsstest.EmulatorTestCase):
    """One emulator with --auth verify and the two-profile credentials file."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dss-test-auth-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.creds = os.path.join(cls.tmp, "credentials")
        with open(cls.creds, "w") as f:
            f.write(CREDENTIALS)
        cls.cli_creds = os.path.join(cls.tmp, "cli-credentials")
        with open(cls.cli_creds, "w") as f:
            f.write(CREDENTIALS + "\n" + CLI_ONLY)
        cls.emulator_args = ("--auth", "verify", "--credentials", cls.creds)
        super().setUpClass()
        cls.port = cls.emulator.port

    def client(self, service, key=ALICE, **config):
        cfg = botocore.config.Config(retries={"max_attempts": 0}, read_timeout=60, **config)
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=key[0],
                            aws_secret_access_key=key[1], config=cfg)

    # ---- boto3 ----

    def test_both_profiles_work_with_every_service(self):
        for key in (ALICE, BOB):
            self.assertEqual(call_each_service(lambda s: self.client(s, key)),
                             {s: None for s in WRONG_SECRET}, key[0])
        q = self.client("sqs", BOB).create_queue(QueueName="auth-bob")["QueueUrl"]
        self.client("sqs", ALICE).send_message(QueueUrl=q, MessageBody="from alice")
        msgs = self.client("sqs", BOB).receive_message(QueueUrl=q, WaitTimeSeconds=1)["Messages"]
        self.assertEqual(msgs[0]["Body"], "from alice")
        self.client("dynamodb", BOB).create_table(
            TableName="auth_t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        self.client("dynamodb").put_item(TableName="auth_t", Item={"k": {"S": "x"}, "v": {"N": "1"}})
        item = self.client("dynamodb", BOB).get_item(TableName="auth_t", Key={"k": {"S": "x"}})["Item"]
        self.assertEqual(item["v"], {"N": "1"})

    def test_wrong_secret_each_service(self):
        wrong = (ALICE[0], "not-the-secret")
        self.assertEqual(call_each_service(lambda s: self.client(s, wrong)), WRONG_SECRET)

    def test_unknown_key_each_service(self):
        stranger = ("AKIDNOBODY0000000000", "whatever")
        self.assertEqual(call_each_service(lambda s: self.client(s, stranger)), UNKNOWN_KEY)

    def test_unsigned_requests_each_service(self):
        unsigned = botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 0})
        got = call_each_service(lambda s: boto3.client(s, endpoint_url=self.endpoint, region_name="us-east-1",
                                                       config=unsigned))
        self.assertEqual(got, MISSING)

    def test_s3_objects_with_every_payload_form(self):
        s3 = self.client("s3")
        s3.create_bucket(Bucket="auth-objects")
        body = os.urandom(300000)
        s3.put_object(Bucket="auth-objects", Key="dir/a b+c", Body=body)  # http: payload signed
        self.assertEqual(s3.get_object(Bucket="auth-objects", Key="dir/a b+c")["Body"].read(), body)
        unsigned_payload = self.client("s3", s3={"payload_signing_enabled": False})
        unsigned_payload.put_object(Bucket="auth-objects", Key="k2", Body=b"two")
        self.assertEqual(s3.get_object(Bucket="auth-objects", Key="k2")["Body"].read(), b"two")
        listed = [o["Key"] for o in self.client("s3", BOB).list_objects_v2(Bucket="auth-objects", Prefix="dir/")["Contents"]]
        self.assertEqual(listed, ["dir/a b+c"])
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.client("s3", (ALICE[0], "x")).head_object(Bucket="auth-objects", Key="k2")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)

    # ---- hand-signed ----

    def ddb_headers(self, target="ListTables"):
        return {"Host": "127.0.0.1:%d" % self.port, "X-Amz-Target": "DynamoDB_20120810." + target,
                "Content-Type": "application/x-amz-json-1.0"}

    def test_hand_signed_requests_and_skewed_dates(self):
        port = self.port
        # The signer is right: a request it dates now is accepted, by DynamoDB and by SQS.
        h, *_ = sign("POST", "/", self.ddb_headers(), b"{}")
        self.assertEqual(http_call(port, "POST", "/", h, b"{}")[0], 200)
        form = b"Action=ListQueues&Version=2012-11-05"
        qh = {"Host": "127.0.0.1:%d" % port, "Content-Type": "application/x-www-form-urlencoded"}
        h, *_ = sign("POST", "/", qh, form, service="sqs")
        self.assertEqual(http_call(port, "POST", "/", h, form)[0], 200)
        for skew in (-20 * 60, 20 * 60):
            date = amz_date(skew)
            # DynamoDB: 400 InvalidSignatureException, "Signature expired" / "not yet current".
            h, *_ = sign("POST", "/", self.ddb_headers(), b"{}", date=date)
            status, hdrs, body = http_call(port, "POST", "/", h, b"{}")
            err = json.loads(body)
            self.assertEqual((status, err["__type"].split("#")[-1]), (400, "InvalidSignatureException"), body)
            self.assertRegex(err["message"], r"^Signature (expired: \d{8}T\d{6}Z is now earlier than|not yet current:)")
            # SQS Query: 403 SignatureDoesNotMatch in <ErrorResponse>.
            h, *_ = sign("POST", "/", qh, form, service="sqs", date=date)
            status, _, body = http_call(port, "POST", "/", h, form)
            self.assertEqual((status, xml_code(body)[0]), (403, "SignatureDoesNotMatch"), body)
            self.assertIn("Signature ", xml_code(body)[1])
            # EC2: 400 RequestExpired.
            ec2_form = b"Action=DescribeInstances&Version=2016-11-15"
            h, *_ = sign("POST", "/", qh, ec2_form, service="ec2", date=date)
            status, _, body = http_call(port, "POST", "/", h, ec2_form)
            self.assertEqual((status, xml_code(body)[0]), (400, "RequestExpired"), body)
            # S3: 403 RequestTimeTooSkewed with the times in the document.
            sh = {"Host": "127.0.0.1:%d" % port, "x-amz-content-sha256": hashlib.sha256(b"").hexdigest()}
            h, *_ = sign("GET", "/", sh, service="s3", date=date)
            status, _, body = http_call(port, "GET", "/", h)
            self.assertEqual((status, xml_code(body)[0]), (403, "RequestTimeTooSkewed"), body)
            self.assertIn(b"<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>", body)
        # 14 minutes off is within the allowance.
        h, *_ = sign("POST", "/", self.ddb_headers(), b"{}", date=amz_date(-14 * 60))
        self.assertEqual(http_call(port, "POST", "/", h, b"{}")[0], 200)

    def test_tampered_and_malformed_requests(self):
        port = self.port
        # The body is signed: changing it after signing is a signature mismatch.
        h, *_ = sign("POST", "/", self.ddb_headers("DescribeTable"), b'{"TableName":"a"}')
        status, _, body = http_call(port, "POST", "/", h, b'{"TableName":"b"}')
        self.assertEqual((status, json.loads(body)["__type"].split("#")[-1]), (400, "InvalidSignatureException"))
        # Malformed Authorization: IncompleteSignature in each family's words.
        bad = "AWS4-HMAC-SHA256 Credential=%s/20240101/us-east-1/dynamodb/aws4_request" % ALICE[0]
        h = dict(self.ddb_headers(), Authorization=bad, **{"X-Amz-Date": amz_date()})
        status, _, body = http_call(port, "POST", "/", h, b"{}")
        err = json.loads(body)
        self.assertEqual((status, err["__type"].split("#")[-1]), (400, "IncompleteSignatureException"))
        self.assertIn("Authorization header requires 'Signature' parameter.", err["message"])
        form = b"Action=ListQueues&Version=2012-11-05"
        h = {"Host": "127.0.0.1:%d" % port, "Content-Type": "application/x-www-form-urlencoded",
             "Authorization": bad.replace("dynamodb", "sqs"), "X-Amz-Date": amz_date()}
        status, _, body = http_call(port, "POST", "/", h, form)
        self.assertEqual((status, xml_code(body)[0]), (400, "IncompleteSignature"), body)
        h = {"Host": "127.0.0.1:%d" % port, "Authorization": bad.replace("dynamodb", "s3"),
             "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "X-Amz-Date": amz_date()}
        status, _, body = http_call(port, "GET", "/", h)
        self.assertEqual((status, xml_code(body)[0]), (400, "AuthorizationHeaderMalformed"), body)
        # Signed for another service than the one called.
        h, *_ = sign("POST", "/", self.ddb_headers(), b"{}", service="sqs")
        status, _, body = http_call(port, "POST", "/", h, b"{}")
        self.assertEqual(json.loads(body)["message"], "Credential should be scoped to correct service: 'dynamodb'. ")
        # S3 wants x-amz-content-sha256.
        h, *_ = sign("GET", "/", {"Host": "127.0.0.1:%d" % port}, service="s3")
        status, _, body = http_call(port, "GET", "/", h)
        self.assertEqual((status, xml_code(body)[0]), (400, "InvalidRequest"), body)
        # Nothing was created by any of it, and the server is fine.
        self.assertEqual(self.emulator.health()[0], 200)

    def test_s3_body_must_match_its_signed_hash(self):
        s3 = self.client("s3")
        s3.create_bucket(Bucket="auth-sha")
        host = {"Host": "127.0.0.1:%d" % self.port}
        claimed = hashlib.sha256(b"the body I signed").hexdigest()
        h, *_ = sign("PUT", "/auth-sha/k", dict(host, **{"x-amz-content-sha256": claimed}), service="s3",
                     payload=claimed)
        status, _, body = http_call(self.port, "PUT", "/auth-sha/k", h, b"another body")
        self.assertEqual((status, xml_code(body)[0]), (400, "XAmzContentSHA256Mismatch"), body)
        self.assertIn(claimed.encode(), body)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            s3.head_object(Bucket="auth-sha", Key="k")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        h, *_ = sign("PUT", "/auth-sha/k", dict(host, **{"x-amz-content-sha256": claimed}), service="s3",
                     payload=claimed)
        self.assertEqual(http_call(self.port, "PUT", "/auth-sha/k", h, b"the body I signed")[0], 200)
        self.assertEqual(s3.get_object(Bucket="auth-sha", Key="k")["Body"].read(), b"the body I signed")

    def chunk_signed_put(self, key, chunks, spoil=None):
        """PUTs chunks as a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body; spoil(i, sig) may change a
        chunk's signature. Returns (status, body)."""
        body_len = sum(len(c) for c in chunks)
        sigs_len = sum(len("%x;chunk-signature=" % len(c)) + 64 + 4 + len(c) for c in chunks + [b""])
        headers = {"Host": "127.0.0.1:%d" % self.port, "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                   "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(body_len),
                   "Content-Length": str(sigs_len)}
        h, seed, scope, date = sign("PUT", "/auth-chunks/" + key, headers, service="s3",
                                    payload="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        k = signing_key(ALICE[1], date, "s3")
        prev, out = seed, b""
        for i, c in enumerate(chunks + [b""]):
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", date, scope, prev, hashlib.sha256(b"").hexdigest(),
                             hashlib.sha256(c).hexdigest()])
            sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
            prev = sig
            if spoil:
                sig = spoil(i, sig)
            out += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(c), sig.encode(), c)
        self.assertEqual(len(out), sigs_len)
        status, _, body = http_call(self.port, "PUT", "/auth-chunks/" + key, h, out)
        return status, body

    def test_chunk_signed_upload(self):
        s3 = self.client("s3")
        s3.create_bucket(Bucket="auth-chunks")
        chunks = [os.urandom(65536), os.urandom(65536), b"tail"]
        status, body = self.chunk_signed_put("good", chunks)
        self.assertEqual(status, 200, body)
        self.assertEqual(s3.get_object(Bucket="auth-chunks", Key="good")["Body"].read(), b"".join(chunks))
        # One chunk signed wrong: refused, and nothing stored.
        status, body = self.chunk_signed_put("bad", chunks, lambda i, s: s if i != 1 else "0" * 64)
        self.assertEqual((status, xml_code(body)[0]), (403, "SignatureDoesNotMatch"), body)
        with self.assertRaises(botocore.exceptions.ClientError):
            s3.head_object(Bucket="auth-chunks", Key="bad")

    # ---- presigned URLs ----

    def test_presigned_get_put_and_expiry(self):
        s3 = self.client("s3")
        s3.create_bucket(Bucket="auth-presign")
        s3.put_object(Bucket="auth-presign", Key="a key", Body=b"presigned!")
        short = []
        for version in (None, "s3v4"):  # boto3's default (SigV2 query) and SigV4
            c = self.client("s3", BOB, signature_version=version) if version else self.client("s3", BOB)
            url = c.generate_presigned_url("get_object", Params={"Bucket": "auth-presign", "Key": "a key"},
                                           ExpiresIn=300)
            with urllib.request.urlopen(url, timeout=30) as r:
                self.assertEqual(r.read(), b"presigned!", version)
            put = c.generate_presigned_url("put_object", Params={"Bucket": "auth-presign", "Key": "up-%s" % version},
                                           ExpiresIn=300)
            req = urllib.request.Request(put, data=b"uploaded", method="PUT", headers={"Content-Type": ""})
            with urllib.request.urlopen(req, timeout=30) as r:
                self.assertEqual(r.status, 200)
            self.assertEqual(s3.get_object(Bucket="auth-presign", Key="up-%s" % version)["Body"].read(), b"uploaded")
            # Tampering with the URL breaks it.
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(url.replace("a%20key", "b%20key"), timeout=30)
            self.assertEqual(e.exception.code, 403)
            self.assertEqual(xml_code(e.exception.read())[0], "SignatureDoesNotMatch")
            short.append(c.generate_presigned_url("get_object", Params={"Bucket": "auth-presign", "Key": "a key"},
                                                  ExpiresIn=1))
        time.sleep(2.2)
        for url in short:
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(url, timeout=30)
            self.assertEqual(e.exception.code, 403, url)
            self.assertEqual(xml_code(e.exception.read()), ("AccessDenied", "Request has expired"), url)

    # ---- the AWS CLIs ----

    def cli(self, exe, profile, *args):
        p = subprocess.run([exe, "--endpoint-url", self.endpoint, "--output", "json"] + list(args),
                           env=aws_env(self.cli_creds, profile), capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def test_aws_cli_profiles(self):
        exes = clis()
        if not exes:
            self.skipTest("no AWS CLI on this machine")
        self.client("s3").create_bucket(Bucket="auth-cli")
        self.client("s3").put_object(Bucket="auth-cli", Key="f.txt", Body=b"cli")
        # (profile, command, the error code expected in stderr or None); the CLIs start slowly,
        # so every invocation runs at once.
        runs = [(exe, profile, args, code) for exe in exes for profile, args, code in (
            ("bob", ["s3", "ls", "s3://auth-cli"], None),
            ("mallory", ["sqs", "list-queues"], "SignatureDoesNotMatch"),
            ("stranger", ["dynamodb", "list-tables"], "UnrecognizedClientException"),
            ("alice", ["s3", "presign", "s3://auth-cli/f.txt", "--expires-in", "120"], None))]
        with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
            results = list(pool.map(lambda r: self.cli(r[0], r[1], *r[2]), runs))
        for (exe, profile, args, code), (rc, out, err) in zip(runs, results):
            what = (exe, profile, args[:2], err[-500:])
            if code:
                self.assertNotEqual(rc, 0, what)
                self.assertIn("(%s)" % code, err, what)
                continue
            self.assertEqual(rc, 0, what)
            if args[1] == "ls":
                self.assertIn("f.txt", out)
            if args[1] == "presign":  # SigV4 from CLI v2, SigV2 from v1: both fetchable, signed by alice
                url = out.strip()
                self.assertIn(ALICE[0], urllib.parse.unquote(url))
                with urllib.request.urlopen(url, timeout=30) as r:
                    self.assertEqual(r.read(), b"cli", exe)


class ControlAndBindingTest(unittest.TestCase):
    """Which addresses the emulator may bind, and who may use /_dss/ endpoints."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dss-test-auth-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.creds = os.path.join(cls.tmp, "credentials")
        with open(cls.creds, "w") as f:
            f.write(CREDENTIALS)

    def start(self, listen, *args):
        """Starts an emulator; returns (process, first line of output)."""
        cmd = dsstest.WRAPPER + [os.path.join(dsstest.BIN, "dss-emulator"), "--listen", listen, "--ephemeral"]
        p = subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(dsstest.stop_process, p)
        dsstest._live.append(p)
        return p, p.stdout.readline()

    def stop(self, p):
        """Stops a running emulator; a clean exit (no sanitizer report) is part of the test."""
        dsstest.stop_process(p)
        self.assertEqual(p.returncode, 0)

    def test_loopback_verify_control_is_open_and_start_line_says_so(self):
        p, line = self.start("127.0.0.1:0", "--auth", "verify", "--credentials", self.creds)
        self.assertIn("auth: verify, 2 key pairs", line)
        port = int(re.search(r":(\d+) ", line).group(1))
        for path in ("/_dss/health", "/_dss/instances"):
            self.assertEqual(http_call(port, "GET", path, {})[0], 200, path)
        self.stop(p)

    def test_bad_credentials_file_is_refused_at_start(self):
        bad = os.path.join(self.tmp, "bad")
        with open(bad, "w") as f:
            f.write("[p]\naws_access_key_id = A\n")
        p, line = self.start("127.0.0.1:0", "--auth", "verify", "--credentials", bad)
        self.assertEqual(line, "")
        self.assertEqual(p.wait(timeout=30), 2)
        self.assertIn("profile [p] has aws_access_key_id without aws_secret_access_key", p.stderr.read())
        p, line = self.start("127.0.0.1:0", "--auth", "verify", "--credentials", os.path.join(self.tmp, "missing"))
        self.assertEqual(p.wait(timeout=30), 2)

    def test_public_address_needs_auth_or_an_explicit_flag(self):
        ip = non_loopback_ipv4()
        if not ip:
            self.skipTest("this machine has no non-loopback IPv4 address")
        p, line = self.start(ip + ":0")
        self.assertEqual(p.wait(timeout=30), 2)
        self.assertIn("--insecure-public", p.stderr.read())
        # --insecure-public: served, and said so; control endpoints closed to non-loopback peers.
        p, line = self.start(ip + ":0", "--insecure-public")
        self.assertIn("PUBLIC address WITHOUT authentication (--insecure-public)", line)
        port = int(re.search(r":(\d+) ", line).group(1))
        self.assertEqual(http_call(port, "GET", "/_dss/health", {}, host=ip)[0], 200)
        status, _, body = http_call(port, "GET", "/_dss/instances", {}, host=ip)
        self.assertEqual((status, xml_code(body)[0]), (403, "AccessDenied"), body)
        self.stop(p)
        # --auth verify: control endpoints answer a signed request from a non-loopback peer.
        p, line = self.start(ip + ":0", "--auth", "verify", "--credentials", self.creds)
        self.assertIn("PUBLIC address: signed requests only", line)
        port = int(re.search(r":(\d+) ", line).group(1))
        host = {"Host": "%s:%d" % (ip, port)}
        status, _, body = http_call(port, "GET", "/_dss/instances", host, host=ip)
        self.assertEqual((status, xml_code(body)[0]), (403, "MissingAuthenticationToken"), body)
        h, *_ = sign("GET", "/_dss/instances", host, service="dss")
        self.assertEqual(http_call(port, "GET", "/_dss/instances", h, host=ip)[0], 200)
        h, *_ = sign("GET", "/_dss/instances", host, key=(ALICE[0], "wrong"), service="dss")
        self.assertEqual(http_call(port, "GET", "/_dss/instances", h, host=ip)[0], 403)
        # And the APIs themselves, from there, with boto3.
        sqs = boto3.client("sqs", endpoint_url="http://%s:%d" % (ip, port), region_name="us-east-1",
                           aws_access_key_id=BOB[0], aws_secret_access_key=BOB[1])
        self.assertIn("QueueUrl", sqs.create_queue(QueueName="public"))
        self.stop(p)


if __name__ == "__main__":
    unittest.main()
