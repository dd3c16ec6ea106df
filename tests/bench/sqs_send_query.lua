-- SQS SendMessage over the Query protocol (form body posted to "/"), the one protocol every SQS
-- peer speaks (sqslite has no JSON protocol). QUEUE_URL names the queue.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"
wrk.headers["X-Amz-Date"] = "20260101T000000Z"
wrk.body = "Action=SendMessage&Version=2012-11-05&QueueUrl=" .. urlencode(os.getenv("QUEUE_URL")) ..
  "&MessageBody=" .. urlencode('{"job_id":"bench","retry":"3"}')
