"""Resource automation end to end: job folders dropped into S3 run on an Auto Scaling group that
`dss-scheduler run` scales up from zero and back, with real worker processes.

The stack is what `dss-scheduler provision --resource-automation` makes, created here with boto3
so this test depends only on the emulator and `run`: the three queues, the monitoring table, a
bucket whose ObjectCreated events go to an events queue (no key filter, so the trigger also sees
and skips the inputs, the results and S3's test event), a launch template tagging instances for
the stack, an Auto Scaling group (min 0, max 20, desired 0) and the settings parameter
/dss/S/automation. Then `dss-scheduler run --scaler-interval 0.5` and N job folders (an input
file and a `.sh` that copies it to an `.output`, the executable uploaded last). Checked: every
`.output` holds its input's bytes, every job is Successful with Retries "0 of 3" in DynamoDB,
the finished queue holds exactly the N jobs, the group returns to desired 0 with no instance
left, and no worker process outlives its instance.

N is DSS_AUTOMATION_JOBS (default 40, what CI runs -- ci/test runs this file three times: both
pythons in the normal build, Debian's in the ASan build); the issue's full size by hand:
    DSS_AUTOMATION_JOBS=200 python3 -m unittest -v test_automation
Two more tests: without a settings parameter automation stays off and says so, and bad events
are skipped and deleted; throttling that outlasts the client's retries (emulator fault injection)
is logged and neither loop stops, and an event whose job could not be queued is kept and retried.
"""
import json
import os
import re
import time
import urllib.request

import dsstest
import ec2util
from test_scheduler import Scheduler, fast_workflow

JOBS = int(os.environ.get("DSS_AUTOMATION_JOBS", "40"))
MAX_INSTANCES = int(os.environ.get("DSS_AUTOMATION_MAX", "20"))
DAY = "2026-11-26"


def settings(stack, bucket, max_instances):
    return json.dumps({"version": 1, "bucket": bucket, "events_queue": stack + "-s3-events",
                       "trigger_suffix": ".sh", "retry": 3, "success_string": "upload:",
                       "working_dir": "$HOME/dss-work", "command_flavour": "shell",
                       "group": stack + "-autoscaling-group", "max_instances": max_instances},
                      separators=(",", ":"))


class AutomationE2E(ec2util.InstancesTestCase):
    # Real-time clock, with boots shortened to 0.5 s so they do not dominate, and status checks
    # passing 5 s after boot: the emulator reports status ok once the worker process is spawned,
    # not once its SSM agent is online, and SendCommand to an instance whose agent is not online
    # fails (the job is then recorded Failed once) -- an ASan worker on a loaded machine takes
    # seconds to register. A faster clock would also shrink the seed's 5 s GetJob visibility
    # timeout, the time the workflow has between receiving a job and deleting it before another
    # instance receives it too.
    emulator_args = ("--clock-speed", "1")

    def setUp(self):
        services = json.loads(self.emulator.health()[1])["services"]
        missing = [s for s in ("ec2", "autoscaling", "ssm") if s not in services]
        if missing:
            self.skipTest("SKIPPED, not passed: the emulator does not serve %s yet" % ", ".join(missing))
        req = urllib.request.Request(self.endpoint + "/_dss/settings?boot_ms=500&status_ms=5000", method="POST")
        urllib.request.urlopen(req, timeout=5).read()
        self.dir = dsstest.temp_dir(self)
        self.workflow = fast_workflow(self, self.dir)
        self.sqs, self.s3 = self.client("sqs"), self.client("s3")

    def url(self, name):
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def make_stack(self, stack, bucket, parameter=True):
        for suffix in ("-job-queue", "-job-queue-finished", "-job-queue-failed", "-s3-events"):
            self.sqs.create_queue(QueueName=stack + suffix)
        self.client("dynamodb").create_table(
            TableName=stack + "-job-monitoring", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}])
        self.s3.create_bucket(Bucket=bucket)
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url(stack + "-s3-events"),
                                            AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        ec2, asg = self.client("ec2"), self.client("autoscaling")
        ec2.create_launch_template(LaunchTemplateName=stack + "-lt", LaunchTemplateData={
            "ImageId": "ami-12345678", "InstanceType": "t3.micro",
            "TagSpecifications": [{"ResourceType": "instance",
                                   "Tags": [{"Key": stack, "Value": stack + "-job-queue"}]}]})
        group = stack + "-autoscaling-group"
        asg.create_auto_scaling_group(AutoScalingGroupName=group, MinSize=0, MaxSize=MAX_INSTANCES,
                                      DesiredCapacity=0, AvailabilityZones=["us-east-1a"],
                                      LaunchTemplate={"LaunchTemplateName": stack + "-lt", "Version": "$Latest"})
        self.addCleanup(self.delete_group, group)
        if parameter:
            self.client("ssm").put_parameter(Name="/dss/%s/automation" % stack, Type="String",
                                             Value=settings(stack, bucket, MAX_INSTANCES))
        return group

    def delete_group(self, group):
        try:
            self.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)
        except Exception:
            pass

    def group_state(self, group):
        g = self.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
        return g["DesiredCapacity"], len(g["Instances"])

    def upload_jobs(self, bucket, n):
        """n job folders; each .sh (uploaded last) copies its input to an .output file."""
        expected = {}
        for i in range(n):
            folder = "jobs/%s/jobId_%d/" % (DAY, i)
            data = ("input of job %d\n" % i).encode() * (1 + i % 7)
            self.s3.put_object(Bucket=bucket, Key=folder + "input_%d.txt" % i, Body=data)
            self.s3.put_object(Bucket=bucket, Key=folder + "job_%d.sh" % i,
                               Body=b"#!/bin/sh\ncp input_%d.txt input_%d.output\n" % (i, i))
            expected[folder + "input_%d.output" % i] = data
        return expected

    def finished_count(self, stack):
        a = self.sqs.get_queue_attributes(QueueUrl=self.url(stack + "-job-queue-finished"),
                                          AttributeNames=["ApproximateNumberOfMessages"])
        return int(a["Attributes"]["ApproximateNumberOfMessages"])

    def depth(self, url):
        a = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    def receive_all(self, queue):
        url, out = self.url(queue), []
        while True:
            r = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not r.get("Messages"):
                return out
            out += r["Messages"]

    def test_jobs_through_s3(self):
        """N job folders through S3 on up to MAX_INSTANCES workers, scaled up from zero and back."""
        stack, bucket = "auto", "auto-jobs"
        group = self.make_stack(stack, bucket)
        sched = Scheduler(self, self.endpoint, stack, os.path.join(self.dir, "auto.db"), self.workflow,
                          "--scaler-interval", "0.5", "--quiet")
        self.assertTrue(dsstest.wait_until(lambda: "S3 trigger on" in sched.text(), timeout=60), sched.text())
        started = time.monotonic()
        expected = self.upload_jobs(bucket, JOBS)

        done = dsstest.wait_until(lambda: self.finished_count(stack) >= JOBS, timeout=120 + 3 * JOBS, interval=1)
        elapsed = time.monotonic() - started
        self.assertTrue(done, "%d of %d jobs finished\n%s" % (self.finished_count(stack), JOBS, sched.text()[-4000:]))
        print("\n%d jobs through S3 in %.1f s (max %d instances)" % (JOBS, elapsed, MAX_INSTANCES))

        for key, data in expected.items():
            self.assertEqual(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read(), data, key)
        items = self.client("dynamodb").scan(TableName=stack + "-job-monitoring")["Items"]
        records = {it["job_id"]["S"]: (it["Status"]["S"], it["Retries"]["S"]) for it in items}
        ids = ["jobs/%s/jobId_%d/job_%d.sh" % (DAY, i, i) for i in range(JOBS)]
        self.assertEqual(sorted(records), sorted(ids))
        odd = [{k: v["S"][:300] for k, v in it.items()} for it in items
               if (it["Status"]["S"], it["Retries"]["S"]) != ("Successful", "0 of 3")]
        self.assertEqual(odd, [])
        finished = sorted(json.loads(m["Body"])["job_id"] for m in self.receive_all(stack + "-job-queue-finished"))
        self.assertEqual(finished, sorted(ids))
        self.assertEqual(self.receive_all(stack + "-job-queue-failed"), [])

        self.assertTrue(dsstest.wait_until(lambda: self.group_state(group) == (0, 0), timeout=120, interval=0.5),
                        "group desired/instances: %s\n%s" % (self.group_state(group), sched.text()[-3000:]))
        port = self.emulator.port
        self.assertTrue(dsstest.wait_until(lambda: not ec2util.processes_of(port), timeout=60, interval=0.5),
                        "worker processes left: %s" % ec2util.processes_of(port))
        log = sched.text()
        self.assertIn("skipped an event (test event)", log)
        self.assertIn("skipped an event (key without the trigger suffix): jobs/%s/jobId_0/input_0.txt" % DAY, log)
        # Scaled up from zero by the scaler; back to zero by it or by the workers' own
        # TerminateInstanceInAutoScalingGroup(ShouldDecrementDesiredCapacity), whichever came first.
        self.assertTrue(re.search(r"scaler: group auto-autoscaling-group desired 0 -> [1-9]", log), log[-3000:])
        self.assertEqual(sched.stop(), 0)

    def test_without_settings_and_bad_events(self):
        stack, bucket = "plain", "plain-jobs"
        self.make_stack(stack, bucket, parameter=False)
        sched = Scheduler(self, self.endpoint, stack, os.path.join(self.dir, "plain.db"), self.workflow,
                          "--scaler-interval", "0.5")
        self.assertTrue(dsstest.wait_until(lambda: "S3 trigger off, scaler off" in sched.text(), timeout=60),
                        sched.text())
        self.s3.put_object(Bucket=bucket, Key="a/x.sh", Body=b"#!/bin/sh\n")
        events = self.url(stack + "-s3-events")
        self.assertEqual(self.depth(events), (2, 0))  # S3's test event and a/x.sh, left alone

        # Settings appear while running: picked up at the next re-read (every minute) -- too slow
        # for a test, so restart the scheduler instead and check it drains what was queued,
        # skipping what is not a job.
        self.assertEqual(sched.stop(), 0)
        self.client("ssm").put_parameter(Name="/dss/%s/automation" % stack, Type="String",
                                         Value=settings(stack, bucket, 2).replace('"group":"plain-autoscaling-group"',
                                                                                 '"group":"missing-group"'))
        self.sqs.send_message(QueueUrl=events, MessageBody="not an event")
        self.sqs.send_message(QueueUrl=events, MessageBody=json.dumps({"Records": [{
            "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "someone-else"}, "object": {"key": "b/y.sh"}}}]}))
        self.sqs.send_message(QueueUrl=events, MessageBody=json.dumps({"Records": [{
            "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": "c/bad%ZZ.sh"}}}]}))
        self.sqs.send_message(QueueUrl=events, MessageBody=json.dumps({"Records": [{
            "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": "my+jobs/caf%C3%A9/run+it.sh"}}}]}))
        sched = Scheduler(self, self.endpoint, stack, os.path.join(self.dir, "plain.db"), self.workflow,
                          "--scaler-interval", "0.5")
        jobs = self.url(stack + "-job-queue")

        def queued():
            a = self.sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["ApproximateNumberOfMessages"])
            return int(a["Attributes"]["ApproximateNumberOfMessages"])
        self.assertTrue(dsstest.wait_until(lambda: queued() == 2, timeout=60, interval=0.5), sched.text())
        self.assertTrue(dsstest.wait_until(lambda: "c/bad%ZZ.sh" in sched.text(), timeout=30), sched.text())
        log = sched.text()
        self.assertIn("skipped an event (not an S3 event notification)", log)
        self.assertIn("skipped an event (another bucket): b/y.sh", log)
        self.assertIn("skipped an event (undecodable key, or a key outside a folder): c/bad%ZZ.sh", log)
        # the group named in the settings does not exist: said once, not every half second
        self.assertTrue(dsstest.wait_until(lambda: "scaler: group missing-group" in sched.text(), timeout=30),
                        sched.text())
        # A few more ticks (0.5 s each); on a slow machine fewer, which cannot fail the check.
        time.sleep(2)
        self.assertEqual(sched.text().count("scaler: group missing-group"), 1, sched.text())
        bodies = sorted((json.loads(m["Body"]) for m in self.receive_all(stack + "-job-queue")),
                        key=lambda j: j["job_id"])
        self.assertEqual([b["job_id"] for b in bodies], ["a/x.sh", "my jobs/caf\u00e9/run it.sh"])
        self.assertEqual(bodies[1]["commands"][2], "sudo aws s3 sync 's3://plain-jobs/my jobs/caf\u00e9/' ./")
        self.assertEqual(bodies[1]["commands"][4], "sudo $HOME/dss-work/'run it.sh'")
        # every event was deleted, jobs and skipped ones alike
        self.assertTrue(dsstest.wait_until(lambda: self.depth(events) == (0, 0), timeout=30), self.depth(events))
        self.assertEqual(sched.stop(), 0)

    def fault(self, service, operation, count):
        q = "service=%s&operation=%s&nth=1&count=%d&action=error" % (service, operation, count)
        req = urllib.request.Request(self.endpoint + "/_dss/faults/api?" + q, method="POST")
        urllib.request.urlopen(req, timeout=5).read()
        self.addCleanup(lambda: urllib.request.urlopen(
            urllib.request.Request(self.endpoint + "/_dss/faults", method="DELETE"), timeout=5).read())

    def test_faults_do_not_stop_the_loops(self):
        """Throttling that outlasts the client's retries: each loop logs it and carries on; an event
        whose job could not be queued stays on the events queue and is turned into a job later."""
        stack, bucket = "flaky", "flaky-jobs"
        group = self.make_stack(stack, bucket)
        events = self.url(stack + "-s3-events")
        self.sqs.set_queue_attributes(QueueUrl=events, Attributes={"VisibilityTimeout": "2"})
        # three failures = every attempt the client makes (max_attempts 3)
        self.fault("sqs", "ReceiveMessage", 3)
        self.fault("autoscaling", "DescribeAutoScalingGroups", 3)
        sched = Scheduler(self, self.endpoint, stack, os.path.join(self.dir, "flaky.db"), self.workflow,
                          "--scaler-interval", "0.5", "--quiet")
        self.assertTrue(dsstest.wait_until(lambda: "ReceiveMessage on flaky-s3-events" in sched.text(), timeout=60),
                        sched.text())
        self.assertTrue(dsstest.wait_until(lambda: "DescribeAutoScalingGroups" in sched.text() or
                                           "scaler: group flaky-autoscaling-group:" in sched.text(), timeout=60),
                        sched.text())
        self.fault("sqs", "SendMessage", 3)
        self.s3.put_object(Bucket=bucket, Key="one/input.txt", Body=b"payload\n")
        self.s3.put_object(Bucket=bucket, Key="one/run.sh", Body=b"#!/bin/sh\ncp input.txt input.output\n")

        ddb = self.client("dynamodb")

        def record():
            item = ddb.get_item(TableName=stack + "-job-monitoring", Key={"job_id": {"S": "one/run.sh"}}).get("Item")
            return {k: v["S"] for k, v in item.items()} if item else {}
        self.assertTrue(dsstest.wait_until(lambda: record().get("Status") in ("Successful", "Failed"), timeout=180,
                                           interval=0.5), sched.text()[-3000:])
        self.assertEqual((record()["Status"], record()["Retries"]), ("Successful", "0 of 3"), record())
        self.assertEqual(self.s3.get_object(Bucket=bucket, Key="one/input.output")["Body"].read(), b"payload\n")
        log = sched.text()
        self.assertIn("SendMessage to flaky-job-queue", log)
        self.assertIn("is left on flaky-s3-events to be retried", log)
        self.assertTrue(re.search(r"scaler: group flaky-autoscaling-group desired 0 -> 1", log), log[-3000:])
        self.assertTrue(dsstest.wait_until(lambda: self.group_state(group) == (0, 0), timeout=120, interval=0.5),
                        self.group_state(group))
        self.assertEqual(sched.stop(), 0)
