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

-- REQUESTS=N: stop after about N answers in all (each of wrk's threads takes its share), so that a
-- count of the server's system calls (strace -c) can be divided by a known number of requests.
local quota = tonumber(os.getenv("REQUESTS") or "")
if quota then
  local answered = 0
  function response(status, headers, body)
    answered = answered + 1
    if answered >= quota / (tonumber(os.getenv("THREADS") or "2")) then wrk.thread:stop() end
  end
end
