#!/usr/bin/env bash
# Makes the certificates the TLS tests use, at test time, with the openssl
# command, so that no key or certificate is ever committed and none expires
# in the tree:
#
#   ca.pem, ca.key              the test CA (self-signed)
#   localhost.pem, .key         signed by the test CA for localhost and 127.0.0.1
#   other_host.pem, .key        signed by the test CA for other.invalid only
#   expired.pem, .key           signed by the test CA for localhost, valid in 2020
#   stranger_ca.pem, .key       a second CA nobody trusts
#   stranger.pem, .key          signed by the stranger CA for localhost
#
#   make_certs.sh OUTDIR
#
# Exits 77 (CTest's "skipped") when there is no openssl command, saying so.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: make_certs.sh OUTDIR" >&2
    exit 2
fi
if ! command -v openssl >/dev/null 2>&1; then
    echo "make_certs.sh: no openssl command (Debian package openssl): TLS tests skipped" >&2
    exit 77
fi
out=$1
mkdir -p "$out"
cd "$out"

# EC P-256 keys: as good as RSA here and far faster to make, which keeps the
# fixture quick on a loaded machine.
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_ca() {  # name subject
    newkey "$1.key"
    openssl req -x509 -new -key "$1.key" -sha256 -days 30 -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem"
}

# A leaf for `san` signed by CA `ca`. `openssl ca` rather than `x509 -req`:
# only it takes explicit start and end dates (OpenSSL 3.0 has no
# -not_before), which the expired certificate needs.
make_leaf() {  # name ca san startdate enddate
    local name=$1 ca=$2 san=$3 start=$4 end=$5
    newkey "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=${san%%,*}" -out "$name.csr"
    local db="$name.db"
    rm -rf "$db" && mkdir -p "$db"
    : > "$db/index.txt"
    cat > "$name.cnf" <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = $db
database = \$dir/index.txt
new_certs_dir = \$dir
rand_serial = yes
default_md = sha256
policy = anything
copy_extensions = none
x509_extensions = leaf
[ anything ]
commonName = supplied
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = $(echo "$san" | sed 's/\([^,]*\)/DNS:\1/g; s/DNS:\([0-9.]*\)\(,\|$\)/IP:\1\2/g')
CNF
    openssl ca -batch -notext -config "$name.cnf" -cert "$ca.pem" -keyfile "$ca.key" \
        -startdate "$start" -enddate "$end" -in "$name.csr" -out "$name.pem" 2>/dev/null
    rm -rf "$db" "$name.csr" "$name.cnf"
}

# A day back, so that a verifier a little behind this clock still accepts them.
now=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
later=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)

make_ca ca "weft test CA"
make_ca stranger_ca "weft stranger CA"
make_leaf localhost ca "localhost,127.0.0.1" "$now" "$later"
make_leaf other_host ca "other.invalid" "$now" "$later"
make_leaf expired ca "localhost,127.0.0.1" 20200101000000Z 20200102000000Z
make_leaf stranger stranger_ca "localhost,127.0.0.1" "$now" "$later"
echo "make_certs.sh: certificates in $out"
