-- S3 GetObject of one object, KEY in BUCKET, path style.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
dofile(os.getenv("BENCH_DIR") .. "/s3_auth.lua")
wrk.method = "GET"
wrk.path = "/" .. (os.getenv("BUCKET") or "bench") .. "/" .. os.getenv("KEY")
for k, v in pairs(s3_headers) do wrk.headers[k] = v end

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
