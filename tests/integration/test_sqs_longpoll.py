"""SQS long polling (ReceiveMessage WaitTimeSeconds) through boto3: a parked receive answers as
soon as a message may have become visible -- a send from another client, a delay running out,
a visibility change -- and parked receives do not hold up anyone else.

The margins are generous: these check behaviour (woken by the event, not by the deadline), not
speed. Under an emulator wrapper (ci/valgrind's DSS_EMULATOR_WRAPPER) upper bounds stretch.
"""
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import dsstest
from test_sqs import SLOW, SqsTestCase


class LongPollTest(SqsTestCase):

    def timed_receive(self, url, **kw):
        """Runs a receive in a thread; returns a function that joins it and gives
        (seconds it took, messages)."""
        result = {}

        def run():
            start = time.monotonic()
            try:
                result["msgs"] = self.receive(url, **kw)
            except Exception as e:  # reported by the joining test
                result["error"] = e
            result["took"] = time.monotonic() - start

        t = threading.Thread(target=run)
        t.start()

        def join():
            t.join(30)
            self.assertFalse(t.is_alive(), "receive did not return")
            if "error" in result:
                raise result["error"]
            return result["took"], result["msgs"]
        return join

    def test_send_from_another_client_wakes_a_waiting_receive(self):
        url = self.queue()
        other = dsstest.client(self.endpoint, "sqs")
        join = self.timed_receive(url, WaitTimeSeconds=10)
        time.sleep(1)
        other.send_message(QueueUrl=url, MessageBody="wake up")
        took, msgs = join()
        self.assertEqual([m["Body"] for m in msgs], ["wake up"])
        self.assertTrue(0.8 <= took <= 3 * SLOW, took)

    def test_empty_queue_returns_empty_after_the_wait(self):
        url = self.queue()
        start = time.monotonic()
        msgs = self.receive(url, WaitTimeSeconds=2)
        took = time.monotonic() - start
        self.assertEqual(msgs, [])
        self.assertTrue(1.8 <= took <= 4 * SLOW, took)

    def test_queue_wait_time_is_the_default(self):
        url = self.queue(ReceiveMessageWaitTimeSeconds=3)
        start = time.monotonic()
        self.assertEqual(self.receive(url), [])
        self.assertTrue(2.7 <= time.monotonic() - start <= 5 * SLOW)
        # WaitTimeSeconds=0 in the request overrides the queue's default.
        start = time.monotonic()
        self.assertEqual(self.receive(url, WaitTimeSeconds=0), [])
        self.assertLess(time.monotonic() - start, 2 * SLOW)

    def test_delayed_message_wakes_a_waiting_receive(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=2)
        start = time.monotonic()
        msgs = self.receive(url, WaitTimeSeconds=10)
        took = time.monotonic() - start
        self.assertEqual([m["Body"] for m in msgs], ["delayed"])
        self.assertTrue(1.7 <= took <= 4 * SLOW, took)

    def test_visibility_timeout_running_out_wakes_a_waiting_receive(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="in flight")
        self.receive_one(url, VisibilityTimeout=2)
        start = time.monotonic()
        msgs = self.receive(url, WaitTimeSeconds=10)
        took = time.monotonic() - start
        self.assertEqual([m["Body"] for m in msgs], ["in flight"])
        self.assertTrue(1.5 <= took <= 4 * SLOW, took)

    def test_change_visibility_to_zero_wakes_a_waiting_receive(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="released")
        m = self.receive_one(url, VisibilityTimeout=60)
        join = self.timed_receive(url, WaitTimeSeconds=10)
        time.sleep(1)
        dsstest.client(self.endpoint, "sqs").change_message_visibility(
            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        took, msgs = join()
        self.assertEqual([x["MessageId"] for x in msgs], [m["MessageId"]])
        self.assertTrue(0.8 <= took <= 3 * SLOW, took)

    def test_deleting_the_queue_answers_a_waiting_receive(self):
        url = self.queue()
        join = self.timed_receive(url, WaitTimeSeconds=10)
        time.sleep(1)
        self.sqs.delete_queue(QueueUrl=url)
        with self.assertRaises(Exception) as cm:
            join()
        self.assertEqual(cm.exception.response["Error"]["Code"], "AWS.SimpleQueueService.NonExistentQueue")

    def test_one_send_wakes_one_of_many_receivers(self):
        url = self.queue()
        joins = [self.timed_receive(url, WaitTimeSeconds=3) for _ in range(5)]
        time.sleep(0.5)
        self.sqs.send_message(QueueUrl=url, MessageBody="only one")
        results = [j() for j in joins]
        delivered = [m for _, msgs in results for m in msgs]
        self.assertEqual([m["Body"] for m in delivered], ["only one"])

    def test_many_parked_receives_do_not_slow_others(self):
        busy = self.queue("-busy")
        quiet = self.queue("-quiet")
        pool_client = dsstest.client(self.endpoint, "sqs", max_pool_connections=210)
        n = 200

        def park(_):
            start = time.monotonic()
            msgs = pool_client.receive_message(QueueUrl=busy, WaitTimeSeconds=10).get("Messages", [])
            return time.monotonic() - start, msgs

        other = dsstest.client(self.endpoint, "sqs")
        with ThreadPoolExecutor(max_workers=n) as ex:
            futures = [ex.submit(park, i) for i in range(n)]
            time.sleep(2)  # let them all park
            slowest = 0.0
            for i in range(5):
                start = time.monotonic()
                other.send_message(QueueUrl=quiet, MessageBody="m%d" % i)
                other.get_queue_attributes(QueueUrl=quiet, AttributeNames=["ApproximateNumberOfMessages"])
                slowest = max(slowest, time.monotonic() - start)
            # Now one message for each parked receive: every one is woken and served.
            bodies = ["for-%03d" % i for i in range(n)]
            for k in range(0, n, 10):
                other.send_message_batch(QueueUrl=busy, Entries=[{"Id": "e%d" % j, "MessageBody": b}
                                                                 for j, b in enumerate(bodies[k:k + 10])])
            results = [f.result(timeout=60) for f in futures]
        self.assertLess(slowest, 1.0 * SLOW)
        self.assertEqual(self.attrs(quiet, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "5")
        # Parked receives were woken and served: each got at most one message, none twice, and
        # (on a loaded machine some may reach their deadline first) the rest are still queued.
        delivered = [m["Body"] for _, msgs in results for m in msgs]
        self.assertLessEqual(max(len(msgs) for _, msgs in results), 1)
        self.assertEqual(len(delivered), len(set(delivered)))
        self.assertGreater(len(delivered), 0)
        left = []
        while True:
            msgs = self.receive(busy, MaxNumberOfMessages=10, VisibilityTimeout=60)
            if not msgs:
                break
            left += [m["Body"] for m in msgs]
        self.assertEqual(sorted(delivered + left), bodies)

if __name__ == "__main__":
    unittest.main()
