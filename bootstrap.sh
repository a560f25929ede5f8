#!/bin/sh
# Set up a build of ringo on Debian/Ubuntu: install what is missing, generate
# the build system, configure and build. Safe to run again: it only redoes
# the steps whose inputs changed.
#
#   ./bootstrap.sh                      # as root, installs missing packages
#   RINGO_CONFIGURE_FLAGS=--enable-sanitizers ./bootstrap.sh
set -eu
cd "$(dirname "$0")"

# The build needs these; the benchmark peers (liburing, libuv, libev, wrk)
# are optional and installed when we can.
required="build-essential autoconf automake libtool pkg-config check uthash-dev"
peers="liburing-dev libuv1-dev libev-dev wrk"

missing_from() {
	out=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			out="$out $p"
	done
	echo "$out"
}

if command -v dpkg-query >/dev/null 2>&1; then
	need=$(missing_from $required)
	want=$(missing_from $peers)
	if [ -n "$need$want" ]; then
		if [ "$(id -u)" -eq 0 ]; then
			echo "bootstrap: installing:$need$want"
			export DEBIAN_FRONTEND=noninteractive
			apt-get update -qq
			# shellcheck disable=SC2086
			apt-get install -y -qq --no-install-recommends $need $want
		elif [ -n "$need" ]; then
			echo "bootstrap: missing packages:$need$want" >&2
			echo "bootstrap: run: sudo apt-get install -y$need$want" >&2
			exit 1
		else
			echo "bootstrap: benchmark peers not installed:$want (optional)" >&2
			echo "bootstrap: for peer comparisons run: sudo apt-get install -y$want" >&2
		fi
	fi
else
	echo "bootstrap: not a Debian system; make sure these are installed: $required" >&2
fi

# Regenerate only when the inputs are newer than the outputs.
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi
fi
flags=${RINGO_CONFIGURE_FLAGS:-}
if [ ! -f Makefile ] || [ configure -nt config.status ] ||
	[ "$(cat .bootstrap-flags 2>/dev/null)" != "$flags" ]; then
	# shellcheck disable=SC2086
	./configure $flags
	echo "$flags" >.bootstrap-flags
fi
make -j"$(nproc)"
