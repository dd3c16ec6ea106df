-- common.lua: shared by the wrk scripts; prints one machine-readable line when wrk is done.
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end

-- REQUESTS=N: a script that calls this stops after about N answers in all (each of wrk's threads
-- takes its share), so that a count of the server's system calls (strace -c) can be divided by a
-- known number of requests. It defines response(): not for scripts that have their own.
function stop_after_requests_from_env()
  local quota = tonumber(os.getenv("REQUESTS") or "")
  if not quota then return end
  local answered = 0
  function response(status, headers, body)
    answered = answered + 1
    if answered >= quota / (tonumber(os.getenv("THREADS") or "2")) then wrk.thread:stop() end
  end
end
