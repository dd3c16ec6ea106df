"""The limits that keep one client from holding the emulator (auth.h, "Guard"), with small values
so each shows in seconds: idle connections close, a request whose headers or body arrive too
slowly is cut off, headers and bodies over their caps get a clear error in the request's own
protocol, a parked long poll outlives the idle timeout, parked calls beyond the cap get the
service's throttling error, and connections beyond the cap wait until one frees. After each, the
emulator still answers. Timings are bounds a correct server meets with wide margins; none is a
performance target.
"""
import concurrent.futures
import json
import socket
import threading
import time
import unittest
import xml.etree.ElementTree as ET

import botocore

import dsstest

IDLE = 2
REQUEST = 2
BODY_CAP = 65536


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def closed_after(sock, drip=None, limit=15.0):
    """Seconds until the server closes sock (sending drip every 0.5 s meanwhile), or None if it
    is still open after limit seconds."""
    start = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - start < limit:
        try:
            if drip:
                sock.sendall(drip)
            data = sock.recv(4096)
            if not data:
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:  # reset, or a broken pipe on the next send
            return time.monotonic() - start
    return None


def read_response(sock):
    """(status, headers, body) of one response on sock."""
    f = sock.makefile("rb")
    status = int(f.readline().split()[1])
    headers = {}
    for line in iter(f.readline, b"\r\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, f.read(int(headers.get("content-length", "0")))


class LimitsTest(dsstest.EmulatorTestCase):
    emulator_args = ("--idle-timeout", str(IDLE), "--request-timeout", str(REQUEST), "--max-header-bytes", "16384",
                     "--max-body-bytes", str(BODY_CAP), "--max-long-polls", "3")

    def assertHealthy(self):
        self.assertEqual(self.emulator.health()[0], 200)

    def test_idle_connection_is_closed(self):
        s = connect(self.emulator.port)
        took = closed_after(s)
        s.close()
        self.assertIsNotNone(took, "an idle connection stayed open")
        self.assertGreater(took, IDLE - 0.5)
        self.assertLess(took, IDLE + 5)
        # A connection in use between requests stays usable within the timeout.
        s = connect(self.emulator.port)
        for _ in range(3):
            s.sendall(b"GET /_dss/health HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(read_response(s)[0], 200)
            time.sleep(IDLE / 2)
        s.close()

    def test_slow_headers_are_cut_off(self):
        """A byte of header every half second never lets the idle timeout fire; the request
        timeout does."""
        s = connect(self.emulator.port)
        s.sendall(b"GET /_dss/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        took = closed_after(s, drip=b"a")
        s.close()
        self.assertIsNotNone(took, "a request dripping its headers was never cut off")
        self.assertGreater(took, REQUEST - 0.5)
        self.assertLess(took, REQUEST + 5)
        self.assertHealthy()

    def test_slow_body_is_cut_off(self):
        s = connect(self.emulator.port)
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
                  b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 60000\r\n\r\n")
        took = closed_after(s, drip=b"a" * 10)  # 20 bytes/s: far below 1 KiB/s
        s.close()
        self.assertIsNotNone(took, "a request dripping its body was never cut off")
        self.assertLess(took, REQUEST + 5)
        self.assertHealthy()

    def test_headers_over_the_cap(self):
        s = connect(self.emulator.port)
        s.sendall(b"GET /_dss/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
        status, _, _ = read_response(s)
        s.close()
        self.assertEqual(status, 431)
        s = connect(self.emulator.port)  # 8 KiB of headers are fine
        s.sendall(b"GET /_dss/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n")
        self.assertEqual(read_response(s)[0], 200)
        s.close()

    def test_bodies_over_the_cap_per_protocol(self):
        big = "x" * (BODY_CAP + 1)
        ddb = self.client("dynamodb")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ddb.put_item(TableName="limits", Item={"k": {"S": big}})
        self.assertEqual((e.exception.response["Error"]["Code"],
                          e.exception.response["ResponseMetadata"]["HTTPStatusCode"]), ("RequestEntityTooLarge", 413))
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName="limits-body")["QueueUrl"]
        with self.assertRaises(botocore.exceptions.ClientError) as e:  # Query or JSON, as this boto3 speaks
            sqs.send_message(QueueUrl=url, MessageBody=big)
        self.assertEqual((e.exception.response["Error"]["Code"],
                          e.exception.response["ResponseMetadata"]["HTTPStatusCode"]), ("RequestEntityTooLarge", 413))
        sqs.send_message(QueueUrl=url, MessageBody="x" * (BODY_CAP // 2))
        # A declared length over the cap is answered before a byte of body is sent.
        for target, ctype in (("X-Amz-Target: DynamoDB_20120810.PutItem", "application/x-amz-json-1.0"),
                              ("X-Ignored: 1", "application/x-www-form-urlencoded")):
            s = connect(self.emulator.port)
            s.sendall(("POST / HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: %s\r\nContent-Length: 10000000000\r\n\r\n"
                       % (target, ctype)).encode())
            s.settimeout(10)
            status, headers, body = read_response(s)
            s.close()
            self.assertEqual(status, 413)
            if "json" in ctype:
                self.assertTrue(json.loads(body)["__type"].endswith("#RequestEntityTooLarge"), body)
            else:
                self.assertEqual(ET.fromstring(body).find(".//{*}Code").text, "RequestEntityTooLarge")
        # S3 has its own caps: an object over 5 GiB is refused from its declared length.
        s3 = self.client("s3")
        s3.create_bucket(Bucket="limits-body")
        s = connect(self.emulator.port)
        s.sendall(b"PUT /limits-body/k HTTP/1.1\r\nHost: x\r\nContent-Length: 6000000000\r\n\r\n")
        s.settimeout(10)
        status, _, body = read_response(s)
        s.close()
        self.assertEqual((status, ET.fromstring(body).find("Code").text), (400, "EntityTooLarge"))
        self.assertHealthy()

    def test_long_poll_outlives_the_idle_timeout(self):
        """A 20 s long poll parks far longer than the 2 s idle timeout; one is answered empty at
        the end, another is woken by a message sent meanwhile."""
        sqs = self.client("sqs")
        empty = sqs.create_queue(QueueName="limits-lp-empty")["QueueUrl"]
        woken = sqs.create_queue(QueueName="limits-lp-woken")["QueueUrl"]

        def poll(url):
            start = time.monotonic()
            r = self.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=20)
            return time.monotonic() - start, [m["Body"] for m in r.get("Messages", [])]

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            f_empty, f_woken = pool.submit(poll, empty), pool.submit(poll, woken)
            time.sleep(3 * IDLE)
            sqs.send_message(QueueUrl=woken, MessageBody="late")
            took, bodies = f_woken.result(timeout=60)
            self.assertEqual(bodies, ["late"])
            self.assertGreater(took, 3 * IDLE - 1)
            took, bodies = f_empty.result(timeout=60)
            self.assertEqual(bodies, [])
            self.assertGreater(took, 19)

    def test_long_polls_over_the_cap_are_throttled(self):
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName="limits-cap")["QueueUrl"]
        parked = threading.Barrier(4, timeout=30)

        def poll(_):
            c = self.client("sqs")
            parked.wait()
            return c.receive_message(QueueUrl=url, WaitTimeSeconds=4).get("Messages", [])

        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            polls = [pool.submit(poll, i) for i in range(3)]
            parked.wait()
            time.sleep(1.0)  # the three are parked
            with self.assertRaises(botocore.exceptions.ClientError) as e:
                sqs.receive_message(QueueUrl=url, WaitTimeSeconds=4)
            self.assertEqual((e.exception.response["Error"]["Code"],
                              e.exception.response["ResponseMetadata"]["HTTPStatusCode"]), ("RequestThrottled", 400))
            self.assertIn("--max-long-polls", e.exception.response["Error"]["Message"])
            # A receive that does not wait is not a parked call.
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
            self.assertEqual([p.result(timeout=30) for p in polls], [[], [], []])
        self.assertEqual(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []), [])


class ConnectionLimitTest(dsstest.EmulatorTestCase):
    emulator_args = ("--max-connections", "16")

    def test_connections_over_the_cap_wait_for_a_free_one(self):
        held = [connect(self.emulator.port) for _ in range(16)]
        try:
            time.sleep(0.3)
            s = connect(self.emulator.port)
            s.sendall(b"GET /_dss/health HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                s.recv(1)
            held.pop().close()
            s.settimeout(10)
            self.assertEqual(read_response(s)[0], 200)
            s.close()
        finally:
            for h in held:
                h.close()
        self.assertEqual(self.emulator.health()[0], 200)


if __name__ == "__main__":
    unittest.main()
