-- S3 PutObject of SIZE bytes (default 4096) to BUCKET, a new key per request, path style.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
dofile(os.getenv("BENCH_DIR") .. "/s3_auth.lua")
local bucket = os.getenv("BUCKET") or "bench"
local body = string.rep("x", tonumber(os.getenv("SIZE") or "4096"))
local threads = 0
local n = 0
local headers = {["Content-Type"] = "application/octet-stream"}
for k, v in pairs(s3_headers) do headers[k] = v end

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function request()
  n = n + 1
  return wrk.format("PUT", "/" .. bucket .. "/put-" .. tid .. "-" .. n, headers, body)
end

-- REQUESTS=N: stop after about N answers (common.lua).
stop_after_requests_from_env()
