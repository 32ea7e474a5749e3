# The scripts that run servers as the user postgres must run as root.
# Source it, then:
#
#   as_root SCRIPT [VAR=VALUE...] -- [ARG...] || exit 1
#
# returns at once when running as root; else runs SCRIPT again with sudo,
# with the variables given set in its environment and the arguments, and
# does not return; without sudo, says that SCRIPT must run as root and
# returns 1.
as_root() {
	local script=$1
	local -a vars=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	[ "$(id -u)" -eq 0 ] && return 0
	if command -v sudo >/dev/null 2>&1; then
		exec sudo -- env "${vars[@]}" "$script" "$@"
	fi
	echo "$script: must run as root (and sudo is not available)" >&2
	return 1
}
