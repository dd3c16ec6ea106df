-- S3 GetObject of one object, KEY in BUCKET, path style.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/" .. (os.getenv("BUCKET") or "bench") .. "/" .. os.getenv("KEY")
