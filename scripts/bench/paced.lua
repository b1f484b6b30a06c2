-- wrk script for bench.sh's paced runs: each connection waits 2 ms after a response before its next request.
-- At full speed a single wrk thread is the bottleneck against a fast server (it was at 91-100% of a core against
-- Prefork, 61% against Kestrel), and p99 then measures the time responses queue in wrk's own sockets. Paced, the
-- 64 connections ask for some 20,000 requests/s, which no server under test nor wrk itself is near; wrk starts each
-- request's clock when it writes it, so the pause is not counted. A faster server is asked for more, not less.
function delay()
    return 2
end
