"""Crash safety: the emulator is SIGKILLed in the middle of a concurrent load and restarted on
the same data directory. Everything it acknowledged must still be there, nothing it
acknowledged deleting may come back, nothing appears that was never sent, and the SQLite file
passes PRAGMA integrity_check.

Requests that were in flight at the kill may have landed or not: either is allowed.
"""
import json
import os
import sqlite3
import subprocess
import threading
import time
import unittest
import urllib.request
import warnings

import botocore.exceptions

import dsstest

LOAD_SECONDS = 1.5   # how long the load runs before the kill
MIN_ACKED = 100      # ...or until this many sends were acknowledged, whichever is later (bounded below)
MAX_LOAD_SECONDS = 20


class Load:
    """Threads doing requests until stop is set or a request fails (the emulator died)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.attempted = set()   # every key a request tried to create
        self.created = set()     # acknowledged creations
        self.deleting = set()    # deletions tried (one cut short by the kill may have landed)
        self.deleted = set()     # acknowledged deletions
        self.threads = []
        self.errors = []

    def spawn(self, fn, *args):
        def run():
            try:
                fn(*args)
            except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                    botocore.exceptions.ReadTimeoutError, ConnectionError):
                pass  # the kill
            except Exception as e:  # anything else is a finding
                if not self.stop.is_set():
                    self.errors.append(repr(e))
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)

    def run_until_killed(self, emulator):
        start = time.monotonic()
        while time.monotonic() - start < MAX_LOAD_SECONDS:
            with self.lock:
                enough = len(self.created) >= MIN_ACKED
            if enough and time.monotonic() - start >= LOAD_SECONDS:
                break
            time.sleep(0.05)
        emulator.kill()  # SIGKILL while the threads are mid-request
        self.stop.set()
        for t in self.threads:
            t.join(30)
        alive = [t for t in self.threads if t.is_alive()]
        if alive:
            raise AssertionError("%d load threads did not stop" % len(alive))


def health_services(endpoint):
    with urllib.request.urlopen(endpoint + "/_dss/health", timeout=5) as r:
        return json.load(r).get("services", [])


class PersistenceTest(unittest.TestCase):

    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)  # the killed emulator's client sockets

    def start(self, data_dir, *args):
        emulator = dsstest.Emulator(data_dir=data_dir, extra_args=args).start()
        self.addCleanup(emulator.stop)
        return emulator

    def check_integrity(self, data_dir):
        db = sqlite3.connect(os.path.join(data_dir, "dss.db"))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            db.close()

    def stop_cleanly(self, emulator):
        rc, log = emulator.stop()
        self.assertEqual(rc, 0, "dss-emulator exited with %s:\n%s" % (rc, log[-20000:]))

    def test_sqs_survives_sigkill_mid_load(self):
        data_dir = dsstest.temp_dir(self)
        emulator = self.start(data_dir)
        sqs = dsstest.client(emulator.endpoint, "sqs")
        url = sqs.create_queue(QueueName="durable")["QueueUrl"]
        load = Load()

        def sender(k):
            c = dsstest.client(emulator.endpoint, "sqs")
            for i in range(100000):
                if load.stop.is_set():
                    return
                body = "single-%d-%d" % (k, i)
                with load.lock:
                    load.attempted.add(body)
                c.send_message(QueueUrl=url, MessageBody=body)
                with load.lock:
                    load.created.add(body)

        def batch_sender():
            c = dsstest.client(emulator.endpoint, "sqs")
            for i in range(100000):
                if load.stop.is_set():
                    return
                bodies = ["batch-%d-%d" % (i, j) for j in range(10)]
                with load.lock:
                    load.attempted.update(bodies)
                r = c.send_message_batch(QueueUrl=url, Entries=[{"Id": "e%d" % j, "MessageBody": b}
                                                                for j, b in enumerate(bodies)])
                if r.get("Failed"):
                    raise AssertionError("batch entries failed: %s" % r["Failed"])
                with load.lock:
                    load.created.update(bodies)

        def receiver():
            c = dsstest.client(emulator.endpoint, "sqs")
            while not load.stop.is_set():
                # Deleted well within the visibility timeout (even on a loaded machine), so every
                # handle is current and every acknowledged delete really deleted.
                for m in c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                           WaitTimeSeconds=1).get("Messages", []):
                    with load.lock:
                        load.deleting.add(m["Body"])
                    c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                    with load.lock:
                        load.deleted.add(m["Body"])

        for k in range(3):
            load.spawn(sender, k)
        load.spawn(batch_sender)
        for _ in range(2):
            load.spawn(receiver)
        load.run_until_killed(emulator)
        self.assertEqual(load.errors, [])
        self.assertGreaterEqual(len(load.created), MIN_ACKED)
        self.assertTrue(load.deleted, "the receivers deleted nothing before the kill")

        # Restarted with a clock 30 times faster, so messages in flight at the kill (invisible
        # for 60 s) come back after two seconds.
        emulator = self.start(data_dir, "--clock-speed", "30")
        sqs = dsstest.client(emulator.endpoint, "sqs")
        self.assertEqual(sqs.get_queue_url(QueueName="durable")["QueueUrl"], emulator.endpoint + "/000000000000/durable")
        url = emulator.endpoint + "/000000000000/durable"

        # Messages received but not deleted before the kill come back once their 60 s pass.
        def in_flight():
            return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])[
                "Attributes"]["ApproximateNumberOfMessagesNotVisible"]
        self.assertTrue(dsstest.wait_until(lambda: in_flight() == "0", timeout=15), in_flight())
        # The count a restarted emulator gives (counted at start-up: sqs.c keeps counts in memory).
        held = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])
        drained = []
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=43200).get(
                "Messages", [])
            if not msgs:
                break
            drained += [m["Body"] for m in msgs]
        self.assertEqual(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"], "0")

        self.assertEqual(held, len(drained), "the count after the restart is not what the queue held")
        got = set(drained)
        self.assertEqual(len(drained), len(got), "a message was delivered twice by the drain")
        lost = (load.created - load.deleting) - got
        self.assertEqual(lost, set(), "%d acknowledged sends are gone" % len(lost))
        back = got & load.deleted
        self.assertEqual(back, set(), "%d acknowledged deletes came back" % len(back))
        invented = got - load.attempted
        self.assertEqual(invented, set(), "messages nobody sent")
        self.stop_cleanly(emulator)
        self.check_integrity(data_dir)

    def test_sqs_retention_counts_from_the_send_across_a_restart(self):
        """A restarted emulator finds each queue's oldest send time again (sqs.c keeps it in
        memory to know when a receive must look for expired messages): a message sent before
        the restart expires on time after it."""
        data_dir = dsstest.temp_dir(self)
        emulator = self.start(data_dir)
        sqs = dsstest.client(emulator.endpoint, "sqs")
        url = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="old")  # stamped with the wall clock
        self.stop_cleanly(emulator)
        # The fast clock starts from the wall clock: 3 s later "old" is 90 emulated seconds old.
        emulator = self.start(data_dir, "--clock-speed", "30")
        sqs = dsstest.client(emulator.endpoint, "sqs")
        url = emulator.endpoint + "/000000000000/short"
        time.sleep(3.0)
        sqs.send_message(QueueUrl=url, MessageBody="young")
        self.assertEqual(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"], "1")
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        self.assertEqual([m["Body"] for m in got], ["young"])
        self.stop_cleanly(emulator)
        self.check_integrity(data_dir)

    def test_one_emulator_per_data_directory(self):
        """The emulator holds its database exclusively (SQLite's unix-excl VFS): a second one
        started on the same data directory exits saying why, and the first keeps serving."""
        data_dir = dsstest.temp_dir(self)
        first = self.start(data_dir)
        sqs = dsstest.client(first.endpoint, "sqs")
        sqs.create_queue(QueueName="mine")
        second = subprocess.run(dsstest.WRAPPER + [os.path.join(dsstest.BIN, "dss-emulator"), "--listen",
                                                   "127.0.0.1:0", "--data-dir", data_dir],
                                capture_output=True, text=True, timeout=60)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn("is a dss-emulator running on this data directory?", second.stderr)
        self.assertEqual(len(sqs.list_queues()["QueueUrls"]), 1)
        self.stop_cleanly(first)
        self.check_integrity(data_dir)

    def test_dynamodb_survives_sigkill_mid_load(self):
        data_dir = dsstest.temp_dir(self)
        emulator = self.start(data_dir)
        if "dynamodb" not in health_services(emulator.endpoint):
            self.skipTest("this dss-emulator does not serve DynamoDB")
        ddb = dsstest.client(emulator.endpoint, "dynamodb")
        ddb.create_table(TableName="durable", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        self.assertTrue(dsstest.wait_until(
            lambda: ddb.describe_table(TableName="durable")["Table"]["TableStatus"] == "ACTIVE", timeout=10))
        load = Load()

        def writer(k):
            c = dsstest.client(emulator.endpoint, "dynamodb")
            for i in range(100000):
                if load.stop.is_set():
                    return
                key = "item-%d-%d" % (k, i)
                with load.lock:
                    load.attempted.add(key)
                c.put_item(TableName="durable", Item={"pk": {"S": key}, "n": {"N": str(i)}, "blob": {"B": b"x" * 100}})
                with load.lock:
                    load.created.add(key)
                if i % 3 == 0:  # delete every third item again
                    with load.lock:
                        load.deleting.add(key)
                    c.delete_item(TableName="durable", Key={"pk": {"S": key}})
                    with load.lock:
                        load.deleted.add(key)

        def batch_writer():
            c = dsstest.client(emulator.endpoint, "dynamodb")
            for i in range(100000):
                if load.stop.is_set():
                    return
                keys = ["batch-%d-%d" % (i, j) for j in range(25)]
                with load.lock:
                    load.attempted.update(keys)
                r = c.batch_write_item(RequestItems={"durable": [{"PutRequest": {"Item": {"pk": {"S": key}}}}
                                                                 for key in keys]})
                if r.get("UnprocessedItems"):
                    raise AssertionError("unprocessed items: %s" % r["UnprocessedItems"])
                with load.lock:
                    load.created.update(keys)

        for k in range(3):
            load.spawn(writer, k)
        load.spawn(batch_writer)
        load.run_until_killed(emulator)
        self.assertEqual(load.errors, [])
        self.assertGreaterEqual(len(load.created), MIN_ACKED)

        emulator = self.start(data_dir)
        ddb = dsstest.client(emulator.endpoint, "dynamodb")
        got = []
        for page in ddb.get_paginator("scan").paginate(TableName="durable"):
            got += [item["pk"]["S"] for item in page["Items"]]
        keys = set(got)
        self.assertEqual(len(got), len(keys), "a key was returned twice")
        lost = (load.created - load.deleting) - keys
        self.assertEqual(lost, set(), "%d acknowledged puts are gone" % len(lost))
        back = keys & load.deleted
        self.assertEqual(back, set(), "%d acknowledged deletes came back" % len(back))
        self.assertEqual(keys - load.attempted, set(), "items nobody wrote")
        self.stop_cleanly(emulator)
        self.check_integrity(data_dir)


if __name__ == "__main__":
    unittest.main()
