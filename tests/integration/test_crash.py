"""Crash safety: a mixed load (SQS sends, receives and deletes; DynamoDB puts, updates and
deletes; S3 uploads and deletes once the emulator serves S3) runs from several threads, the
emulator is SIGKILLed at a random moment, restarted on the same data directory, and what it
holds is checked against what its clients were told:

  - no acknowledged message, item or object is lost, and nothing appears that was never sent;
  - no acknowledged delete is undone;
  - an update that was acknowledged counted exactly once (an in-flight one at most once);
  - no object is torn: every object reads back byte-exact as one of the bodies written to it;
  - SQLite's PRAGMA integrity_check answers ok.

"Acknowledged" means the client read a complete 200 answer; a request cut off by the kill may
have happened or not, and either outcome is accepted. Each thread owns its keys and runs its
requests one after another, so for every key the test knows the last acknowledged state and
the one in-flight change that may also have landed.

Requests are plain JSON-protocol (SQS, DynamoDB) and REST (S3) calls over http.client, so a
failed request is seen exactly where it failed. The CI run is CYCLES kill cycles;
tests/crash/crash-loop runs the same cycles for as long as asked (--cycles, --seed).
"""
import base64
import hashlib
import http.client
import json
import os
import random
import shutil
import sqlite3
import tempfile
import threading
import time
import unittest
import urllib.parse

import dsstest

CYCLES = int(os.environ.get("DSS_CRASH_CYCLES", "5"))
QUEUE = "crash-queue"
TABLE = "crash_table"
BUCKET = "crash-bucket"
KEYS_PER_THREAD = 8
RECEIVE_VISIBILITY = 2  # seconds; a delete acknowledged later than DELETE_MARGIN after its receive is not counted
DELETE_MARGIN = 1.0


class Unacknowledged(Exception):
    """The request was cut off (connection refused, reset, closed, timed out)."""


class Rejected(Exception):
    """The emulator answered with an error: never expected during the load."""


class Client:
    """One persistent connection to the emulator; every call is acknowledged or raises."""

    def __init__(self, port, timeout=30):
        self.port, self.timeout, self.conn = port, timeout, None

    def request(self, method, path, body=b"", headers=None):
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise Unacknowledged(repr(e))
        if r.status >= 300:
            raise Rejected("%s %s -> %d %s" % (method, path, r.status, data[:300]))
        return data

    def json(self, target, params):
        data = self.request("POST", "/", json.dumps(params).encode(),
                            {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
        return json.loads(data) if data else {}

    def sqs(self, op, **params):
        return self.json("AmazonSQS." + op, params)

    def ddb(self, op, **params):
        return self.json("DynamoDB_20120810." + op, params)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Ledger:
    """What the clients were told, across every cycle."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = set()            # message bodies whose send was acknowledged
        self.sent_maybe = set()      # sends cut off by a kill
        self.deleted = set()         # bodies whose delete was acknowledged in time
        self.deleted_maybe = set()   # deletes cut off, or acknowledged too late to be sure
        self.items = {}              # key -> item (None: absent), as last acknowledged
        self.items_maybe = {}        # key -> the item an in-flight request would have left
        self.objects = {}            # key -> body bytes (None: absent), as last acknowledged
        self.objects_maybe = {}      # key -> the body an in-flight request would have left
        self.errors = []             # rejected requests and other surprises


# ---- the load ----

def sqs_producer(client, ledger, url, tag, stop):
    seq = 0
    while not stop.is_set():
        body = "%s-m%d-%s" % (tag, seq, "x" * (seq % 50))
        seq += 1
        try:
            if seq % 4 == 0:
                entries = [{"Id": "e%d" % i, "MessageBody": body + "-b%d" % i} for i in range(3)]
                out = client.sqs("SendMessageBatch", QueueUrl=url, Entries=entries)
                ok = {e["Id"] for e in out.get("Successful", [])}
                with ledger.lock:
                    for e in entries:
                        (ledger.sent if e["Id"] in ok else ledger.sent_maybe).add(e["MessageBody"])
                    if out.get("Failed"):
                        ledger.errors.append("SendMessageBatch failed entries: %r" % out["Failed"])
            else:
                client.sqs("SendMessage", QueueUrl=url, MessageBody=body)
                with ledger.lock:
                    ledger.sent.add(body)
        except Unacknowledged:
            with ledger.lock:
                if seq % 4 == 0:
                    ledger.sent_maybe.update(body + "-b%d" % i for i in range(3))
                else:
                    ledger.sent_maybe.add(body)
            return


def sqs_consumer(client, ledger, url, stop):
    while not stop.is_set():
        try:
            out = client.sqs("ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10,
                             VisibilityTimeout=RECEIVE_VISIBILITY)
        except Unacknowledged:
            return
        received_at = time.monotonic()
        for m in out.get("Messages", []):
            try:
                client.sqs("DeleteMessage", QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            except Unacknowledged:
                with ledger.lock:
                    ledger.deleted_maybe.add(m["Body"])
                return
            in_time = time.monotonic() - received_at < DELETE_MARGIN
            with ledger.lock:
                (ledger.deleted if in_time else ledger.deleted_maybe).add(m["Body"])


def ddb_worker(client, ledger, tid, tag, stop, rng):
    """Puts, updates (a counter and a value) and deletes this thread's own keys."""
    keys = ["t%d-k%d" % (tid, i) for i in range(KEYS_PER_THREAD)]
    seq = 0
    while not stop.is_set():
        key = rng.choice(keys)
        seq += 1
        with ledger.lock:
            before = ledger.items.get(key)
        value = "%s-v%d" % (tag, seq)
        roll = rng.random()
        if roll < 0.4:
            after = {"pk": {"S": key}, "v": {"S": value}, "c": {"N": "0"}, "blob": {"B": base64.b64encode(
                hashlib.sha256(value.encode()).digest() * (1 + seq % 20)).decode()}}
            call = ("PutItem", {"TableName": TABLE, "Item": after})
        elif roll < 0.8:
            after = dict(before) if before else {"pk": {"S": key}}
            after["c"] = {"N": str(int(before["c"]["N"]) + 1 if before and "c" in before else 1)}
            after["v"] = {"S": value}
            call = ("UpdateItem", {"TableName": TABLE, "Key": {"pk": {"S": key}},
                                   "UpdateExpression": "ADD c :one SET v = :v",
                                   "ExpressionAttributeValues": {":one": {"N": "1"}, ":v": {"S": value}}})
        else:
            after = None
            call = ("DeleteItem", {"TableName": TABLE, "Key": {"pk": {"S": key}}})
        try:
            client.ddb(call[0], **call[1])
        except Unacknowledged:
            with ledger.lock:
                ledger.items_maybe[key] = after
            return
        with ledger.lock:
            ledger.items[key] = after


def s3_worker(client, ledger, tid, tag, stop, rng):
    """Uploads (some large enough to take a while) and deletes this thread's own objects."""
    keys = ["t%d/o%d" % (tid, i) for i in range(KEYS_PER_THREAD)]
    seq = 0
    while not stop.is_set():
        key = rng.choice(keys)
        seq += 1
        path = "/%s/%s" % (BUCKET, key)
        if rng.random() < 0.75:
            block = hashlib.sha256(("%s-%d" % (tag, seq)).encode()).digest()
            after = block * rng.choice((1, 100, 4000, 40000))  # up to 1.3 MB
            method, body = "PUT", after
        else:
            after, method, body = None, "DELETE", b""
        try:
            client.request(method, path, body)
        except Unacknowledged:
            with ledger.lock:
                ledger.objects_maybe[key] = after
            return
        with ledger.lock:
            ledger.objects[key] = after


# ---- a cycle: load, kill, restart, check ----

def run_load(port, ledger, rng, cycle, s3, threads=None):
    """Starts the load threads (thread tid owns its keys in every cycle; what it writes is
    tagged with the cycle, so no two cycles write the same message body or value). Returns
    the stop event and the threads; the caller kills the emulator and joins them."""
    stop = threading.Event()
    url = queue_url(port)
    workers = []
    n = threads or {"producers": 2, "consumers": 4, "ddb": 3, "s3": 2 if s3 else 0}
    tid = 0
    for kind, count in n.items():
        for _ in range(count):
            tid += 1
            client = Client(port)
            wrng = random.Random(rng.random())
            tag = "c%dt%d" % (cycle, tid)
            target = {"producers": lambda c=client, g=tag: sqs_producer(c, ledger, url, g, stop),
                      "consumers": lambda c=client: sqs_consumer(c, ledger, url, stop),
                      "ddb": lambda c=client, t=tid, g=tag, r=wrng: ddb_worker(c, ledger, t, g, stop, r),
                      "s3": lambda c=client, t=tid, g=tag, r=wrng: s3_worker(c, ledger, t, g, stop, r)}[kind]

            def guarded(fn=target, c=client):
                try:
                    fn()
                except Rejected as e:
                    with ledger.lock:
                        ledger.errors.append(str(e))
                except Exception as e:  # a bug in the test itself must not pass silently
                    with ledger.lock:
                        ledger.errors.append("load thread: %r" % e)
                finally:
                    c.close()

            workers.append(threading.Thread(target=guarded, daemon=True))
    for w in workers:
        w.start()
    return stop, workers


def queue_url(port):
    c = Client(port)
    try:
        return c.sqs("GetQueueUrl", QueueName=QUEUE)["QueueUrl"]
    finally:
        c.close()


def create_resources(port, s3):
    c = Client(port)
    c.sqs("CreateQueue", QueueName=QUEUE)
    c.ddb("CreateTable", TableName=TABLE, BillingMode="PAY_PER_REQUEST",
          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    if s3:
        c.request("PUT", "/" + BUCKET)
    c.close()


def drain_queue(c, url, deadline_s=15.0):
    """Every message in the queue (visible or in flight), each made visible again afterwards."""
    attrs = c.sqs("GetQueueAttributes", QueueUrl=url, AttributeNames=["All"])["Attributes"]
    total = sum(int(attrs[a]) for a in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                        "ApproximateNumberOfMessagesDelayed"))
    found, handles = {}, []
    deadline = time.monotonic() + deadline_s
    while len(found) < total and time.monotonic() < deadline:
        out = c.sqs("ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=1)
        for m in out.get("Messages", []):
            found[m["Body"]] = found.get(m["Body"], 0) + 1
            handles.append(m["ReceiptHandle"])
    for i in range(0, len(handles), 10):
        entries = [{"Id": "h%d" % k, "ReceiptHandle": h, "VisibilityTimeout": 0}
                   for k, h in enumerate(handles[i:i + 10])]
        c.sqs("ChangeMessageVisibilityBatch", QueueUrl=url, Entries=entries)
    return total, found


def check_state(port, ledger, data_dir, s3):
    """Compares what the restarted emulator holds with the ledger; returns a list of problems
    and brings the ledger up to date (the uncertain outcomes are now known)."""
    problems = []
    c = Client(port)
    url = queue_url(port)
    total, found = drain_queue(c, url)
    present = set(found)
    if len(present) != total:
        problems.append("SQS: the queue reports %d messages but %d could be received" % (total, len(present)))
    dups = {b: n for b, n in found.items() if n > 1}
    if dups:
        problems.append("SQS: messages received twice while invisible: %r" % sorted(dups)[:5])
    lost = ledger.sent - ledger.deleted - ledger.deleted_maybe - present
    if lost:
        problems.append("SQS: %d acknowledged messages lost, e.g. %r" % (len(lost), sorted(lost)[:5]))
    undone = present & ledger.deleted
    if undone:
        problems.append("SQS: %d acknowledged deletes undone, e.g. %r" % (len(undone), sorted(undone)[:5]))
    invented = present - ledger.sent - ledger.sent_maybe
    if invented:
        problems.append("SQS: %d messages never sent, e.g. %r" % (len(invented), sorted(invented)[:5]))
    # What is in the queue now is known; a body received again is present, not deleted.
    ledger.sent |= present
    ledger.sent_maybe -= present
    ledger.deleted |= (ledger.sent_maybe | ledger.deleted_maybe) - present
    ledger.sent_maybe.clear()
    ledger.deleted_maybe.clear()

    for key in sorted(set(ledger.items) | set(ledger.items_maybe)):
        got = c.ddb("GetItem", TableName=TABLE, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        allowed = [ledger.items.get(key)] + ([ledger.items_maybe[key]] if key in ledger.items_maybe else [])
        if got not in allowed:
            problems.append("DynamoDB: item %s is %r; acknowledged %r, in flight %r"
                            % (key, got, allowed[0], allowed[1:]))
        ledger.items[key] = got
    ledger.items_maybe.clear()
    count = c.ddb("Scan", TableName=TABLE, Select="COUNT", ConsistentRead=True)["Count"]
    expected = sum(1 for v in ledger.items.values() if v is not None)
    if count != expected:
        problems.append("DynamoDB: the table holds %d items, the clients know of %d" % (count, expected))

    if s3:
        for key in sorted(set(ledger.objects) | set(ledger.objects_maybe)):
            try:
                got = c.request("GET", "/%s/%s" % (BUCKET, key))
            except Rejected as e:
                got = None if " 404 " in str(e) else ("error", str(e))
            allowed = [ledger.objects.get(key)] + ([ledger.objects_maybe[key]] if key in ledger.objects_maybe else [])
            if got not in allowed:
                describe = lambda b: b if not isinstance(b, bytes) else "%d bytes sha256 %s" % (
                    len(b), hashlib.sha256(b).hexdigest()[:12])
                problems.append("S3: object %s is %s; acknowledged %s, in flight %s"
                                % (key, describe(got), describe(allowed[0]), [describe(b) for b in allowed[1:]]))
            ledger.objects[key] = got if not isinstance(got, tuple) else None
        ledger.objects_maybe.clear()
    c.close()

    db = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.join(data_dir, "dss.db")), uri=True,
                         timeout=30)
    try:
        result = [r[0] for r in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()
    if result != ["ok"]:
        problems.append("SQLite integrity_check: %r" % result[:10])
    return problems


def discard_log(emulator):
    """Removes the log of a killed emulator (stop() removes it on the clean path; a SIGKILL
    leaves it behind)."""
    if emulator.stderr_path and os.path.exists(emulator.stderr_path):
        os.unlink(emulator.stderr_path)
    emulator.stderr_path = None


def run_cycles(cycles, data_dir, seed, log=print, s3=None, load_range=(0.2, 1.5)):
    """Runs kill cycles on data_dir; returns the problems found (empty: all held). The emulator
    is always stopped on return."""
    rng = random.Random(seed)
    ledger = Ledger()
    emulator = dsstest.Emulator(data_dir=data_dir).start()
    problems = []
    try:
        status, body = emulator.health()
        if s3 is None:
            s3 = "s3" in json.loads(body)["services"]
        create_resources(emulator.port, s3)
        for cycle in range(1, cycles + 1):
            seconds = rng.uniform(*load_range)
            stop, workers = run_load(emulator.port, ledger, rng, cycle, s3)
            time.sleep(seconds)
            emulator.kill()
            discard_log(emulator)
            stop.set()
            for w in workers:
                w.join(60)
            if any(w.is_alive() for w in workers):
                problems.append("cycle %d: a load thread did not finish after the kill" % cycle)
            emulator = dsstest.Emulator(data_dir=data_dir).start()
            found = check_state(emulator.port, ledger, data_dir, s3)
            with ledger.lock:
                found += ["load: " + e for e in ledger.errors]
                ledger.errors.clear()
            log("cycle %d: killed after %.2fs; %d messages, %d items, %d objects held; %s"
                % (cycle, seconds, len(ledger.sent - ledger.deleted), sum(v is not None for v in ledger.items.values()),
                   sum(v is not None for v in ledger.objects.values()), "ok" if not found else "%d problems" % len(found)))
            problems += ["cycle %d: %s" % (cycle, p) for p in found]
            if found:
                break
    finally:
        rc, emulator_log = emulator.stop()
    if rc != 0:
        problems.append("the emulator exited with %s on SIGTERM:\n%s" % (rc, emulator_log[-5000:]))
    return problems


class CrashTest(unittest.TestCase):
    def test_kill_cycles_lose_nothing_acknowledged(self):
        seed = int(os.environ.get("DSS_CRASH_SEED") or random.randrange(1 << 30))
        data_dir = tempfile.mkdtemp(prefix="dss-crash-")
        self.addCleanup(shutil.rmtree, data_dir, True)
        lines = []
        problems = run_cycles(CYCLES, data_dir, seed, log=lines.append)
        self.assertEqual(problems, [], "seed %d (DSS_CRASH_SEED=%d reproduces the kill times):\n%s"
                         % (seed, seed, "\n".join(lines)))


if __name__ == "__main__":
    unittest.main()
