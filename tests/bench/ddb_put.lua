-- DynamoDB PutItem of a job-monitoring record with a fresh key each time.
-- X-Amz-Date: dynalite refuses a SigV4 Authorization header without a date (it checks no signature).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local n = 0
local thread_id = 0
function setup(thread) thread_id = thread_id + 1; thread:set("tid", thread_id) end
function request()
  n = n + 1
  local body = '{"TableName":"bench","Item":{"job_id":{"S":"job-' .. (tid or 0) .. '-' .. n ..
    '"},"status":{"S":"Successful"},"retries":{"S":"0 of 3"},"instance":{"S":"i-0123456789abcdef0"}}}'
  return wrk.format("POST", "/", {["Content-Type"] = "application/x-amz-json-1.0",
    ["X-Amz-Date"] = "20260101T000000Z", ["X-Amz-Target"] = "DynamoDB_20120810.PutItem",
    ["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"}, body)
end
