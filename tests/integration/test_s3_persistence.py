"""S3 state across restarts and crashes, and where the bytes live on disk.

- Buckets, objects (simple and multipart), metadata, tags, notification configurations and
  unfinished multipart uploads survive a restart.
- A SIGKILL in the middle of an upload leaves the old object whole, and no stray file.
- Event notifications commit with their object change: a SIGKILL after acknowledged writes
  loses none of their events and duplicates none.
- Keys such as "../../etc/passwd" are only keys: every file the emulator writes stays under
  its data directory, named by a random id, never by a key.
"""
import contextlib
import hashlib
import http.client
import json
import os
import re
import socket
import sqlite3
import time
import unittest

import dsstest

MiB = 1 << 20
NASTY_KEYS = ["../../etc/passwd", "../outside", "a/./b", "a/../b", "%00", "%2e%2e/x", "/leading", "trailing/",
              "with space", "plus+sign", "\\back\\slash", "\u00e9t\u00e9 \u20ac \U0001F600", "\u00e9" * 512, ".", ".."]


class TestPersistence(unittest.TestCase):
    def start(self, data_dir):
        emu = dsstest.Emulator(data_dir=data_dir).start()
        self.addCleanup(emu.stop)
        return emu, dsstest.client(emu.endpoint, "s3"), dsstest.client(emu.endpoint, "sqs")

    def stop(self, emu):
        rc, log = emu.stop()
        self.assertEqual(rc, 0, log[-5000:])

    def object_files(self, data_dir):
        """Every file under the data directory, relative to it."""
        found = []
        for root, dirs, files in os.walk(data_dir):
            found += [os.path.relpath(os.path.join(root, f), data_dir) for f in files]
        return found

    def test_restart_keeps_everything(self):
        top = dsstest.temp_dir(self)
        data = os.path.join(top, "data")
        emu, s3, sqs = self.start(data)
        queue = sqs.create_queue(QueueName="persist")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.create_bucket(Bucket="persist")
        s3.put_bucket_tagging(Bucket="persist", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
        s3.put_bucket_notification_configuration(Bucket="persist", NotificationConfiguration={
            "QueueConfigurations": [{"Id": "c", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        s3.put_object(Bucket="persist", Key="plain", Body=b"plain bytes", ContentType="text/plain",
                      Metadata={"m": "1"})
        parts = [os.urandom(5 * MiB), b"end"]
        up = s3.create_multipart_upload(Bucket="persist", Key="multi")["UploadId"]
        done = [{"PartNumber": i, "ETag": s3.upload_part(Bucket="persist", Key="multi", UploadId=up, PartNumber=i,
                                                          Body=p)["ETag"]} for i, p in enumerate(parts, 1)]
        s3.complete_multipart_upload(Bucket="persist", Key="multi", UploadId=up, MultipartUpload={"Parts": done})
        pending = s3.create_multipart_upload(Bucket="persist", Key="later")["UploadId"]
        part = s3.upload_part(Bucket="persist", Key="later", UploadId=pending, PartNumber=1, Body=b"half")
        for k in NASTY_KEYS:
            s3.put_object(Bucket="persist", Key=k, Body=k.encode())
        self.stop(emu)

        emu, s3, sqs = self.start(data)
        self.assertEqual([b["Name"] for b in s3.list_buckets()["Buckets"]], ["persist"])
        g = s3.get_object(Bucket="persist", Key="plain")
        self.assertEqual((g["Body"].read(), g["ContentType"], g["Metadata"]), (b"plain bytes", "text/plain", {"m": "1"}))
        self.assertEqual(hashlib.sha256(s3.get_object(Bucket="persist", Key="multi")["Body"].read()).digest(),
                         hashlib.sha256(b"".join(parts)).digest())
        for k in NASTY_KEYS:
            self.assertEqual(s3.get_object(Bucket="persist", Key=k)["Body"].read(), k.encode(), k)
        self.assertEqual(s3.get_bucket_tagging(Bucket="persist")["TagSet"], [{"Key": "k", "Value": "v"}])
        config = s3.get_bucket_notification_configuration(Bucket="persist")["QueueConfigurations"]
        self.assertEqual(config[0]["Id"], "c")
        # The unfinished upload carries on after the restart, and its event still arrives.
        s3.complete_multipart_upload(Bucket="persist", Key="later", UploadId=pending,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        self.assertEqual(s3.get_object(Bucket="persist", Key="later")["Body"].read(), b"half")
        names = []
        while True:
            msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                names.append(m["Body"])
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(sum('"key":"later"' in n for n in names), 1)

        # Every file is the database's or an object's, named by id, inside the data directory.
        for f in self.object_files(data):
            self.assertTrue(re.fullmatch(r"dss\.db(-wal|-shm)?|s3/objects/([0-9a-f]{2})/\2[0-9a-f]{30}", f), f)
        self.assertEqual(os.listdir(top), ["data"])
        self.assertFalse(os.path.exists(os.path.join(top, "outside")))
        self.stop(emu)
        # One file per object that has one, none left over from replaced parts or completed
        # uploads; the small objects keep their bytes in s3_bodies, one row each.
        with contextlib.closing(sqlite3.connect(os.path.join(data, "dss.db"))) as db, db:
            rows = db.execute("SELECT count(*) FROM s3_objects WHERE file != ''").fetchone()[0]
            held = db.execute("SELECT count(*) FROM s3_objects o JOIN s3_bodies x ON x.id = o.body_id "
                              "WHERE o.file = ''").fetchone()[0]
            bodies = db.execute("SELECT count(*) FROM s3_bodies").fetchone()[0]
        self.assertEqual(len([f for f in self.object_files(data) if f.startswith("s3/")]), rows)
        self.assertEqual((rows, held, bodies), (2, 1 + len(NASTY_KEYS), 1 + len(NASTY_KEYS)))

    def bodies(self, data):
        """Each object's key, whether it has no file, and the length of its bytes in s3_bodies
        (None without a row); and the number of s3_bodies rows no object names."""
        with contextlib.closing(sqlite3.connect(os.path.join(data, "dss.db"))) as db, db:
            rows = db.execute("SELECT o.key, o.file = '', length(x.bytes) FROM s3_objects o "
                              "LEFT JOIN s3_bodies x ON x.id = o.body_id ORDER BY o.key").fetchall()
            orphans = db.execute("SELECT count(*) FROM s3_bodies WHERE id NOT IN "
                                 "(SELECT body_id FROM s3_objects WHERE body_id IS NOT NULL)").fetchone()[0]
        return rows, orphans

    def test_rows_hold_only_their_own_bytes(self):
        """On one connection (so one server thread and its cached statements), small and
        big PUTs in turn: each small object's s3_bodies row holds exactly its own bytes, each
        big one has none. Then every key is overwritten by the other kind (or emptied) and one
        is deleted: no s3_bodies row is left that no object names."""
        top = dsstest.temp_dir(self)
        data = os.path.join(top, "data")
        emu, s3, _ = self.start(data)
        s3.create_bucket(Bucket="rows")
        conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=30)
        self.addCleanup(conn.close)
        bodies = [(b"small-%d" % i) * 100 if i % 2 == 0 else os.urandom(70 * 1024) for i in range(6)]
        for i, body in enumerate(bodies):
            conn.request("PUT", "/rows/k%d" % i, body=body)
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        for i, body in enumerate(bodies):
            self.assertEqual(s3.get_object(Bucket="rows", Key="k%d" % i)["Body"].read(), body)
        self.stop(emu)
        self.assertEqual(self.bodies(data), ([("k%d" % i, int(i % 2 == 0), len(b) if i % 2 == 0 else None)
                                              for i, b in enumerate(bodies)], 0))
        emu, s3, _ = self.start(data)
        swapped = [os.urandom(70 * 1024), b"", os.urandom(70 * 1024), b"now-small", b"small-again", b"x"]
        for i, body in enumerate(swapped):
            s3.put_object(Bucket="rows", Key="k%d" % i, Body=body)
        s3.delete_object(Bucket="rows", Key="k5")
        for i, body in enumerate(swapped[:5]):
            self.assertEqual(s3.get_object(Bucket="rows", Key="k%d" % i)["Body"].read(), body)
        self.stop(emu)
        self.assertEqual(self.bodies(data), ([("k0", 0, None), ("k1", 1, None), ("k2", 0, None), ("k3", 1, 9),
                                              ("k4", 1, 11)], 0))

    def test_data_directory_from_before_objects_in_rows(self):
        """A data directory whose s3_objects has no body column (made before small objects
        lived in the database) gets body_id at start-up, keeps its file-backed objects and
        takes new small ones."""
        top = dsstest.temp_dir(self)
        data = os.path.join(top, "data")
        emu, s3, _ = self.start(data)
        s3.create_bucket(Bucket="old")
        big = os.urandom(200 * 1024)
        s3.put_object(Bucket="old", Key="big", Body=big)
        self.stop(emu)
        with contextlib.closing(sqlite3.connect(os.path.join(data, "dss.db"))) as db, db:  # the table as it was
            db.executescript("ALTER TABLE s3_objects DROP COLUMN body_id; DROP TABLE s3_bodies")
            self.assertNotIn("body_id", [c[1] for c in db.execute("PRAGMA table_info(s3_objects)")])
        emu, s3, _ = self.start(data)
        self.assertEqual(s3.get_object(Bucket="old", Key="big")["Body"].read(), big)
        s3.put_object(Bucket="old", Key="small", Body=b"new")
        self.assertEqual(s3.get_object(Bucket="old", Key="small")["Body"].read(), b"new")
        self.stop(emu)
        self.assertEqual(self.bodies(data), ([("big", 0, None), ("small", 1, 3)], 0))

    def test_data_directory_with_bytes_in_object_rows(self):
        """A data directory of the version that kept small objects' bytes in s3_objects.body:
        at start-up they move to s3_bodies and the column goes; every object reads back as it
        was, an empty one too, and the moved rows are replaced and deleted like new ones."""
        top = dsstest.temp_dir(self)
        data = os.path.join(top, "data")
        emu, s3, _ = self.start(data)
        objects = {"a": b"first", "b/nested": b"second" * 500, "empty": b"", "big": os.urandom(100 * 1024)}
        for b in ("one", "two"):
            s3.create_bucket(Bucket=b)
            for k, body in objects.items():
                s3.put_object(Bucket=b, Key=k, Body=body)
        self.stop(emu)
        with contextlib.closing(sqlite3.connect(os.path.join(data, "dss.db"))) as db, db:  # that version's layout
            db.executescript("ALTER TABLE s3_objects ADD COLUMN body BLOB;"
                             "UPDATE s3_objects SET body = CASE WHEN file = '' THEN coalesce("
                             "  (SELECT bytes FROM s3_bodies WHERE id = body_id), x'') END;"
                             "ALTER TABLE s3_objects DROP COLUMN body_id; DROP TABLE s3_bodies;")
        emu, s3, _ = self.start(data)
        for b in ("one", "two"):
            for k, body in objects.items():
                self.assertEqual(s3.get_object(Bucket=b, Key=k)["Body"].read(), body, (b, k))
        s3.put_object(Bucket="one", Key="a", Body=b"replaced")
        s3.delete_object(Bucket="two", Key="a")
        s3.put_object(Bucket="two", Key="new", Body=b"new")
        self.assertEqual(s3.get_object(Bucket="one", Key="a")["Body"].read(), b"replaced")
        self.stop(emu)
        with contextlib.closing(sqlite3.connect(os.path.join(data, "dss.db"))) as db, db:
            self.assertNotIn("body", [c[1] for c in db.execute("PRAGMA table_info(s3_objects)")])
        rows, orphans = self.bodies(data)
        self.assertEqual(orphans, 0)
        self.assertEqual(sorted(r[2] for r in rows if r[2] is not None), [3, 8, 3000, 3000])

    def test_events_survive_a_crash_exactly_once(self):
        """An event commits with its object change: a SIGKILL right after the last acknowledged
        write loses none and, after the restart, none arrives twice."""
        top = dsstest.temp_dir(self)
        data = os.path.join(top, "data")
        emu, s3, sqs = self.start(data)
        queue = sqs.create_queue(QueueName="crash-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.create_bucket(Bucket="crash-events")
        s3.put_bucket_notification_configuration(Bucket="crash-events", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]},
                                    {"QueueArn": arn, "Events": ["s3:ObjectRemoved:*"]}]})
        s3.put_object(Bucket="crash-events", Key="jobs/1/x.input", Body=b"input")
        s3.put_object(Bucket="crash-events", Key="jobs/1/x.sh", Body=b"#!/bin/sh\n")
        s3.copy_object(Bucket="crash-events", Key="jobs/2/x.sh", CopySource={"Bucket": "crash-events",
                                                                            "Key": "jobs/1/x.sh"})
        up = s3.create_multipart_upload(Bucket="crash-events", Key="multi.bin")["UploadId"]
        part = s3.upload_part(Bucket="crash-events", Key="multi.bin", UploadId=up, PartNumber=1, Body=b"m")
        s3.complete_multipart_upload(Bucket="crash-events", Key="multi.bin", UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        s3.delete_object(Bucket="crash-events", Key="jobs/1/x.input")
        s3.delete_objects(Bucket="crash-events", Delete={"Objects": [{"Key": "jobs/2/x.sh"}]})
        emu.kill()

        emu, s3, sqs = self.start(data)
        events = []
        while True:
            msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                body = json.loads(m["Body"])
                events += [(r["eventName"], r["s3"]["object"]["key"]) for r in body.get("Records", [])]
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(sorted(events), sorted([
            ("ObjectCreated:Put", "jobs/1/x.input"),
            ("ObjectCreated:Put", "jobs/1/x.sh"),
            ("ObjectCreated:Copy", "jobs/2/x.sh"),
            ("ObjectCreated:CompleteMultipartUpload", "multi.bin"),
            ("ObjectRemoved:Delete", "jobs/1/x.input"),
            ("ObjectRemoved:Delete", "jobs/2/x.sh"),
        ]))
        self.stop(emu)

    def writing(self, emu, data):
        """Whether the emulator has a file open under data/s3: the upload's temp file (an
        anonymous O_TMPFILE one, or a named one in tmp/)."""
        fds = "/proc/%d/fd" % emu.proc.pid
        for fd in os.listdir(fds):
            try:
                if os.readlink(os.path.join(fds, fd)).startswith(os.path.join(data, "s3")):
                    return True
            except OSError:
                pass
        return False

    def test_crash_mid_upload_keeps_the_old_object(self):
        top = dsstest.temp_dir(self)
        data = os.path.join(top, "data")
        emu, s3, _ = self.start(data)
        s3.create_bucket(Bucket="crash")
        s3.put_object(Bucket="crash", Key="k", Body=b"the old bytes")
        # Half of a 10 MiB body, then the emulator dies.
        sock = socket.create_connection(("127.0.0.1", emu.port))
        sock.sendall(b"PUT /crash/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % (10 * MiB))
        sock.sendall(b"n" * (5 * MiB))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.writing(emu, data):
            time.sleep(0.05)
        self.assertTrue(self.writing(emu, data), "the upload never reached the disk")
        emu.kill()
        sock.close()
        # An orphan such as a crash between placing a file and committing its row would leave.
        # (Its fan-out directory is made with its first file, so it may not be there yet.)
        orphan = os.path.join(data, "s3", "objects", "ab", "ab" + "0" * 30)
        os.makedirs(os.path.dirname(orphan), exist_ok=True)
        with open(orphan, "wb") as f:
            f.write(b"orphan")

        emu, s3, _ = self.start(data)
        self.assertEqual(s3.get_object(Bucket="crash", Key="k")["Body"].read(), b"the old bytes")
        self.assertEqual(os.listdir(os.path.join(data, "s3", "tmp")), [])
        self.assertFalse(os.path.exists(orphan))
        self.stop(emu)


if __name__ == "__main__":
    unittest.main()
