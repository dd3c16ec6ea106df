-- DynamoDB GetItem of one of the 1000 items the runner stored (seed-0 .. seed-999).
-- X-Amz-Date: dynalite refuses a SigV4 Authorization header without a date (it checks no signature).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local n = 0
function request()
  n = n + 1
  local body = '{"TableName":"bench","Key":{"job_id":{"S":"seed-' .. (n % 1000) .. '"}}}'
  return wrk.format("POST", "/", {["Content-Type"] = "application/x-amz-json-1.0",
    ["X-Amz-Date"] = "20260101T000000Z", ["X-Amz-Target"] = "DynamoDB_20120810.GetItem",
    ["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"}, body)
end
