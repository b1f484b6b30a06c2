-- wrk script for bench.sh: counts which worker pid answered each GET /worker (the JSON body's "pid").
-- done() prints "PID <pid> <count>" lines and "STATUS_ERRORS <n>" (wrk copies each thread's globals out).
pids, status_errors = {}, 0
local thread_list = {}

function setup(thread) thread_list[#thread_list + 1] = thread end

function response(status, headers, body)
  if status ~= 200 then status_errors = status_errors + 1 end
  local pid = body and body:match('"pid":(%d+)')
  if pid then pids[pid] = (pids[pid] or 0) + 1 end
end

function done(summary, latency, requests)
  for _, t in ipairs(thread_list) do
    io.write("STATUS_ERRORS ", tostring(t:get("status_errors") or 0), "\n")
    for p, n in pairs(t:get("pids") or {}) do io.write("PID ", p, " ", n, "\n") end
  end
end
