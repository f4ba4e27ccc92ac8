#!/usr/bin/env bash
# Smoke test of bench/tls_loadgen's tls_echo_client against weft's
# tls_echo_server (tests/CMakeLists.txt, fixture tls_certs): both modes for a
# second each print a well-formed result line with a count above 0, TLS 1.2
# too; a CA that did not sign the server's certificate, a closed port and a
# bad flag fail with a message naming the problem.
# Usage: tls_smoke.sh path/to/tls_echo_server path/to/tls_echo_client CERT_DIR
set -u
server=$1 client=$2 certs=$3
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
bad() {
    echo "tls_smoke: $*"
    failed=1
}

"$server" --threads 1 --port 0 --cert "$certs/localhost.pem" --key "$certs/localhost.key" \
    >"$tmp/server.out" 2>"$tmp/server.err" &
pid=$!
port=
for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/server.out")
    [ -n "$port" ] && break
    sleep 0.05
done
if [ -z "$port" ]; then
    echo "tls_smoke: the server did not start:"; cat "$tmp/server.out" "$tmp/server.err"
    exit 1
fi

# run NAME EXPECTED_EXIT ARGS...: the client's exit status and output in $tmp/NAME.*
run() {
    local name=$1 want=$2
    shift 2
    "$client" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        bad "$name: exit $rc, expected $want; stdout: $(cat "$tmp/$name.out"); stderr: $(cat "$tmp/$name.err")"
        return 1
    fi
}
# result NAME KEY: the result line is exactly KEY=<n> p50_us=<x> p99_us=<y>, n > 0
result() {
    local line
    line=$(cat "$tmp/$1.out")
    if ! [[ $line =~ ^$2=([0-9]+)\ p50_us=[0-9.]+\ p99_us=[0-9.]+$ ]] || [ "${BASH_REMATCH[1]}" -eq 0 ]; then
        bad "$1: result line '$line'"
    fi
}
# says NAME TEXT: stderr names the problem
says() {
    grep -qF -e "$2" "$tmp/$1.err" || bad "$1: stderr lacks '$2': $(cat "$tmp/$1.err")"
}

common=(--port "$port" --conns 4 --cafile "$certs/ca.pem")
run echo 0 "${common[@]}" --seconds 1 && result echo 'req/s'
run handshake 0 "${common[@]}" --seconds 1 --mode handshake && result handshake 'handshakes/s'
run echo_tls12 0 "${common[@]}" --seconds 0.3 --tls12 && result echo_tls12 'req/s'
run handshake_tls12 0 "${common[@]}" --seconds 0.3 --tls12 --mode handshake &&
    result handshake_tls12 'handshakes/s'
run stranger_ca 1 --port "$port" --conns 1 --seconds 0.3 --cafile "$certs/stranger_ca.pem" &&
    says stranger_ca "TLS handshake failed: certificate verify failed"
run wrong_name 1 "${common[@]}" --seconds 0.3 --servername other.invalid &&
    says wrong_name "certificate verify failed: hostname mismatch"
run bad_mode 2 --mode resume && says bad_mode "--mode: must be echo or handshake, got 'resume'"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || bad "the server exited $rc on SIGTERM: $(cat "$tmp/server.err")"
# nothing listens on the port now
run closed_port 1 --port "$port" --seconds 0.3 && says closed_port "cannot connect to 127.0.0.1:$port"

if [ "$failed" -ne 0 ]; then
    exit 1
fi
echo "tls_smoke: ok (port $port): $(cat "$tmp/echo.out"); $(cat "$tmp/handshake.out")"
