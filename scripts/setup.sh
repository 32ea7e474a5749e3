#!/usr/bin/env bash
# Install what building and testing segments needs, then build and install
# the extension into the system's PostgreSQL 15.
#
#   scripts/setup.sh            PostgreSQL 15 server and headers, make, gcc,
#                               pg_cron (for test/scripts/cron.sh)
#   scripts/setup.sh --fuzz     also clang-14 and its libFuzzer/sanitizer runtime
#   scripts/setup.sh --node     also Node.js and npm (Debian's, when the machine
#                               has none) and the dependencies of
#                               examples/node from npm
#   scripts/setup.sh --citus    also Citus 13.2.2, built from the source tarball
#                               CITUS_SRC (default: shared/citus/
#                               citus-13.2.2.tar.gz in the folder above the
#                               repository, or one above that)
#                               when citus.so is not installed (about three
#                               minutes on two cores)
#
# Idempotent: installs only missing packages (apt-get update only when an
# install fails without it) and rebuilds only what changed.  Quiet unless
# something fails, in which case it prints the log and exits non-zero.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

fuzz=0
node=0
citus=0
for arg in "$@"; do
	case "$arg" in
		--fuzz) fuzz=1 ;;
		--node) node=1 ;;
		--citus) citus=1 ;;
		-h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
		*) echo "setup.sh: unknown option: $arg" >&2; exit 2 ;;
	esac
done

. "$root/scripts/as_root.sh"
as_root "$root/scripts/setup.sh" CITUS_SRC="${CITUS_SRC:-}" -- "$@" || exit 1

log=$(mktemp /tmp/segments-setup.XXXXXX)
trap 'rm -f "$log"' EXIT

fail() {
	echo "setup.sh: $1 failed; log follows" >&2
	cat "$log" >&2
	exit 1
}

packages=(postgresql-15 postgresql-server-dev-15 make gcc postgresql-15-cron)
if [ "$fuzz" -eq 1 ]; then
	packages+=(clang-14 libclang-rt-14-dev)
fi
citus_so=$("$PG_CONFIG" --pkglibdir 2>/dev/null)/citus.so
if [ "$citus" -eq 1 ] && [ ! -f "$citus_so" ]; then
	citus_src=${CITUS_SRC:-}
	# by default the shared tarball beside the repository or a folder above it
	for d in "$root/.." "$root/../.." "$root/../../.."; do
		if [ -z "$citus_src" ] && [ -f "$d/shared/citus/citus-13.2.2.tar.gz" ]; then
			citus_src=$d/shared/citus/citus-13.2.2.tar.gz
		fi
	done
	citus_src=${citus_src:-$root/../shared/citus/citus-13.2.2.tar.gz}
	if [ ! -f "$citus_src" ]; then
		echo "setup.sh: Citus is not installed and its source $citus_src does not exist (set CITUS_SRC)" >&2
		exit 1
	fi
	packages+=(liblz4-dev libzstd-dev libkrb5-dev)
else
	citus=0
fi
if [ "$node" -eq 1 ]; then
	command -v node >/dev/null || packages+=(nodejs)
	command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	install=(apt-get install -y -q --no-install-recommends "${missing[@]}")
	if ! "${install[@]}" >>"$log" 2>&1; then
		apt-get update -q >>"$log" 2>&1 || fail "apt-get update"
		"${install[@]}" >>"$log" 2>&1 || fail "apt-get install ${missing[*]}"
	fi
fi

make -C "$root" PG_CONFIG="$PG_CONFIG" >>"$log" 2>&1 || fail "make"
make -C "$root" PG_CONFIG="$PG_CONFIG" install >>"$log" 2>&1 || fail "make install"
if [ "$citus" -eq 1 ]; then
	build=$(mktemp -d /tmp/segments-citus-build.XXXXXX)
	tar -xzf "$citus_src" -C "$build" --strip-components=1 >>"$log" 2>&1 || fail "unpacking $citus_src"
	( cd "$build" && ./configure PG_CONFIG="$PG_CONFIG" --without-libcurl && make -j"$(nproc)" && make install ) \
		>>"$log" 2>&1 || fail "building Citus from $citus_src"
	rm -rf "$build"
fi
if [ "$node" -eq 1 ]; then
	npm install --prefix "$root/examples/node" --no-audit --no-fund >>"$log" 2>&1 ||
		fail "npm install (examples/node)"
fi
