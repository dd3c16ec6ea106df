"""How a data directory starts (emulator/db.c, "Start-up").

A new data directory is a copy of the fresh database the build made (dss-schema-image); an
existing one gets every service's CREATE statements. Both must give the same schema, or a data
directory made by one path would lack what the other has. And a WAL left behind without its
database must not be replayed onto the image.
"""
import os
import shutil
import sqlite3
import tempfile
import unittest

from dsstest import Emulator, client


def schema(path):
    """Every table, index and trigger of the database at path, with its SQL."""
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    return rows, check


class StartupTest(unittest.TestCase):
    def setUp(self):
        self.dirs = []

    def tearDown(self):
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)

    def data_dir(self):
        d = tempfile.mkdtemp(prefix="dss-test-startup-")
        self.dirs.append(d)
        return d

    def start_and_stop(self, data_dir):
        emu = Emulator(data_dir=data_dir).start()
        try:
            sqs = client(emu.endpoint, "sqs")
            url = sqs.create_queue(QueueName="startup")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="kept")
        finally:
            rc, log = emu.stop()
        self.assertEqual(rc, 0, log[-4000:])

    def test_image_and_statements_make_the_same_schema(self):
        from_image = self.data_dir()
        self.start_and_stop(from_image)
        from_statements = self.data_dir()
        # An existing (empty) database file: the emulator runs every CREATE statement on it.
        open(os.path.join(from_statements, "dss.db"), "wb").close()
        self.start_and_stop(from_statements)
        image_rows, image_check = schema(os.path.join(from_image, "dss.db"))
        statement_rows, statement_check = schema(os.path.join(from_statements, "dss.db"))
        self.assertEqual(image_check, "ok")
        self.assertEqual(statement_check, "ok")
        self.assertGreater(len(image_rows), 20)
        self.assertEqual(image_rows, statement_rows)

    def test_stale_wal_is_not_replayed_onto_the_image(self):
        # A real WAL, from another data directory whose emulator was killed before a checkpoint.
        other = self.data_dir()
        emu = Emulator(data_dir=other).start()
        try:
            client(emu.endpoint, "sqs").create_queue(QueueName="from-another-directory")
        finally:
            emu.kill()
        wal = os.path.join(other, "dss.db-wal")
        self.assertGreater(os.path.getsize(wal), 0)
        d = self.data_dir()
        shutil.copy(wal, os.path.join(d, "dss.db-wal"))
        self.start_and_stop(d)
        rows, check = schema(os.path.join(d, "dss.db"))
        self.assertEqual(check, "ok")
        db = sqlite3.connect(os.path.join(d, "dss.db"))
        try:
            self.assertEqual(db.execute("SELECT name FROM sqs_queues").fetchall(), [("startup",)])
            self.assertEqual(db.execute("SELECT count(*) FROM sqs_messages").fetchone()[0], 1)
        finally:
            db.close()

if __name__ == "__main__":
    unittest.main()
