"""The gunicorn peer for scripts/bench.sh: GET anything -> Hello, World!"""

BODY = b"Hello, World!"


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
