"""S3 through boto3 (both SDKs on the machine): buckets, objects, listings, multipart uploads,
errors in S3's format, aws-chunked bodies and checksums, virtual-hosted addressing, and a big
object streamed up and down in bounded memory.

The CLI, event notifications and restarts have files of their own (test_s3_cli.py,
test_s3_notify.py, test_s3_persistence.py).
"""
import base64
import hashlib
import http.client
import io
import re
import unittest
import zlib

import boto3
import botocore
import botocore.config
from botocore.exceptions import ClientError

import dsstest

MiB = 1 << 20


def error_of(call, *args, **kw):
    """Runs call and returns the (code, HTTP status) of the ClientError it must raise."""
    try:
        call(*args, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("%s did not fail" % call.__name__)


def b64(raw):
    return base64.b64encode(raw).decode()


def crc32_b64(data):
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def peak_rss_kb(pid):
    """A process's peak resident set (VmHWM), in kB."""
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def reset_peak_rss(pid):
    """Sets the peak back to the current RSS (Linux: "5" to clear_refs), so that what a test
    measures is its own peak and not an earlier test's."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def all_keys(s3, bucket, **kw):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, **kw):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


class S3Base(dsstest.EmulatorTestCase):
    def setUp(self):
        self.s3 = self.client("s3")

    def bucket(self, name):
        """A bucket for this test, emptied and deleted when it ends."""
        self.s3.create_bucket(Bucket=name)
        self.addCleanup(self.drop_bucket, name)
        return name

    def drop_bucket(self, name):
        for up in self.s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            self.s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        for key in all_keys(self.s3, name):
            self.s3.delete_object(Bucket=name, Key=key)
        self.s3.delete_bucket(Bucket=name)

    def raw(self, method, path, body=None, headers=None):
        """One request over plain HTTP: (status, headers dict with lower-case names, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.emulator.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()


class TestBuckets(S3Base):
    def test_lifecycle(self):
        r = self.s3.create_bucket(Bucket="life-cycle")
        self.assertEqual(r["Location"], "/life-cycle")
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertIn("life-cycle", names)
        head = self.s3.head_bucket(Bucket="life-cycle")
        self.assertEqual(head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"], "us-east-1")
        self.assertIsNone(self.s3.get_bucket_location(Bucket="life-cycle")["LocationConstraint"])
        # Re-creating an own bucket in us-east-1 answers 200, as S3 always has there.
        self.s3.create_bucket(Bucket="life-cycle")
        self.s3.put_object(Bucket="life-cycle", Key="x", Body=b"1")
        self.assertEqual(error_of(self.s3.delete_bucket, Bucket="life-cycle"), ("BucketNotEmpty", 409))
        self.s3.delete_object(Bucket="life-cycle", Key="x")
        self.s3.delete_bucket(Bucket="life-cycle")
        self.assertEqual(error_of(self.s3.head_bucket, Bucket="life-cycle"), ("404", 404))
        self.assertEqual(error_of(self.s3.delete_bucket, Bucket="life-cycle"), ("NoSuchBucket", 404))
        self.assertEqual(error_of(self.s3.list_objects_v2, Bucket="life-cycle"), ("NoSuchBucket", 404))

    def test_regions(self):
        eu = boto3.client("s3", endpoint_url=self.endpoint, region_name="eu-west-1", aws_access_key_id="test",
                          aws_secret_access_key="test",
                          config=botocore.config.Config(retries={"max_attempts": 0}))
        eu.create_bucket(Bucket="in-ireland", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        self.addCleanup(eu.delete_bucket, Bucket="in-ireland")
        self.assertEqual(eu.get_bucket_location(Bucket="in-ireland")["LocationConstraint"], "eu-west-1")
        self.assertEqual(error_of(eu.create_bucket, Bucket="in-ireland",
                                  CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}),
                         ("BucketAlreadyOwnedByYou", 409))
        # The constraint must name the region the request is signed for.
        self.assertEqual(error_of(self.s3.create_bucket, Bucket="elsewhere",
                                  CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}),
                         ("IllegalLocationConstraintException", 400))
        self.assertEqual(error_of(eu.create_bucket, Bucket="elsewhere"), ("IllegalLocationConstraintException", 400))
        self.assertEqual(error_of(self.s3.create_bucket, Bucket="elsewhere",
                                  CreateBucketConfiguration={"LocationConstraint": "nowhere"}),
                         ("InvalidLocationConstraint", 400))

    def test_invalid_names(self):
        for name in ["ab", "Upper-Case", "under_score", "a..b", "192.168.0.1", "-dash", "x" * 64]:
            self.assertEqual(error_of(self.s3.create_bucket, Bucket=name), ("InvalidBucketName", 400), name)
        self.assertNotIn("ab", [b["Name"] for b in self.s3.list_buckets()["Buckets"]])

    def test_tagging(self):
        b = self.bucket("tagged")
        self.assertEqual(error_of(self.s3.get_bucket_tagging, Bucket=b), ("NoSuchTagSet", 404))
        tags = [{"Key": "team", "Value": "hpc"}, {"Key": "empty", "Value": ""}]
        self.s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": tags})
        self.assertEqual(self.s3.get_bucket_tagging(Bucket=b)["TagSet"], tags)
        self.assertEqual(error_of(self.s3.put_bucket_tagging, Bucket=b,
                                  Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}),
                         ("InvalidTag", 400))
        self.assertEqual(self.s3.get_bucket_tagging(Bucket=b)["TagSet"], tags)
        self.s3.delete_bucket_tagging(Bucket=b)
        self.assertEqual(error_of(self.s3.get_bucket_tagging, Bucket=b), ("NoSuchTagSet", 404))

    def test_error_document(self):
        status, headers, body = self.raw("GET", "/no-such-bucket-here/key")
        self.assertEqual(status, 404)
        self.assertEqual(headers["content-type"], "application/xml")
        self.assertIn("x-amz-request-id", headers)
        self.assertIn("x-amz-id-2", headers)
        self.assertIn(b"<Code>NoSuchBucket</Code>", body)
        self.assertIn(b"<BucketName>no-such-bucket-here</BucketName>", body)
        status, headers, body = self.raw("HEAD", "/no-such-bucket-here/key")
        self.assertEqual((status, body), (404, b""))
        # A missing key: GET names it in the document, HEAD answers the status alone.
        self.bucket("error-doc")
        status, _, body = self.raw("GET", "/error-doc/no/such%20key")
        self.assertEqual(status, 404)
        self.assertIn(b"<Code>NoSuchKey</Code>", body)
        self.assertIn(b"<Key>no/such key</Key>", body)
        status, headers, body = self.raw("HEAD", "/error-doc/no/such%20key")
        self.assertEqual((status, body, headers.get("content-length")), (404, b"", "0"))
        self.assertIn("x-amz-request-id", headers)
        status, _, body = self.raw("GET", "/some-bucket?acl")
        self.assertEqual(status, 501)
        self.assertIn(b"<Code>NotImplemented</Code>", body)
        status, _, body = self.raw("PATCH", "/some-bucket/key")
        self.assertEqual(status, 405)
        status, _, body = self.raw("GET", "/some-bucket/%C3%28")
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>InvalidURI</Code>", body)


class TestObjects(S3Base):
    def test_put_get_head_delete(self):
        b = self.bucket("objects")
        data = b"hello world"
        r = self.s3.put_object(Bucket=b, Key="dir/hello.txt", Body=data, ContentType="text/plain",
                               Metadata={"Color": "blue", "x": "y"}, CacheControl="no-cache")
        self.assertEqual(r["ETag"], '"%s"' % hashlib.md5(data).hexdigest())
        g = self.s3.get_object(Bucket=b, Key="dir/hello.txt")
        self.assertEqual(g["Body"].read(), data)
        self.assertEqual(g["ContentType"], "text/plain")
        self.assertEqual(g["CacheControl"], "no-cache")
        self.assertEqual(g["Metadata"], {"color": "blue", "x": "y"})
        self.assertEqual(g["ETag"], r["ETag"])
        self.assertEqual(g["AcceptRanges"], "bytes")
        h = self.s3.head_object(Bucket=b, Key="dir/hello.txt")
        self.assertEqual(h["ContentLength"], len(data))
        self.assertEqual(h["ETag"], r["ETag"])
        self.assertEqual(h["LastModified"], g["LastModified"])
        # No Content-Type given: S3's default.
        self.s3.put_object(Bucket=b, Key="plain", Body=b"")
        self.assertEqual(self.s3.get_object(Bucket=b, Key="plain")["ContentType"], "binary/octet-stream")
        self.assertEqual(self.s3.get_object(Bucket=b, Key="plain")["Body"].read(), b"")
        # Overwrite, then delete (twice: deleting nothing is no error).
        self.s3.put_object(Bucket=b, Key="dir/hello.txt", Body=b"v2")
        self.assertEqual(self.s3.get_object(Bucket=b, Key="dir/hello.txt")["Body"].read(), b"v2")
        d = self.s3.delete_object(Bucket=b, Key="dir/hello.txt")
        self.assertEqual(d["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.s3.delete_object(Bucket=b, Key="dir/hello.txt")
        self.assertEqual(error_of(self.s3.get_object, Bucket=b, Key="dir/hello.txt"), ("NoSuchKey", 404))
        self.assertEqual(error_of(self.s3.head_object, Bucket=b, Key="dir/hello.txt"), ("404", 404))
        self.assertEqual(error_of(self.s3.put_object, Bucket="no-such-bucket", Key="k", Body=b"x"),
                         ("NoSuchBucket", 404))

    def test_ranges_and_conditions(self):
        b = self.bucket("ranges")
        data = bytes(range(256)) * 4
        etag = self.s3.put_object(Bucket=b, Key="k", Body=data)["ETag"]
        for rng, want, content_range in [("bytes=0-9", data[:10], "bytes 0-9/1024"),
                                         ("bytes=1000-", data[1000:], "bytes 1000-1023/1024"),
                                         ("bytes=-24", data[-24:], "bytes 1000-1023/1024"),
                                         ("bytes=1020-5000", data[1020:], "bytes 1020-1023/1024")]:
            g = self.s3.get_object(Bucket=b, Key="k", Range=rng)
            self.assertEqual(g["Body"].read(), want, rng)
            self.assertEqual(g["ContentRange"], content_range)
            self.assertEqual(g["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual(error_of(self.s3.get_object, Bucket=b, Key="k", Range="bytes=2000-"), ("InvalidRange", 416))
        with self.assertRaises(ClientError) as cm:  # S3's document names the range and the size
            self.s3.get_object(Bucket=b, Key="k", Range="bytes=2000-")
        err = cm.exception.response["Error"]
        self.assertEqual((err.get("RangeRequested"), err.get("ActualObjectSize")), ("bytes=2000-", "1024"))
        # Not a range S3 serves: the whole object.
        self.assertEqual(self.s3.get_object(Bucket=b, Key="k", Range="bytes=0-1,4-5")["Body"].read(), data)
        # Conditions.
        self.assertEqual(self.s3.get_object(Bucket=b, Key="k", IfMatch=etag)["Body"].read(), data)
        self.assertEqual(error_of(self.s3.get_object, Bucket=b, Key="k", IfMatch='"other"'), ("PreconditionFailed", 412))
        self.assertEqual(error_of(self.s3.get_object, Bucket=b, Key="k", IfNoneMatch=etag), ("304", 304))
        self.assertEqual(error_of(self.s3.head_object, Bucket=b, Key="k", IfNoneMatch="*"), ("304", 304))
        modified = self.s3.head_object(Bucket=b, Key="k")["LastModified"]
        self.assertEqual(error_of(self.s3.get_object, Bucket=b, Key="k", IfModifiedSince=modified), ("304", 304))
        self.assertEqual(error_of(self.s3.get_object, Bucket=b, Key="k",
                                  IfUnmodifiedSince=modified.replace(year=2000)), ("PreconditionFailed", 412))
        self.s3.get_object(Bucket=b, Key="k", IfModifiedSince=modified.replace(year=2000))["Body"].read()
        status, headers, body = self.raw("GET", "/ranges/k", headers={"If-None-Match": etag})
        self.assertEqual((status, body, headers["etag"]), (304, b"", etag))
        # Conditional writes (raw: the older SDK has no IfNoneMatch on PutObject).
        status, _, body = self.raw("PUT", "/ranges/k", body=b"x", headers={"If-None-Match": "*"})
        self.assertEqual(status, 412)
        self.assertIn(b"<Code>PreconditionFailed</Code>", body)
        self.assertEqual(self.raw("PUT", "/ranges/new", body=b"x", headers={"If-None-Match": "*"})[0], 200)
        self.assertEqual(self.raw("PUT", "/ranges/new", body=b"y", headers={"If-Match": '"nope"'})[0], 412)
        self.assertEqual(self.raw("PUT", "/ranges/absent", body=b"y", headers={"If-Match": etag})[0], 404)
        self.assertEqual(self.s3.get_object(Bucket=b, Key="new")["Body"].read(), b"x")

    def test_digests(self):
        b = self.bucket("digests")
        data = b"checked bytes"
        md5 = b64(hashlib.md5(data).digest())
        self.s3.put_object(Bucket=b, Key="ok", Body=data, ContentMD5=md5)
        self.assertEqual(error_of(self.s3.put_object, Bucket=b, Key="bad", Body=b"other", ContentMD5=md5),
                         ("BadDigest", 400))
        self.assertEqual(error_of(self.s3.put_object, Bucket=b, Key="bad", Body=data, ContentMD5="notbase64!"),
                         ("InvalidDigest", 400))
        self.assertEqual(error_of(self.s3.head_object, Bucket=b, Key="bad"), ("404", 404))
        # Flexible checksums: computed by the SDK, checked and reported back.
        r = self.s3.put_object(Bucket=b, Key="crc", Body=data, ChecksumAlgorithm="CRC32")
        self.assertEqual(r["ChecksumCRC32"], crc32_b64(data))
        g = self.s3.get_object(Bucket=b, Key="crc", ChecksumMode="ENABLED")
        self.assertEqual(g["Body"].read(), data)
        self.assertEqual(g["ChecksumCRC32"], crc32_b64(data))
        r = self.s3.put_object(Bucket=b, Key="sha", Body=data, ChecksumAlgorithm="SHA256")
        self.assertEqual(r["ChecksumSHA256"], b64(hashlib.sha256(data).digest()))
        status, _, body = self.raw("PUT", "/digests/wrong", body=data,
                                   headers={"x-amz-checksum-crc32": crc32_b64(b"something else")})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>BadDigest</Code>", body)
        # A checksum is not sent back unless asked for.
        self.assertNotIn("ChecksumCRC32", self.s3.head_object(Bucket=b, Key="crc"))

    def test_metadata_limits_and_keys(self):
        b = self.bucket("limits")
        self.assertEqual(error_of(self.s3.put_object, Bucket=b, Key="k", Body=b"",
                                 Metadata={"big": "x" * 2100}), ("MetadataTooLarge", 400))
        self.assertEqual(error_of(self.s3.put_object, Bucket=b, Key="k" * 1025, Body=b""), ("KeyTooLongError", 400))
        self.s3.put_object(Bucket=b, Key="k" * 1024, Body=b"")

    def test_copy(self):
        b = self.bucket("copies")
        self.s3.put_object(Bucket=b, Key="src", Body=b"source bytes", ContentType="text/x-src", Metadata={"m": "1"})
        r = self.s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"})
        self.assertEqual(r["CopyObjectResult"]["ETag"], '"%s"' % hashlib.md5(b"source bytes").hexdigest())
        g = self.s3.get_object(Bucket=b, Key="dst")
        self.assertEqual((g["Body"].read(), g["ContentType"], g["Metadata"]), (b"source bytes", "text/x-src", {"m": "1"}))
        self.s3.copy_object(Bucket=b, Key="dst2", CopySource="%s/src" % b, MetadataDirective="REPLACE",
                            ContentType="text/plain", Metadata={"n": "2"})
        g = self.s3.get_object(Bucket=b, Key="dst2")
        self.assertEqual((g["ContentType"], g["Metadata"]), ("text/plain", {"n": "2"}))
        self.assertEqual(error_of(self.s3.copy_object, Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src"}),
                         ("InvalidRequest", 400))
        self.s3.copy_object(Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src"}, MetadataDirective="REPLACE")
        self.assertEqual(error_of(self.s3.copy_object, Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "nope"}),
                         ("NoSuchKey", 404))
        self.assertEqual(error_of(self.s3.copy_object, Bucket=b, Key="x", CopySource={"Bucket": "nope-nope", "Key": "k"}),
                         ("NoSuchBucket", 404))
        # The copy is independent of its source.
        self.s3.delete_object(Bucket=b, Key="src")
        self.assertEqual(self.s3.get_object(Bucket=b, Key="dst")["Body"].read(), b"source bytes")

    def test_bodies_either_side_of_the_row_limit(self):
        """Bodies up to 64 KiB live in the object's row, bigger ones in a file (s3.h,
        S3_INLINE_MAX): every read and copy path gives the same bytes either way."""
        b = self.bucket("row-limit")
        for size in (0, 1, 65535, 65536, 65537, 200 * 1024):
            data = bytes((i * 7 + size) % 251 for i in range(size))
            key = "k%d" % size
            r = self.s3.put_object(Bucket=b, Key=key, Body=data, ChecksumAlgorithm="CRC32")
            self.assertEqual(r["ETag"], '"%s"' % hashlib.md5(data).hexdigest(), size)
            g = self.s3.get_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
            self.assertEqual((g["Body"].read(), g["ChecksumCRC32"]), (data, crc32_b64(data)), size)
            self.assertEqual(self.s3.head_object(Bucket=b, Key=key)["ContentLength"], size)
            if size > 10:
                g = self.s3.get_object(Bucket=b, Key=key, Range="bytes=3-9")
                self.assertEqual((g["Body"].read(), g["ContentRange"]), (data[3:10], "bytes 3-9/%d" % size))
                self.assertEqual(self.s3.get_object(Bucket=b, Key=key, Range="bytes=-5")["Body"].read(), data[-5:])
            self.s3.copy_object(Bucket=b, Key=key + "-copy", CopySource={"Bucket": b, "Key": key})
            self.s3.put_object(Bucket=b, Key=key, Body=b"replaced")  # the copy keeps its own bytes
            self.assertEqual(self.s3.get_object(Bucket=b, Key=key + "-copy")["Body"].read(), data, size)
            up = self.s3.create_multipart_upload(Bucket=b, Key=key + "-part")["UploadId"]
            copy = {"Bucket": b, "Key": key + "-copy"}
            extra = {"CopySourceRange": "bytes=1-%d" % (size - 2)} if size > 10 else {}
            p = self.s3.upload_part_copy(Bucket=b, Key=key + "-part", UploadId=up, PartNumber=1, CopySource=copy, **extra)
            self.s3.complete_multipart_upload(Bucket=b, Key=key + "-part", UploadId=up, MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": p["CopyPartResult"]["ETag"]}]})
            self.assertEqual(self.s3.get_object(Bucket=b, Key=key + "-part")["Body"].read(),
                             data[1:size - 1] if size > 10 else data, size)
            self.assertEqual(self.s3.get_object(Bucket=b, Key=key)["Body"].read(), b"replaced")
        # A conditional read of a row-held object answers 304 with no body.
        etag = self.s3.head_object(Bucket=b, Key="k1-copy")["ETag"]
        self.assertEqual(error_of(self.s3.get_object, Bucket=b, Key="k1-copy", IfNoneMatch=etag), ("304", 304))

    def test_delete_objects(self):
        b = self.bucket("multi-delete")
        for i in range(5):
            self.s3.put_object(Bucket=b, Key="k%d" % i, Body=b"x")
        r = self.s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k0"}, {"Key": "k1"}, {"Key": "absent"}]})
        self.assertEqual(sorted(d["Key"] for d in r["Deleted"]), ["absent", "k0", "k1"])
        r = self.s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k2"}], "Quiet": True})
        self.assertNotIn("Deleted", r)
        self.assertEqual(all_keys(self.s3, b), ["k3", "k4"])
        status, _, body = self.raw("POST", "/multi-delete?delete", body=b"<Delete><Object><Key>k3</Key></Object></Delete>")
        self.assertEqual(status, 400)  # neither Content-MD5 nor a checksum
        self.assertIn(b"<Code>InvalidRequest</Code>", body)
        bad = b"<Delete><Object><Key>k3</Key>"
        status, _, body = self.raw("POST", "/multi-delete?delete", body=bad,
                                   headers={"Content-MD5": b64(hashlib.md5(bad).digest())})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>MalformedXML</Code>", body)
        self.assertEqual(all_keys(self.s3, b), ["k3", "k4"])


class TestListings(S3Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s3 = dsstest.client(cls.endpoint, "s3")
        s3.create_bucket(Bucket="listing")
        cls.keys = sorted(["a.txt", "b/1", "b/2", "b/c/3", "c d/e+f", "d/", "z\u00e9", "b0"] +
                          ["many/%03d" % i for i in range(25)])
        for k in cls.keys:
            s3.put_object(Bucket="listing", Key=k, Body=k.encode())

    def test_v2_everything(self):
        self.assertEqual(all_keys(self.s3, "listing"), self.keys)
        self.assertEqual(all_keys(self.s3, "listing", PaginationConfig={"PageSize": 3}), self.keys)

    def test_delimiter_and_prefix(self):
        r = self.s3.list_objects_v2(Bucket="listing", Delimiter="/")
        self.assertEqual([o["Key"] for o in r["Contents"]], ["a.txt", "b0", "z\u00e9"])
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]], ["b/", "c d/", "d/", "many/"])
        self.assertEqual(r["KeyCount"], 7)
        r = self.s3.list_objects_v2(Bucket="listing", Prefix="b/", Delimiter="/")
        self.assertEqual([o["Key"] for o in r["Contents"]], ["b/1", "b/2"])
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]], ["b/c/"])
        # Pages of two items, common prefixes counted as items, none repeated.
        seen, token = [], None
        while True:
            kw = {"ContinuationToken": token} if token else {}
            r = self.s3.list_objects_v2(Bucket="listing", Delimiter="/", MaxKeys=2, **kw)
            seen += [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
            if not r["IsTruncated"]:
                break
            token = r["NextContinuationToken"]
        self.assertEqual(sorted(seen), sorted(["a.txt", "b0", "z\u00e9", "b/", "c d/", "d/", "many/"]))

    def test_start_after_max_keys_and_v1(self):
        r = self.s3.list_objects_v2(Bucket="listing", StartAfter="many/020")
        self.assertEqual([o["Key"] for o in r["Contents"]], [k for k in self.keys if k > "many/020"])
        r = self.s3.list_objects_v2(Bucket="listing", MaxKeys=0)
        self.assertEqual((r["KeyCount"], r["IsTruncated"]), (0, False))
        self.assertEqual(error_of(self.s3.list_objects_v2, Bucket="listing", ContinuationToken="!!"),
                         ("InvalidArgument", 400))
        keys, marker = [], ""
        while True:
            r = self.s3.list_objects(Bucket="listing", Marker=marker, MaxKeys=10)
            keys += [o["Key"] for o in r["Contents"]]
            self.assertIn("Owner", r["Contents"][0])
            if not r["IsTruncated"]:
                break
            marker = keys[-1]
        self.assertEqual(keys, self.keys)
        r = self.s3.list_objects(Bucket="listing", Delimiter="/", MaxKeys=2)
        self.assertEqual(r["NextMarker"], "b/")

    def test_encoding(self):
        status, _, body = self.raw("GET", "/listing?list-type=2&prefix=c&encoding-type=url")
        self.assertEqual(status, 200)
        self.assertIn(b"<Key>c+d/e%2Bf</Key>", body)
        status, _, body = self.raw("GET", "/listing?list-type=2&prefix=c")
        self.assertIn(b"<Key>c d/e+f</Key>", body)
        status, _, body = self.raw("GET", "/listing?list-type=2&encoding-type=gzip")
        self.assertEqual(status, 400)

    def test_virtual_host(self):
        port = self.emulator.port
        for host in ["listing.localhost:%d" % port, "listing.s3.localhost:%d" % port,
                     "listing.s3.localhost.localstack.cloud:%d" % port]:
            status, _, body = self.raw("GET", "/b/c/3", headers={"Host": host})
            self.assertEqual((status, body), (200, b"b/c/3"), host)
            status, _, body = self.raw("GET", "/?list-type=2&prefix=b/c", headers={"Host": host})
            self.assertIn(b"<Key>b/c/3</Key>", body)


class TestMultipart(S3Base):
    def test_post_with_a_form_content_type(self):
        """S3's POSTs sent with a form Content-Type (curl -d sends one) are S3's, not taken for the
        Query protocol: they name their sub-resource (?uploads, ?uploadId=, ?delete)."""
        b = self.bucket("form-posts")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = self.raw("POST", "/%s/big?uploads" % b, b"", form)
        self.assertEqual(status, 200, body)
        upload = re.search(rb"<UploadId>([^<]+)</UploadId>", body).group(1).decode()
        part = self.s3.upload_part(Bucket=b, Key="big", UploadId=upload, PartNumber=1, Body=b"hello")
        done = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
                "</CompleteMultipartUpload>" % part["ETag"]).encode()
        status, _, body = self.raw("POST", "/%s/big?uploadId=%s" % (b, upload), done, form)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.s3.get_object(Bucket=b, Key="big")["Body"].read(), b"hello")
        gone = b"<Delete><Object><Key>big</Key></Object><Quiet>true</Quiet></Delete>"
        md5 = base64.b64encode(hashlib.md5(gone).digest()).decode()
        status, _, body = self.raw("POST", "/%s?delete" % b, gone, dict(form, **{"Content-MD5": md5}))
        self.assertEqual(status, 200, body)
        self.assertNotIn("Contents", self.s3.list_objects_v2(Bucket=b))
        # Without a sub-resource a form POST is still the Query protocol's.
        status, _, body = self.raw("POST", "/", b"Version=2012-11-05", form)
        self.assertEqual(status, 400)
        self.assertIn(b"MissingAction", body)

    def upload(self, b, key, parts, **kw):
        up = self.s3.create_multipart_upload(Bucket=b, Key=key, **kw)
        done = []
        for i, data in enumerate(parts, 1):
            r = self.s3.upload_part(Bucket=b, Key=key, UploadId=up["UploadId"], PartNumber=i, Body=data)
            done.append({"PartNumber": i, "ETag": r["ETag"]})
        return up["UploadId"], done

    def test_complete(self):
        b = self.bucket("multi")
        parts = [b"a" * (5 * MiB), b"b" * (5 * MiB), b"tail"]
        uid, done = self.upload(b, "big", parts, ContentType="application/x-big", Metadata={"k": "v"})
        listed = self.s3.list_parts(Bucket=b, Key="big", UploadId=uid)
        self.assertEqual([p["Size"] for p in listed["Parts"]], [len(p) for p in parts])
        self.assertEqual([u["UploadId"] for u in self.s3.list_multipart_uploads(Bucket=b)["Uploads"]], [uid])
        r = self.s3.complete_multipart_upload(Bucket=b, Key="big", UploadId=uid, MultipartUpload={"Parts": done})
        want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
        self.assertEqual(r["ETag"], '"%s"' % want)
        g = self.s3.get_object(Bucket=b, Key="big")
        self.assertEqual(hashlib.sha256(g["Body"].read()).digest(), hashlib.sha256(b"".join(parts)).digest())
        self.assertEqual((g["ETag"], g["ContentType"], g["Metadata"]), ('"%s"' % want, "application/x-big", {"k": "v"}))
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=b).get("Uploads", []), [])
        # PartNumber reads one part back.
        g = self.s3.get_object(Bucket=b, Key="big", PartNumber=3)
        self.assertEqual((g["Body"].read(), g["PartsCount"]), (b"tail", 3))
        self.assertEqual(g["ContentRange"], "bytes %d-%d/%d" % (10 * MiB, 10 * MiB + 3, 10 * MiB + 4))
        self.assertEqual(error_of(self.s3.get_object, Bucket=b, Key="big", PartNumber=3, Range="bytes=0-1"),
                         ("InvalidRequest", 400))
        self.assertEqual(error_of(self.s3.complete_multipart_upload, Bucket=b, Key="big", UploadId=uid,
                                  MultipartUpload={"Parts": done}), ("NoSuchUpload", 404))

    def test_errors(self):
        b = self.bucket("multi-errors")
        uid, done = self.upload(b, "k", [b"x" * (5 * MiB), b"small", b"last"])
        self.assertEqual(error_of(self.s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                                  MultipartUpload={"Parts": done}), ("EntityTooSmall", 400))
        self.assertEqual(error_of(self.s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                                  MultipartUpload={"Parts": [done[1], done[0]]}), ("InvalidPartOrder", 400))
        self.assertEqual(error_of(self.s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                                  MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0000"'}]}), ("InvalidPart", 400))
        self.assertEqual(error_of(self.s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                                  MultipartUpload={"Parts": [{"PartNumber": 9, "ETag": done[0]["ETag"]}]}),
                         ("InvalidPart", 400))
        self.assertEqual(error_of(self.s3.upload_part, Bucket=b, Key="k", UploadId=uid, PartNumber=10001, Body=b""),
                         ("InvalidArgument", 400))
        self.assertEqual(error_of(self.s3.upload_part, Bucket=b, Key="k", UploadId="nope", PartNumber=1, Body=b""),
                         ("NoSuchUpload", 404))
        self.assertEqual(error_of(self.s3.list_parts, Bucket=b, Key="other", UploadId=uid), ("NoSuchUpload", 404))
        # A part sent again replaces the first; then a two-part upload completes.
        r = self.s3.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=2, Body=b"new tail")
        r = self.s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid,
                                              MultipartUpload={"Parts": [done[0], {"PartNumber": 2, "ETag": r["ETag"]}]})
        self.assertEqual(self.s3.get_object(Bucket=b, Key="k")["Body"].read(), b"x" * (5 * MiB) + b"new tail")
        self.assertEqual(self.s3.get_object(Bucket=b, Key="k")["ContentLength"], 5 * MiB + 8)
        # Abort.
        uid, _ = self.upload(b, "gone", [b"1"])
        self.s3.abort_multipart_upload(Bucket=b, Key="gone", UploadId=uid)
        self.assertEqual(error_of(self.s3.list_parts, Bucket=b, Key="gone", UploadId=uid), ("NoSuchUpload", 404))
        self.assertEqual(error_of(self.s3.abort_multipart_upload, Bucket=b, Key="gone", UploadId=uid),
                         ("NoSuchUpload", 404))

    def test_listings_and_copy_part(self):
        b = self.bucket("multi-list")
        self.s3.put_object(Bucket=b, Key="source", Body=bytes(range(256)) * 40960)  # 10 MiB
        up = self.s3.create_multipart_upload(Bucket=b, Key="assembled")["UploadId"]
        r1 = self.s3.upload_part_copy(Bucket=b, Key="assembled", UploadId=up, PartNumber=1,
                                      CopySource={"Bucket": b, "Key": "source"}, CopySourceRange="bytes=0-5242879")
        r2 = self.s3.upload_part_copy(Bucket=b, Key="assembled", UploadId=up, PartNumber=2,
                                      CopySource={"Bucket": b, "Key": "source"}, CopySourceRange="bytes=5242880-5242889")
        self.assertEqual(error_of(self.s3.upload_part_copy, Bucket=b, Key="assembled", UploadId=up, PartNumber=3,
                                  CopySource={"Bucket": b, "Key": "source"}, CopySourceRange="bytes=0-99999999"),
                         ("InvalidArgument", 400))
        parts = [{"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]
        for i in range(3):
            self.s3.create_multipart_upload(Bucket=b, Key="dir/u%d" % i)
        r = self.s3.list_multipart_uploads(Bucket=b, Delimiter="/")
        self.assertEqual([u["Key"] for u in r["Uploads"]], ["assembled"])
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]], ["dir/"])
        r = self.s3.list_multipart_uploads(Bucket=b, Prefix="dir/", MaxUploads=2)
        self.assertEqual(([u["Key"] for u in r["Uploads"]], r["IsTruncated"]), (["dir/u0", "dir/u1"], True))
        r = self.s3.list_parts(Bucket=b, Key="assembled", UploadId=up, MaxParts=1)
        self.assertEqual((r["IsTruncated"], r["NextPartNumberMarker"]), (True, 1))
        self.s3.complete_multipart_upload(Bucket=b, Key="assembled", UploadId=up, MultipartUpload={"Parts": parts})
        body = self.s3.get_object(Bucket=b, Key="assembled")["Body"].read()
        self.assertEqual(body, (bytes(range(256)) * 40960)[:5242890])


class TestChunked(S3Base):
    """aws-chunked bodies: what SDKs send over TLS, here over plain HTTP."""

    def chunked_put(self, key, chunks, trailer=None, signed=False, decoded_length=None, extra=None):
        body = b""
        for c in chunks + [b""]:
            ext = b";chunk-signature=" + b"0" * 64 if signed else b""
            body += b"%x" % len(c) + ext + b"\r\n" + c + (b"\r\n" if c else b"")
        for name, value in (trailer or {}).items():
            body += name.encode() + b":" + value.encode() + b"\r\n"
        body += b"\r\n"
        headers = {"Content-Encoding": "aws-chunked",
                   "x-amz-decoded-content-length": str(sum(map(len, chunks)) if decoded_length is None else decoded_length),
                   "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" if signed
                   else "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
        if trailer:
            headers["x-amz-trailer"] = ",".join(trailer)
        headers.update(extra or {})
        return self.raw("PUT", "/chunked/" + key, body=body, headers=headers)

    def test_raw_encodings(self):
        b = self.bucket("chunked")
        chunks = [b"a" * 70000, b"b" * 3, b"c" * 9000]
        data = b"".join(chunks)
        status, headers, _ = self.chunked_put("signed", chunks, signed=True)
        self.assertEqual(status, 200)
        self.assertEqual(headers["etag"], '"%s"' % hashlib.md5(data).hexdigest())
        status, headers, _ = self.chunked_put("crc", chunks, trailer={"x-amz-checksum-crc32": crc32_b64(data)},
                                              extra={"x-amz-sdk-checksum-algorithm": "CRC32"})
        self.assertEqual((status, headers["x-amz-checksum-crc32"]), (200, crc32_b64(data)))
        for k in ["signed", "crc"]:
            self.assertEqual(self.s3.get_object(Bucket=b, Key=k)["Body"].read(), data)
        # The transfer encoding is not the object's.
        self.assertNotIn("ContentEncoding", self.s3.head_object(Bucket=b, Key="crc"))
        status, _, body = self.chunked_put("crc", [b"new"], trailer={"x-amz-checksum-crc32": crc32_b64(b"old")})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>BadDigest</Code>", body)
        status, _, body = self.chunked_put("crc", [b"new"], decoded_length=10)
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>IncompleteBody</Code>", body)
        status, _, body = self.raw("PUT", "/chunked/crc", body=b"zz\r\nnot chunked",
                                   headers={"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "3"})
        self.assertEqual(status, 400)
        # None of the failures touched the stored object.
        self.assertEqual(self.s3.get_object(Bucket=b, Key="crc")["Body"].read(), data)

    def test_sdk_trailer(self):
        """botocore's own aws-chunked encoder, which it uses only over TLS: forced here."""
        b = self.bucket("chunked")

        def force_trailer(params, **kw):
            algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
            if isinstance(algorithm, dict):
                algorithm["in"] = "trailer"

        self.s3.meta.events.register("before-call.s3.PutObject", force_trailer)
        data = bytes(range(256)) * 4100
        for algorithm in ["CRC32", "SHA1", "SHA256"]:
            r = self.s3.put_object(Bucket=b, Key=algorithm, Body=io.BytesIO(data), ChecksumAlgorithm=algorithm)
            g = self.s3.get_object(Bucket=b, Key=algorithm, ChecksumMode="ENABLED")
            self.assertEqual(g["Body"].read(), data)
            self.assertEqual(g["Checksum" + algorithm], r["Checksum" + algorithm])


class TestLimits(S3Base):
    def test_entity_too_large_refused_before_the_body(self):
        self.bucket("limits-big")
        conn = http.client.HTTPConnection("127.0.0.1", self.emulator.port, timeout=10)
        conn.putrequest("PUT", "/limits-big/huge")
        conn.putheader("Content-Length", str(6 << 30))
        conn.putheader("Expect", "100-continue")
        conn.endheaders()
        r = conn.getresponse()
        self.assertEqual(r.status, 400)
        self.assertIn(b"<Code>EntityTooLarge</Code>", r.read())
        conn.close()
        self.assertEqual(error_of(self.s3.head_object, Bucket="limits-big", Key="huge"), ("404", 404))

    def test_big_object_streams_in_constant_memory(self):
        """An object goes to disk and comes back as it streams: the emulator's peak RSS grows by far
        less than the object while 192 MiB go up and down (a 5 GiB upload must not need 5 GiB)."""
        if dsstest.WRAPPER:
            self.skipTest("under a wrapper the process is the wrapper's")
        self.bucket("limits-stream")
        pid, size, block = self.emulator.proc.pid, 192 * MiB, hashlib.sha256(b"block").digest() * (MiB // 32)
        reset_peak_rss(pid)
        before = peak_rss_kb(pid)
        conn = http.client.HTTPConnection("127.0.0.1", self.emulator.port, timeout=300)
        self.addCleanup(conn.close)
        conn.putrequest("PUT", "/limits-stream/big")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        for _ in range(size // MiB):
            conn.send(block)
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        conn.request("GET", "/limits-stream/big")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        received = hashlib.sha256()
        for piece in iter(lambda: r.read(MiB), b""):
            received.update(piece)
        self.assertEqual(received.digest(), hashlib.sha256(block * (size // MiB)).digest())
        grown_mib = (peak_rss_kb(pid) - before) / 1024
        self.assertLess(grown_mib, 48, "peak RSS grew by %.1f MiB for a %d MiB object" % (grown_mib, size // MiB))


if __name__ == "__main__":
    unittest.main()
