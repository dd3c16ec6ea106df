"""S3 through the unmodified AWS CLI: a 64 MiB file up and down (multipart both ways), a nested
folder synced up, down into an empty folder, and again with nothing to transfer; ls of
folders, rm of a key, of a folder with --exclude and of everything; mb, rb and s3api calls.

Under Debian's python the test drives Debian's AWS CLI v2; under the newer python on PATH it
drives the CLI v1 that comes with it -- so one ctest run covers both CLIs, each once.
"""
import filecmp
import hashlib
import os
import sys
import unittest

import dsstest

MiB = 1 << 20
CLI = None if sys.executable == "/usr/bin/python3" else "aws"


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def deletions(out):
    """The objects an `aws s3 rm` says it deleted ("delete: s3://..." lines), sorted."""
    lines = out.replace("\r", "\n").splitlines()
    return sorted(line[len("delete: "):].strip() for line in lines if line.startswith("delete: "))


class TestCli(dsstest.EmulatorTestCase):
    def cli(self, *args):
        rc, out, err = self.aws(*args, aws=CLI, timeout=300)
        self.assertEqual(rc, 0, "aws %s failed:\n%s%s" % (" ".join(args), out, err))
        return out

    def test_big_file_round_trip(self):
        tmp = dsstest.temp_dir(self)
        src, dst = os.path.join(tmp, "big.bin"), os.path.join(tmp, "back.bin")
        with open(src, "wb") as f:  # 64 MiB that are not one repeated block
            for i in range(64):
                f.write(hashlib.sha256(b"%d" % i).digest() * (MiB // 32))
        self.cli("s3", "mb", "s3://cli-big")
        self.cli("s3", "cp", "--only-show-errors", src, "s3://cli-big/data/big.bin")
        head = self.client("s3").head_object(Bucket="cli-big", Key="data/big.bin")
        self.assertEqual(head["ContentLength"], 64 * MiB)
        self.assertRegex(head["ETag"], r'^"[0-9a-f]{32}-\d+"$')  # a multipart upload
        self.cli("s3", "cp", "--only-show-errors", "s3://cli-big/data/big.bin", dst)
        self.assertEqual(sha256_of(dst), sha256_of(src))
        self.cli("s3", "rb", "--force", "s3://cli-big")
        self.assertNotIn("cli-big", [b["Name"] for b in self.client("s3").list_buckets()["Buckets"]])

    def test_sync(self):
        tmp = dsstest.temp_dir(self)
        up, down = os.path.join(tmp, "up"), os.path.join(tmp, "down")
        files = ["top.txt", "a/1.txt", "a/b/2.txt", "a/b/c/3.sh", "with space/x y.txt", "plus+sign/a+b.txt",
                 "unicode/\u00e9t\u00e9.txt", "empty.txt"]
        for i, name in enumerate(files):
            path = os.path.join(up, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(b"" if name == "empty.txt" else (b"file %d\n" % i) * (i + 1))
        os.makedirs(down)
        self.cli("s3", "mb", "s3://cli-sync")
        out = self.cli("s3", "sync", "--no-progress", up, "s3://cli-sync/jobs/")
        self.assertEqual(out.count("upload:"), len(files))
        listed = [o["Key"] for o in self.client("s3").list_objects_v2(Bucket="cli-sync")["Contents"]]
        self.assertEqual(sorted(listed), sorted("jobs/" + name for name in files))
        out = self.cli("s3", "sync", "--no-progress", "s3://cli-sync/jobs/", down)
        self.assertEqual(out.count("download:"), len(files))
        cmp = filecmp.dircmp(up, down)
        self.assertEqual(self.differences(cmp), [])
        # Both ways again: nothing to do.
        self.assertEqual(self.cli("s3", "sync", "--no-progress", up, "s3://cli-sync/jobs/").strip(), "")
        self.assertEqual(self.cli("s3", "sync", "--no-progress", "s3://cli-sync/jobs/", down).strip(), "")

    def differences(self, cmp):
        diff = cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files
        for sub in cmp.subdirs.values():
            diff += self.differences(sub)
        return diff

    def test_ls_and_rm(self):
        s3 = self.client("s3")
        self.cli("s3", "mb", "s3://cli-rm")
        keys = ["top.txt", "a/1.txt", "a/2.log", "a/b/3.txt", "sp ace/+x \u00e9.txt"]
        for k in keys:
            s3.put_object(Bucket="cli-rm", Key=k, Body=k.encode())
        out = self.cli("s3", "ls", "s3://cli-rm/")
        self.assertRegex(out, r"(?m)^\s+PRE a/$")
        self.assertRegex(out, r"(?m)^\s+PRE sp ace/$")
        self.assertRegex(out, r"(?m)^\S+ \S+\s+7 top\.txt$")
        out = self.cli("s3", "ls", "s3://cli-rm/a/")
        self.assertEqual(sorted(line.split()[-1] for line in out.splitlines()), ["1.txt", "2.log", "b/"])
        # One key, then a folder but for what --exclude keeps, then everything.
        self.assertEqual(deletions(self.cli("s3", "rm", "s3://cli-rm/top.txt")), ["s3://cli-rm/top.txt"])
        out = self.cli("s3", "rm", "--recursive", "s3://cli-rm/a/", "--exclude", "*.log")
        self.assertEqual(deletions(out), ["s3://cli-rm/a/1.txt", "s3://cli-rm/a/b/3.txt"])
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="cli-rm")["Contents"]]
        self.assertEqual(listed, ["a/2.log", "sp ace/+x \u00e9.txt"])
        self.assertEqual(len(deletions(self.cli("s3", "rm", "--recursive", "s3://cli-rm/"))), 2)
        self.assertEqual(s3.list_objects_v2(Bucket="cli-rm")["KeyCount"], 0)
        self.cli("s3", "rb", "s3://cli-rm")

    def test_s3api(self):
        self.cli("s3api", "create-bucket", "--bucket", "cli-api")
        out = self.cli("s3", "ls")
        self.assertIn("cli-api", out)
        rc, out, err = self.aws("s3api", "get-object", "--bucket", "cli-api", "--key", "nope", os.devnull, aws=CLI)
        self.assertNotEqual(rc, 0)
        self.assertIn("NoSuchKey", err)


if __name__ == "__main__":
    unittest.main()
