"""dsstest -- the integration tests' harness: a real dss-emulator on a free port, real clients.

EmulatorTestCase starts `$DSS_BIN/dss-emulator --listen 127.0.0.1:0 --ephemeral` once per test
class, reads the port it bound from its first line of output, and stops it (SIGTERM, then
SIGKILL) when the class ends -- also when a test fails or the run is interrupted, so no stray
emulator outlives the suite. Clients get dummy credentials and us-east-1.

DSS_EMULATOR_WRAPPER, if set, is a command line every emulator is started under (ci/valgrind
sets a script that runs it under valgrind memcheck; its DSS_BIN holds dss-scheduler and
dss-scenario wrapped the same way); DSS_STOP_TIMEOUT is how long a stopping emulator may take
before it is killed (default 10 s, 120 s under a wrapper).
"""
import atexit
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

import boto3
import botocore.config
import botocore.session

BIN = os.environ.get("DSS_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE = os.environ.get("DSS_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
_live = []
_logs = []  # emulator logs not yet removed: a killed emulator's (kill() keeps it to be read)


def _kill_all():
    for p in list(_live):
        stop_process(p)
    for path in _logs:
        if os.path.exists(path):
            os.unlink(path)


atexit.register(_kill_all)


WRAPPER = shlex.split(os.environ.get("DSS_EMULATOR_WRAPPER", ""))
STOP_TIMEOUT = float(os.environ.get("DSS_STOP_TIMEOUT") or (120 if WRAPPER else 10))


def stop_process(proc, sig=signal.SIGTERM, timeout=None):
    """Stops proc with sig, then SIGKILL if it has not gone within timeout seconds."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=STOP_TIMEOUT if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in _live:
        _live.remove(proc)
    for f in (proc.stdout, proc.stderr):
        if f:
            f.close()


class Emulator:
    """One dss-emulator process. data_dir=None: --ephemeral."""

    def __init__(self, data_dir=None, port=0, extra_args=()):
        self.data_dir = data_dir
        self.port = port
        self.extra_args = list(extra_args)
        self.proc = None
        self.stderr_path = None

    def start(self):
        args = WRAPPER + [os.path.join(BIN, "dss-emulator"), "--listen", "127.0.0.1:%d" % self.port]
        args += ["--data-dir", self.data_dir] if self.data_dir else ["--ephemeral"]
        args += self.extra_args
        fd, self.stderr_path = tempfile.mkstemp(prefix="dss-emulator-", suffix=".log")
        os.close(fd)
        _logs.append(self.stderr_path)
        with open(self.stderr_path, "w") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        _live.append(self.proc)
        line = self.proc.stdout.readline()
        m = re.search(r"http://([\d.]+):(\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError("dss-emulator did not start: %r\n%s" % (line, self.log()))
        self.port = int(m.group(2))
        self.endpoint = "http://127.0.0.1:%d" % self.port
        return self

    def log(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def kill(self):
        """SIGKILL: the crash case."""
        stop_process(self.proc, signal.SIGKILL)

    def stop(self):
        """Stops the emulator cleanly; returns (exit status, its log). A sanitizer report
        makes the status non-zero."""
        rc = None
        if self.proc:
            stop_process(self.proc)
            rc = self.proc.returncode
        log = self.log()
        if self.stderr_path and os.path.exists(self.stderr_path):
            os.unlink(self.stderr_path)
            self.stderr_path = None
        return rc, log

    def health(self):
        with urllib.request.urlopen(self.endpoint + "/_dss/health", timeout=5) as r:
            return r.status, r.read()


def client(endpoint, service, **config):
    cfg = botocore.config.Config(retries={"max_attempts": 0}, read_timeout=60, **config)
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=cfg)


def aws_cli(endpoint, *args, aws=None, timeout=120):
    """Runs the AWS CLI against endpoint; returns (rc, stdout, stderr). aws: which CLI binary
    (default: Debian's /usr/bin/aws, the AWS CLI v2 the README installs)."""
    exe = aws or os.environ.get("DSS_AWS_CLI") or ("/usr/bin/aws" if os.path.exists("/usr/bin/aws") else "aws")
    env = dict(os.environ, **CREDENTIALS)
    env.pop("AWS_PROFILE", None)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    p = subprocess.run([exe, "--endpoint-url", endpoint, "--output", "json"] + list(args), env=env,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def sqs_protocol():
    """'json' if this boto3 speaks SQS's JSON protocol, else 'query'."""
    return botocore.session.get_session().get_service_model("sqs").metadata["protocol"]


class EmulatorTestCase(unittest.TestCase):
    """A test class with its own emulator, started once for the class."""

    emulator_args = ()

    @classmethod
    def setUpClass(cls):
        cls.emulator = Emulator(extra_args=cls.emulator_args).start()
        cls.endpoint = cls.emulator.endpoint

    @classmethod
    def tearDownClass(cls):
        rc, log = cls.emulator.stop()
        if rc != 0:
            raise AssertionError("dss-emulator exited with %s:\n%s" % (rc, log[-20000:]))

    def client(self, service, **config):
        return client(self.endpoint, service, **config)

    def aws(self, *args, **kw):
        return aws_cli(self.endpoint, *args, **kw)


def temp_dir(test):
    """A temporary directory removed when test ends."""
    d = tempfile.mkdtemp(prefix="dss-test-")
    test.addCleanup(shutil.rmtree, d, True)
    return d


def wait_until(pred, timeout=10.0, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()
