-- S3 GetObject of one object, KEY in BUCKET, path style.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
dofile(os.getenv("BENCH_DIR") .. "/s3_auth.lua")
wrk.method = "GET"
wrk.path = "/" .. (os.getenv("BUCKET") or "bench") .. "/" .. os.getenv("KEY")
for k, v in pairs(s3_headers) do wrk.headers[k] = v end

-- REQUESTS=N: stop after about N answers (common.lua).
stop_after_requests_from_env()
