#!/bin/sh
# SPDX-License-Identifier: MIT
#
# http.sh: examples/httpd (ringo) against bench/http-peer-libuv (the same
# server on libuv), each driven in turn by `wrk -t1 -c64 -d5s` on 127.0.0.1.
#
# usage (from the build directory):
#   sh bench/http.sh [-d SECONDS] [-r ROUNDS] [-c CONNS] [HTTPD [LIBUV_PEER]]
#     HTTPD       ringo's server     (default ./examples/httpd)
#     LIBUV_PEER  the libuv server   (default ./bench/http-peer-libuv)
#     -d SECONDS  wrk's duration per run (default 5)
#     -r ROUNDS   runs per server, alternating ringo, libuv, ringo, ... (default 3)
#     -c CONNS    wrk connections (default 64)
#
# Each run starts the server on port 0 (one thread; -d as a safety net so
# it stops by itself even if this script is killed), reads the port from
# its "listening on" line, reads utime+stime of the server process from
# /proc/PID/stat before and after wrk, and stops the server with SIGTERM.
# A run gives requests/s (wrk's Requests/sec) and server CPU µs per request
# ((utime+stime ticks) / CLK_TCK / wrk's request count). The median of the
# runs is kept for each number, and stdout gets ONE line:
#
#   rps=R cpu_us_per_req=C libuv_rps=R libuv_cpu_us_per_req=C cpu_ratio=X rps_ratio=Y
#
# cpu_ratio = ringo CPU/request / libuv CPU/request (target <= 0.9),
# rps_ratio = ringo rps / libuv rps. Per-run numbers go to stderr. Without
# the libuv peer the line has ringo's numbers and libuv=absent; without wrk
# there is nothing to measure: a message, and exit 0.
set -eu

DURATION=5
ROUNDS=3
CONNS=64
while getopts d:r:c:h opt; do
	case $opt in
	d) DURATION=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	h) sed -n '3,15p' "$0"; exit 0 ;;
	*) echo "usage: sh bench/http.sh [-d SECONDS] [-r ROUNDS] [-c CONNS] [HTTPD [LIBUV_PEER]]" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
HTTPD=${1:-./examples/httpd}
PEER=${2:-./bench/http-peer-libuv}
for n in "$DURATION" "$ROUNDS" "$CONNS"; do
	case $n in
	''|*[!0-9]*|0) echo "http: -d, -r and -c take whole numbers > 0" >&2; exit 2 ;;
	esac
done
SAFETY=$((DURATION + 60))	# server -d: it stops by itself after this long

if ! command -v wrk >/dev/null 2>&1; then
	echo "http: wrk is not installed (apt-get install wrk): nothing to measure"
	exit 0
fi
if [ ! -x "$HTTPD" ]; then
	echo "http: $HTTPD is not an executable (make examples/httpd)" >&2
	exit 1
fi
have_peer=1
if [ ! -x "$PEER" ]; then
	echo "http: no libuv peer at $PEER (libuv not found at configure, or not built:" \
	     "make bench/http-peer-libuv); measuring ringo alone" >&2
	have_peer=0
fi
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringo-http.XXXXXX")
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

nap() {
	sleep 0.1 2>/dev/null || sleep 1
}

limited() {
	if command -v timeout >/dev/null 2>&1; then
		timeout "$@"
	else
		shift
		"$@"
	fi
}

# utime + stime of process $1 in clock ticks: fields 14 and 15 of
# /proc/PID/stat, counted after the ")" that ends the command name (which
# may hold spaces), where the state is field 3.
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# Median of the numbers in file $1, one a line.
median() {
	sort -g "$1" | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Start server $2 (named $1), run wrk against it, stop it; append the run's
# requests/s to $tmp/$1.rps and CPU µs per request to $tmp/$1.cpu.
run_one() {
	name=$1
	bin=$2
	: >"$tmp/out"
	"$bin" -a 127.0.0.1 -p 0 -d "$SAFETY" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	port=
	tries=0
	while [ -z "$port" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "http: $name exited before listening:" >&2
			cat "$tmp/err" >&2
			exit 1
		fi
		port=$(sed -n 's/^[^ ]*: listening on 127\.0\.0\.1:\([0-9][0-9]*\),.*/\1/p' "$tmp/out")
		tries=$((tries + 1))
		if [ -z "$port" ] && [ "$tries" -gt 50 ]; then
			echo "http: $name did not start listening within 5 s" >&2
			exit 1
		fi
		[ -n "$port" ] || nap
	done

	t0=$(cpu_ticks "$pid")
	limited $((DURATION + 30)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 2s \
		"http://127.0.0.1:$port/" >"$tmp/load" 2>&1 || {
		echo "http: wrk against $name failed:" >&2
		cat "$tmp/load" >&2
		exit 1
	}
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "http: $name died under load:" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	t1=$(cpu_ticks "$pid")

	# (Gone already means it crashed: wait's status below says so.)
	kill -TERM "$pid" 2>/dev/null || :
	tries=0
	while kill -0 "$pid" 2>/dev/null; do
		tries=$((tries + 1))
		if [ "$tries" -gt 50 ]; then
			echo "http: $name ignored SIGTERM for 5 s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || :
			break
		fi
		nap
	done
	status=0
	wait "$pid" || status=$?
	pid=
	if [ "$status" -ne 0 ]; then
		echo "http: $name exited with status $status:" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	if [ -s "$tmp/err" ]; then
		echo "http: $name said:" >&2
		cat "$tmp/err" >&2
	fi
	if grep -q 'Non-2xx' "$tmp/load"; then
		echo "http: $name sent error responses under load:" >&2
		cat "$tmp/load" >&2
		exit 1
	fi
	grep 'Socket errors' "$tmp/load" | sed "s/^/http: $name: /" >&2 || :

	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/load")
	reqs=$(awk '/ requests in / { print $1 }' "$tmp/load")
	if [ -z "$rps" ] || [ -z "$reqs" ] || [ "$reqs" -eq 0 ]; then
		echo "http: no request count from wrk against $name:" >&2
		cat "$tmp/load" >&2
		exit 1
	fi
	cpu=$(awk -v t="$((t1 - t0))" -v hz="$HZ" -v n="$reqs" \
		'BEGIN { printf "%.3f", t * 1e6 / hz / n }')
	echo "$rps" >>"$tmp/$name.rps"
	echo "$cpu" >>"$tmp/$name.cpu"
	echo "http: $name: $rps requests/s, $reqs requests, $((t1 - t0)) CPU ticks" \
	     "(HZ $HZ), $cpu CPU us/request" >&2
}

echo "http: $ROUNDS rounds of wrk -t1 -c$CONNS -d${DURATION}s per server" >&2
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	# Alternate who goes first, so neither always runs on a warmer machine.
	if [ $((r % 2)) -eq 0 ] || [ "$have_peer" -eq 0 ]; then
		run_one ringo "$HTTPD"
		[ "$have_peer" -eq 0 ] || run_one libuv "$PEER"
	else
		run_one libuv "$PEER"
		run_one ringo "$HTTPD"
	fi
	r=$((r + 1))
done

rps=$(median "$tmp/ringo.rps")
cpu=$(median "$tmp/ringo.cpu")
if [ "$have_peer" -eq 0 ]; then
	printf 'rps=%.0f cpu_us_per_req=%.3f libuv=absent\n' "$rps" "$cpu"
	exit 0
fi
uv_rps=$(median "$tmp/libuv.rps")
uv_cpu=$(median "$tmp/libuv.cpu")
awk -v r="$rps" -v c="$cpu" -v ur="$uv_rps" -v uc="$uv_cpu" 'BEGIN {
	fmt = "rps=%.0f cpu_us_per_req=%.3f libuv_rps=%.0f libuv_cpu_us_per_req=%.3f"
	fmt = fmt " cpu_ratio=%.3f rps_ratio=%.3f\n"
	printf fmt, r, c, ur, uc, (uc > 0 ? c / uc : 0), (ur > 0 ? r / ur : 0)
}'
