"""JSON-protocol answers are UTF-8 whatever the request held (found by tests/fuzz/fuzz_json_dispatch):
a body that is not UTF-8 is refused with SerializationException instead of being stored and later
echoed, and an error message that quotes the X-Amz-Target's stray bytes, or is cut at the message
buffer's end in the middle of a character, still decodes. Raw HTTP (http.client), since AWS clients
cannot send such bytes; then boto3 reads what a valid request stored."""
import http.client
import json
import unittest

import dsstest


class JsonUtf8(dsstest.EmulatorTestCase):
    def post(self, target, body):
        """POSTs body with X-Amz-Target target (bytes, sent as is); returns (status, decoded JSON)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.emulator.port, timeout=60)
        try:
            conn.putrequest("POST", "/")
            conn.putheader("X-Amz-Target", target)
            conn.putheader("Content-Type", "application/x-amz-json-1.1")
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            raw = r.read()
            return r.status, json.loads(raw.decode("utf-8"))  # strict: fails on bytes that are not UTF-8
        finally:
            conn.close()

    def test_body_not_utf8_is_refused_and_not_stored(self):
        status, err = self.post(b"AmazonSSM.PutParameter",
                                b'{"Name": "/utf8/bad", "Value": "v", "Type": "String", "Description": "a\xff\xfeb"}')
        self.assertEqual(status, 400)
        self.assertEqual(err["__type"], "com.amazon.coral.service#SerializationException")
        ssm = self.client("ssm")
        with self.assertRaises(ssm.exceptions.ParameterNotFound):
            ssm.get_parameter(Name="/utf8/bad")
        # The same request in UTF-8 is stored and read back intact.
        status, _ = self.post(b"AmazonSSM.PutParameter", json.dumps(
            {"Name": "/utf8/good", "Value": "v\u00e9", "Type": "String", "Description": "a\u00e9b"}).encode())
        self.assertEqual(status, 200)
        self.assertEqual(ssm.get_parameter(Name="/utf8/good")["Parameter"]["Value"], "v\u00e9")

    def test_error_message_quoting_stray_target_bytes(self):
        status, err = self.post(b"AmazonSQS.\xff\xfe", b"{}")
        self.assertEqual(status, 400)
        self.assertEqual(err["__type"], "com.amazon.coral.service#UnknownOperationException")
        self.assertIn("AmazonSQS.", err["message"])

    def test_error_message_cut_inside_a_character(self):
        # 600 two-byte characters: the message passes the 1 KiB buffer and is cut mid-character.
        status, err = self.post(("AmazonSQS." + "\u00e9" * 600).encode(), b"{}")
        self.assertEqual(status, 400)
        self.assertEqual(err["__type"], "com.amazon.coral.service#UnknownOperationException")
        self.assertTrue(err["message"].startswith("Operation AmazonSQS.\u00e9\u00e9"))


if __name__ == "__main__":
    unittest.main()
