#!/usr/bin/env bash
# Print a TCP port that nothing listens on and that no PostgreSQL socket in
# the usual socket directories uses, for a throwaway server.
set -euo pipefail

in_use() {
	local port=$1 dir
	for dir in /var/run/postgresql /tmp; do
		[ -e "$dir/.s.PGSQL.$port" ] && return 0
		[ -e "$dir/.s.PGSQL.$port.lock" ] && return 0
	done
	# A connection that succeeds means something listens there.
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
	return 1
}

for _ in $(seq 1 200); do
	port=$((20000 + RANDOM % 40000))
	if ! in_use "$port"; then
		echo "$port"
		exit 0
	fi
done
echo "free_port.sh: no free port found" >&2
exit 1
