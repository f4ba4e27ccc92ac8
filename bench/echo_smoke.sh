#!/usr/bin/env bash
# Smoke test of weft-bench's echo server (bench/CMakeLists.txt): it starts
# on a free port, echoes a line (bash's /dev/tcp as the client), prints no
# result line, and exits 0 on SIGTERM. Usage: echo_smoke.sh path/to/weft-bench
set -u
bin=$1
err=$(mktemp)
out=$(mktemp)
trap 'rm -f "$err" "$out"' EXIT
"$bin" --threads 1 --bench echo --port 0 >"$out" 2>"$err" &
pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$err")
    [ -n "$port" ] && break
    sleep 0.05
done
if [ -z "$port" ]; then
    kill "$pid" 2>/dev/null
    echo "echo_smoke: the server did not start:"; cat "$err"; exit 1
fi
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'ping 64 bytes\n' >&3
read -r -t 5 line <&3
exec 3>&-
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ "$line" != "ping 64 bytes" ] || [ "$rc" -ne 0 ] || [ -s "$out" ]; then
    echo "echo_smoke: echoed '$line', exit $rc, stdout:"; cat "$out"; echo "stderr:"; cat "$err"
    exit 1
fi
echo "echo_smoke: ok (port $port)"
