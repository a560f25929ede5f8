#!/bin/sh
# SPDX-License-Identifier: MIT
#
# demo.sh: examples/httpd under load for a few seconds, printing requests
# per second. `make demo` runs it as: sh examples/demo.sh /abs/path/to/httpd
#
# httpd binds 127.0.0.1 port 0 (the kernel picks a free port, so there is
# nothing to guess or race for) and prints the port on its "listening on"
# line, which we wait for. Its -d is a safety net: even if this script is
# killed outright, the server exits by itself. The load is wrk when
# installed (apt-get install wrk); otherwise ab, and failing that only a
# few sanity requests with curl or nc. Every wait is bounded, and the
# server is stopped (SIGTERM, then SIGKILL) whatever happens.
set -eu

HTTPD=${1:?usage: demo.sh PATH_TO_HTTPD}
THREADS=1
CONNS=64
DURATION=3	# seconds of load
SAFETY=60	# httpd -d: it stops by itself after this long

if [ ! -x "$HTTPD" ]; then
	echo "demo: $HTTPD is not an executable (run make first)" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringo-demo.XXXXXX")
pid=

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || :
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A few tenths of a second, portably (POSIX sleep takes whole seconds).
nap() {
	sleep 0.1 2>/dev/null || sleep 1
}

# Run a client with a time limit when timeout(1) is there.
limited() {
	if command -v timeout >/dev/null 2>&1; then
		timeout "$@"
	else
		shift
		"$@"
	fi
}

: >"$tmp/out"	# exists before the background job opens it: we read it at once
"$HTTPD" -a 127.0.0.1 -p 0 -t "$THREADS" -d "$SAFETY" >"$tmp/out" 2>"$tmp/err" &
pid=$!

# Wait (at most ~5 s) for "httpd: listening on 127.0.0.1:PORT, ...".
port=
tries=0
while [ -z "$port" ]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "demo: httpd exited before listening:" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	port=$(sed -n 's/^httpd: listening on 127\.0\.0\.1:\([0-9][0-9]*\),.*/\1/p' "$tmp/out")
	tries=$((tries + 1))
	if [ -z "$port" ] && [ "$tries" -gt 50 ]; then
		echo "demo: httpd did not start listening within 5 s" >&2
		exit 1
	fi
	[ -n "$port" ] || nap
done
url="http://127.0.0.1:$port/"
echo "demo: httpd listening on 127.0.0.1:$port, $THREADS thread"

rps=n/a
load=none
if command -v wrk >/dev/null 2>&1; then
	load="wrk -t1 -c$CONNS -d${DURATION}s"
	limited 30 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 2s "$url" >"$tmp/load" 2>&1 || {
		echo "demo: wrk failed:" >&2
		cat "$tmp/load" >&2
		exit 1
	}
	# Only the interesting lines: the rate, and errors if there were any.
	grep -E '^Requests/sec:|requests in|Socket errors|Non-2xx' "$tmp/load" || :
	if grep -q 'Non-2xx' "$tmp/load"; then
		echo "demo: httpd sent error responses under load" >&2
		exit 1
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/load")
elif command -v ab >/dev/null 2>&1; then
	# -k: keep-alive, as wrk does; -n is only a cap, -t ends the run.
	load="ab -k -c$CONNS -t$DURATION"
	limited 30 ab -q -k -c "$CONNS" -t "$DURATION" -n 10000000 "$url" >"$tmp/load" 2>&1 || {
		echo "demo: ab failed:" >&2
		cat "$tmp/load" >&2
		exit 1
	}
	grep -E '^Requests per second:|^Failed requests:' "$tmp/load" || :
	rps=$(awk '/^Requests per second:/ { print $4 }' "$tmp/load")
else
	echo "demo: wrk is not installed, so there is no load test;" \
	     "apt-get install wrk to get one. Sanity requests only:"
	if command -v curl >/dev/null 2>&1; then
		load="curl, 3 requests"
		for i in 1 2 3; do
			body=$(curl -sS --max-time 2 "$url") || {
				echo "demo: request $i failed" >&2
				exit 1
			}
			echo "demo: request $i: $body"
		done
	elif command -v nc >/dev/null 2>&1; then
		# Two pipelined requests, the second closing the connection:
		# both answers must come back on the one connection.
		load="nc, 2 pipelined requests"
		printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
			limited 5 nc 127.0.0.1 "$port" >"$tmp/load" 2>&1 || :
		n=$(grep -c '^HTTP/1.1 200 OK' "$tmp/load" || :)
		echo "demo: $n of 2 pipelined requests answered"
		[ "$n" = 2 ] || exit 1
	else
		echo "demo: no curl or nc either: nothing to send requests with"
	fi
fi

# Stop the server as an operator would, and give it 5 s to finish.
kill -TERM "$pid"
tries=0
while kill -0 "$pid" 2>/dev/null; do
	tries=$((tries + 1))
	if [ "$tries" -gt 50 ]; then
		echo "demo: httpd ignored SIGTERM for 5 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || :
		break
	fi
	nap
done
status=0
wait "$pid" || status=$?
pid=
cat "$tmp/err" >&2
grep '^httpd: requests=' "$tmp/out" || :
if [ "$status" -ne 0 ]; then
	echo "demo: httpd exited with status $status" >&2
	exit 1
fi
echo "demo: requests_per_sec=$rps ($load)"
