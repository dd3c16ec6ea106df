-- SQS SendMessage over the JSON protocol. QUEUE_URL names the queue.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local url = os.getenv("QUEUE_URL")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "AmazonSQS.SendMessage"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"
wrk.body = '{"QueueUrl":"' .. url .. '","MessageBody":"{\\"job_id\\":\\"bench\\",\\"retry\\":\\"3\\"}"}'
