#!/usr/bin/env bash
# The docker-compose stack without containers: the very commands the containers run, as local processes,
# against an existing PostgreSQL and Redis. Ctrl-C (or SIGTERM) stops every process it started.
#
#   DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/stancewatch \
#   BROKER_URL=redis://127.0.0.1:6379/5 STANCEWATCH_ADMIN_TOKEN=secret scripts/stack-local.sh
#
# Variables (besides every stancewatch setting, see .env.example): STANCEWATCH_WEB_PORT (8000),
# WEB_CONCURRENCY (2), WORKER_CONCURRENCY (2), DELIVERY_CONCURRENCY (16), STACK_LOG_DIR (logs per
# process; default: the terminal), STANCEWATCH (the command; default: stancewatch on PATH).
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL URL (postgresql+psycopg://...)}"
: "${BROKER_URL:?set BROKER_URL to a Redis URL (redis://127.0.0.1:6379/N)}"
export DATABASE_URL BROKER_URL
export STANCEWATCH_LOG_FORMAT="${STANCEWATCH_LOG_FORMAT:-json}"
export PYTHONUNBUFFERED=1
sw="${STANCEWATCH:-stancewatch}"
port="${STANCEWATCH_WEB_PORT:-8000}"
log_dir="${STACK_LOG_DIR:-}"
pids=()

stop() {
  trap - INT TERM EXIT
  # Reverse order: beat first (no new work), then the workers (they finish their task), web last.
  for (( i=${#pids[@]}-1; i>=0; i-- )); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for _ in $(seq 100); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

start() {  # start NAME COMMAND...: one background process, its output to its log (or the terminal)
  local name=$1; shift
  if [ -n "$log_dir" ]; then
    mkdir -p "$log_dir"
    "$@" >"$log_dir/$name.log" 2>&1 &
  else
    "$@" &
  fi
  pids+=("$!")
  echo "stack-local: $name pid $! ($*)" >&2
}

# migrate: the one-shot service; everything else starts only after it succeeded.
"$sw" db upgrade
start web "$sw" web --host "${STANCEWATCH_WEB_HOST:-127.0.0.1}" --port "$port" --workers "${WEB_CONCURRENCY:-2}"
start worker "$sw" worker --queues sweep,poll,fetch --concurrency "${WORKER_CONCURRENCY:-2}"
start worker-deliver "$sw" worker --queues deliver --pool threads --concurrency "${DELIVERY_CONCURRENCY:-16}"
start beat "$sw" beat
echo "stack-local: up on http://127.0.0.1:$port/ (Ctrl-C stops)" >&2

# Stop everything when any process exits (as compose would report it), or on a signal.
set +e
wait -n "${pids[@]}"
code=$?
echo "stack-local: a process exited with status $code; stopping the stack" >&2
exit "$code"
