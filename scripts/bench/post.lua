-- wrk script for bench.sh: POST /echo with a body of BODY_BYTES bytes (wrk adds its Content-Length).
wrk.method = "POST"
wrk.body = string.rep("x", tonumber(os.getenv("BODY_BYTES") or "1024"))
wrk.headers["Content-Type"] = "application/octet-stream"
