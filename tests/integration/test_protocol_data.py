"""Replays the protocol test files of tests/data/<service>/ (format: tests/data/README.md)
against a fresh emulator per file, over plain http.client, and compares every response with
the one the file expects.

Each file becomes one test method, test_<service>__<file name>, so a failure names its file;
the message says which step failed and how.
"""
import glob
import http.client
import json
import os
import re
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as xml_escape

import dsstest

DATA = os.path.join(dsstest.SOURCE, "tests", "data")

PATTERNS = {
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "md5": r"[0-9a-fA-F]{32}",
    "int": r"-?[0-9]+",
    "base64": r"[A-Za-z0-9+/=]+",
    "date": r"[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
    "iso8601": r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z",
    "any": r".*?",
}
PLACEHOLDER = re.compile(r"\{\{(=?)([A-Za-z0-9_]+)(?:>([A-Za-z0-9_]+)|\|([a-z]+))?\}\}")
SECTION = re.compile(r"^--- (request|response)(?: +([a-z]+))? *$")


class DataFileError(Exception):
    """The data file itself is malformed."""


def parse_file(path):
    """Returns the steps of a data file: a list of (request, response) dicts."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    sections, current = [], None
    for n, line in enumerate(lines, 1):
        m = SECTION.match(line)
        if m:
            current = {"kind": m.group(1), "mode": m.group(2), "lines": [], "line": n}
            sections.append(current)
        elif current is not None:
            current["lines"].append(line)
        elif line.strip() and not line.startswith("#"):
            raise DataFileError("%s:%d: text before the first section" % (path, n))
    steps = []
    for i in range(0, len(sections), 2):
        req, resp = sections[i], sections[i + 1] if i + 1 < len(sections) else None
        if req["kind"] != "request" or not resp or resp["kind"] != "response":
            raise DataFileError("%s:%d: expected a request section followed by a response section"
                                % (path, req["line"]))
        steps.append((split_message(req, path), split_message(resp, path)))
    if not steps:
        raise DataFileError("%s: no steps" % path)
    return steps


def split_message(section, path):
    """First line, headers (name, value) and body of a section."""
    lines = section["lines"]
    try:
        blank = lines.index("")
    except ValueError:
        blank = len(lines)
    head, body = lines[:blank], "\n".join(lines[blank + 1:]).rstrip("\n")
    if not head:
        raise DataFileError("%s:%d: missing the first line" % (path, section["line"]))
    headers = []
    for h in head[1:]:
        if h.startswith("!"):
            headers.append((h[1:].strip(), None))
        elif ":" in h:
            name, value = h.split(":", 1)
            headers.append((name.strip(), value.strip()))
        else:
            raise DataFileError("%s:%d: bad header line %r" % (path, section["line"], h))
    return {"first": head[0], "headers": headers, "body": body, "mode": section["mode"] or "text",
            "line": section["line"]}


class Matcher:
    """Turns expected text with placeholders into a regular expression, and records what the
    capturing placeholders matched."""

    def __init__(self, variables):
        self.variables = variables

    def substitute(self, text):
        """Replaces {{=NAME}} (with an optional |url, |json or |xml encoding) in request text."""
        def repl(m):
            if not m.group(1):
                raise DataFileError("placeholder %s where only {{=NAME}} may stand" % m.group(0))
            return self.value(m.group(2), m.group(4))
        return PLACEHOLDER.sub(repl, text)

    def value(self, name, encoding):
        if name not in self.variables:
            raise DataFileError("no variable %r (have %s)" % (name, sorted(self.variables)))
        v = self.variables[name]
        if encoding == "url":
            return urllib.parse.quote(v, safe="")
        if encoding == "json":
            return json.dumps(v)[1:-1]
        if encoding == "xml":
            return xml_escape(v)
        if encoding:
            raise DataFileError("unknown encoding |%s" % encoding)
        return v

    def regex(self, expected):
        parts, names, pos = [], [], 0
        for m in PLACEHOLDER.finditer(expected):
            parts.append(re.escape(expected[pos:m.start()]))
            pos = m.end()
            if m.group(1):
                parts.append(re.escape(self.value(m.group(2), m.group(4))))
                continue
            if m.group(2) not in PATTERNS:
                raise DataFileError("unknown placeholder %s" % m.group(0))
            if m.group(3):
                names.append(m.group(3))
                parts.append("(?P<%s>%s)" % (m.group(3), PATTERNS[m.group(2)]))
            else:
                parts.append("(?:%s)" % PATTERNS[m.group(2)])
        parts.append(re.escape(expected[pos:]))
        return re.compile("".join(parts), re.DOTALL), names

    def match(self, expected, actual):
        """True if actual matches expected; saves captures."""
        rx, names = self.regex(expected)
        m = rx.fullmatch(actual)
        if not m:
            return False
        for n in names:
            self.variables[n] = m.group(n)
        return True


def compare_json(matcher, expected, actual, where="$"):
    """Returns None if equal, else a description of the first difference."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return "%s: expected an object, got %r" % (where, actual)
        if set(expected) != set(actual):
            return "%s: keys %s, expected %s" % (where, sorted(actual), sorted(expected))
        for k in expected:
            d = compare_json(matcher, expected[k], actual[k], "%s.%s" % (where, k))
            if d:
                return d
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return "%s: expected %d items, got %r" % (where, len(expected), actual)
        for i, (e, a) in enumerate(zip(expected, actual)):
            d = compare_json(matcher, e, a, "%s[%d]" % (where, i))
            if d:
                return d
        return None
    if isinstance(expected, str):
        if isinstance(actual, str) and matcher.match(expected, actual):
            return None
        return "%s: %r does not match %r" % (where, actual, expected)
    if expected != actual or type(expected) is not type(actual):
        return "%s: %r, expected %r" % (where, actual, expected)
    return None


def compare_xml(matcher, expected, actual, where=""):
    where = "%s/%s" % (where, expected.tag)
    if expected.tag != actual.tag:
        return "%s: element %s, expected %s" % (where, actual.tag, expected.tag)
    if set(expected.attrib) != set(actual.attrib):
        return "%s: attributes %s, expected %s" % (where, sorted(actual.attrib), sorted(expected.attrib))
    for k, v in expected.attrib.items():
        if not matcher.match(v, actual.attrib[k]):
            return "%s@%s: %r does not match %r" % (where, k, actual.attrib[k], v)
    etext, atext = (expected.text or "").strip(), (actual.text or "").strip()
    if not matcher.match(etext, atext):
        return "%s: text %r does not match %r" % (where, atext, etext)
    if len(expected) != len(actual):
        return "%s: children %s, expected %s" % (where, [c.tag for c in actual], [c.tag for c in expected])
    for e, a in zip(expected, actual):
        d = compare_xml(matcher, e, a, where)
        if d:
            return d
    return None


class ProtocolDataTest(unittest.TestCase):
    """Gets one test method per data file (added below)."""

    def run_file(self, path):
        steps = parse_file(path)
        emulator = dsstest.Emulator().start()
        try:
            variables = {"host": "127.0.0.1:%d" % emulator.port, "port": str(emulator.port),
                         "endpoint": emulator.endpoint}
            matcher = Matcher(variables)
            for n, (req, resp) in enumerate(steps, 1):
                where = "%s step %d (line %d)" % (os.path.relpath(path, DATA), n, resp["line"])
                status, headers, body = self.send(emulator.port, matcher, req)
                self.check(where, matcher, resp, status, headers, body)
        finally:
            rc, log = emulator.stop()
        self.assertEqual(rc, 0, "dss-emulator exited with %s:\n%s" % (rc, log[-20000:]))

    def send(self, port, matcher, req):
        words = matcher.substitute(req["first"]).split()
        if len(words) < 2:
            raise DataFileError("bad request line %r" % req["first"])
        method, target = words[0], words[1]
        headers = [(k, matcher.substitute(v)) for k, v in req["headers"] if v is not None]
        body = matcher.substitute(req["body"]).encode("utf-8")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            names = {k.lower() for k, _ in headers}
            if "host" not in names:
                conn.putheader("Host", "127.0.0.1:%d" % port)
            no_body = any(k.lower() == "content-length" and v == "none" for k, v in headers)
            for k, v in headers:
                if k.lower() != "content-length":
                    conn.putheader(k, v)
            if not no_body and (body or method not in ("GET", "HEAD", "DELETE")):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if not no_body and body else None)
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            conn.close()

    def check(self, where, matcher, resp, status, headers, body):
        want = resp["first"].split()
        want_status = want[1] if want[0].startswith("HTTP/") else want[0]
        text = body.decode("utf-8", "replace")
        self.assertEqual(str(status), want_status, "%s: status %s, expected %s; body:\n%s"
                         % (where, status, want_status, text))
        got = {}
        for k, v in headers:
            got.setdefault(k.lower(), []).append(v)
        for name, pattern in resp["headers"]:
            values = got.get(name.lower())
            if pattern is None:
                self.assertIsNone(values, "%s: header %s present (%s), expected absent" % (where, name, values))
                continue
            self.assertIsNotNone(values, "%s: header %s missing; have %s" % (where, name, sorted(got)))
            self.assertTrue(any(matcher.match(pattern, v) for v in values),
                            "%s: header %s: %r does not match %r" % (where, name, values, pattern))
        mode, expected = resp["mode"], resp["body"]
        if mode == "any":
            return
        if mode == "empty":
            self.assertEqual(body, b"", "%s: expected an empty body, got %r" % (where, text))
        elif mode == "text":
            self.assertTrue(matcher.match(expected, text.rstrip("\n")),
                            "%s: body differs.\nexpected: %s\nactual:   %s" % (where, expected, text))
        elif mode == "json":
            try:
                actual = json.loads(text)
            except ValueError as e:
                self.fail("%s: body is not JSON (%s): %r" % (where, e, text))
            diff = compare_json(matcher, json.loads(expected), actual)
            self.assertIsNone(diff, "%s: %s\nactual body: %s" % (where, diff, text))
        elif mode == "xml":
            try:
                actual = ET.fromstring(body)
            except ET.ParseError as e:
                self.fail("%s: body is not XML (%s): %r" % (where, e, text))
            diff = compare_xml(matcher, ET.fromstring(expected.encode("utf-8")), actual)
            self.assertIsNone(diff, "%s: %s\nactual body: %s" % (where, diff, text))
        else:
            raise DataFileError("%s: unknown comparison %r" % (where, mode))


def _add_tests():
    files = sorted(p for p in glob.glob(os.path.join(DATA, "*", "*"))
                   if os.path.isfile(p) and not os.path.basename(p).startswith((".", "README")))
    for path in files:
        service = os.path.basename(os.path.dirname(path))
        stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
        name = "test_%s__%s" % (service, stem)

        def test(self, path=path):
            self.run_file(path)
        test.__doc__ = os.path.relpath(path, DATA)
        setattr(ProtocolDataTest, name, test)
    if not files:
        def test_data_files_exist(self):
            self.fail("no data files under %s" % DATA)
        ProtocolDataTest.test_data_files_exist = test_data_files_exist


_add_tests()

if __name__ == "__main__":
    unittest.main()
