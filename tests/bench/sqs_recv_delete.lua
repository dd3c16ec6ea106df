-- SQS ReceiveMessage followed by DeleteMessage of what it returned (JSON protocol); each HTTP
-- request counts once, so a receive+delete pair is two requests.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local url = os.getenv("QUEUE_URL")
local pending = {}
local auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"
local function call(target, body)
  return wrk.format("POST", "/", {["Content-Type"] = "application/x-amz-json-1.0",
    ["X-Amz-Target"] = "AmazonSQS." .. target, ["Authorization"] = auth}, body)
end
function request()
  local handle = table.remove(pending)
  if handle then
    return call("DeleteMessage", '{"QueueUrl":"' .. url .. '","ReceiptHandle":"' .. handle .. '"}')
  end
  return call("ReceiveMessage", '{"QueueUrl":"' .. url .. '","MaxNumberOfMessages":1}')
end
function response(status, headers, body)
  local handle = body and body:match('"ReceiptHandle"%s*:%s*"([^"]+)"')
  if handle then table.insert(pending, handle) end
end
