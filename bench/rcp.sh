#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Wall time of examples/rcp -r against cp -r, page cache warm:
#   small: 20000 files of 1 KiB spread over 200 directories
#   large: 4 files of 256 MiB
# Each copy runs RUNS times (rcp and cp alternate; sync before each, the
# copy removed after each), and the median is reported, in one line:
#   rcp_small_s=... cp_small_s=... ratio_small=... rcp_large_s=... cp_large_s=... ratio_large=...
# ratio = rcp / cp (below 1: rcp is faster). The spread goes to stderr.
#
#   bench/rcp.sh [RCP_BINARY] [RUNS]      (defaults: examples/rcp, 5)
# Needs about 2.1 GiB under $TMPDIR (or /tmp); everything is removed at exit.
set -eu

RCP=${1:-$(dirname "$0")/../examples/rcp}
RUNS=${2:-5}
JOBS=${RCP_JOBS:-16}
[ -x "$RCP" ] || { echo "rcp.sh: no rcp binary at $RCP (run make first)" >&2; exit 2; }

base=$(mktemp -d "${TMPDIR:-/tmp}/ringo-rcp-bench.XXXXXX")
trap 'rm -rf "$base"' EXIT INT TERM

avail_kb=$(df -Pk "$base" | awk 'NR == 2 { print $4 }')
[ "$avail_kb" -gt 2500000 ] || { echo "rcp.sh: need 2.5 GiB free in $base" >&2; exit 2; }

# ---- the trees ----
mkdir "$base/small" "$base/proto"
i=0
while [ $i -lt 100 ]; do
	head -c 1024 /dev/urandom >"$base/proto/f$i"
	i=$((i + 1))
done
d=0
while [ $d -lt 200 ]; do
	cp -r "$base/proto" "$base/small/d$d"
	d=$((d + 1))
done
rm -rf "$base/proto"

mkdir "$base/large"
for f in 0 1 2 3; do
	head -c $((256 * 1024 * 1024)) /dev/urandom >"$base/large/f$f"
done

# Warm: read everything once (and the inodes, for the small tree).
find "$base/small" "$base/large" -type f -exec cat {} + >/dev/null

now() { date +%s.%N; }

# time_one TOOL SRC: seconds for one copy of SRC, printed.
time_one() {
	dst="$base/dst"
	rm -rf "$dst"
	sync
	t0=$(now)
	if [ "$1" = rcp ]; then
		"$RCP" -r -q -j "$JOBS" "$2" "$dst"
	else
		cp -r "$2" "$dst"
	fi
	t1=$(now)
	rm -rf "$dst"
	echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s..%s", lo, hi }'; }

measure() { # SET: fills $base/t_rcp_SET and $base/t_cp_SET
	: >"$base/t_rcp_$1"
	: >"$base/t_cp_$1"
	r=0
	while [ $r -lt "$RUNS" ]; do
		time_one rcp "$base/$1" >>"$base/t_rcp_$1"
		time_one cp "$base/$1" >>"$base/t_cp_$1"
		r=$((r + 1))
	done
}

measure small
measure large

rs=$(median <"$base/t_rcp_small"); cs=$(median <"$base/t_cp_small")
rl=$(median <"$base/t_rcp_large"); cl=$(median <"$base/t_cp_large")
echo "rcp.sh: runs=$RUNS jobs=$JOBS small rcp $(spread <"$base/t_rcp_small") cp $(spread <"$base/t_cp_small");" \
	"large rcp $(spread <"$base/t_rcp_large") cp $(spread <"$base/t_cp_large") (s, min..max)" >&2
awk -v rs="$rs" -v cs="$cs" -v rl="$rl" -v cl="$cl" 'BEGIN {
	printf "rcp_small_s=%.3f cp_small_s=%.3f ratio_small=%.2f rcp_large_s=%.3f cp_large_s=%.3f ratio_large=%.2f\n",
		rs, cs, rs / cs, rl, cl, rl / cl }'
