#!/bin/sh
# test-busy.sh runs a command (default: make test) RUNS times in a row
# (default 3) while two CPU hogs keep both cores of a 2-core machine busy,
# as a laptop running other work would: the suite's timing tests must hold
# there. The hogs are started here and stopped by their PIDs when the runs
# end, fail or are interrupted. It exits with the first failing run's
# status.
#
#	sh internal/busy/test-busy.sh                  # make test, 3 times
#	RUNS=1 sh internal/busy/test-busy.sh go test -run TestSlowTLS .
set -u
runs=${RUNS:-3}
hogs=${HOGS:-2}
[ $# -gt 0 ] || set -- "${MAKE:-make}" test

pids=""   # the hogs
group=""  # the process group of the run in progress
stop() {
	[ -n "$group" ] && kill -TERM -- "-$group" 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	pids=""
}
trap 'stop' EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

i=0
while [ "$i" -lt "$hogs" ]; do
	yes >/dev/null &
	pids="$pids $!"
	i=$((i + 1))
done
echo "test-busy: $hogs CPU hogs (yes >/dev/null, PIDs$pids) on $(nproc) CPUs; $runs runs of: $*"

begin=$(date +%s)
n=1
while [ "$n" -le "$runs" ]; do
	start=$(date +%s)
	# In the background and waited for, so that a signal to this script
	# stops the hogs at once (a shell runs its traps only between commands);
	# in a session and process group of its own (setsid, which then execs
	# the command: $! is its PID and its group's), which stop ends whole.
	setsid "$@" &
	group=$!
	wait "$group"
	status=$?
	group=""
	took=$(($(date +%s) - start))
	if [ "$status" -ne 0 ]; then
		echo "test-busy: run $n of $runs FAILED (status $status) after ${took}s"
		exit "$status"
	fi
	echo "test-busy: run $n of $runs passed in ${took}s"
	n=$((n + 1))
done
echo "test-busy: $runs of $runs runs passed in $(($(date +%s) - begin))s under $hogs CPU hogs"
