#!/usr/bin/env bash
# Makes a throwaway certificate authority for tests and the demo — never for production.
#
#   certs/make-dev-ca.sh [OUTPUT_DIR]        (default: certs/generated/)
#   certs/make-dev-ca.sh --force [OUTPUT_DIR] (regenerate even when a complete set exists)
#
# Output (PEM; keys are mode 600):
#   ca.crt ca.key                      the dev stand-in for Enzoic-RootCA-2025.crt
#   server.crt server.key              TLS server certificate for localhost / 127.0.0.1 (signed by ca)
#   client.crt client.key              CN=webhooks.enzoic.com — the only one that must be accepted
#   client-wrong-cn.*                  CN=attacker.example
#   client-suffix-cn.*                 CN=webhooks.enzoic.com.evil.example (passes an unanchored regex)
#   client-lookalike-cn.*              CN=webhooksXenzoic.com             (passes an unescaped '.')
#   client-two-cn.*                    two CN attributes, one of them right
#   client-other-ca.*                  right CN, issued by other-ca (not trusted)
#   client-expired.*                   right CN, right CA, validity ended in 2021
#   client-deep.crt client-deep.key    right CN under an intermediate (chain depth 2); the .crt holds leaf + intermediate
#   other-ca.crt intermediate.crt      the other issuers (their keys are deleted)
#
# Idempotent: when OUTPUT_DIR already holds a complete set it is left alone. No prompts.
set -euo pipefail

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/generated}"
CN="webhooks.enzoic.com"

expected=(ca.crt ca.key server.crt server.key other-ca.crt intermediate.crt)
for name in client client-wrong-cn client-suffix-cn client-lookalike-cn client-two-cn client-other-ca client-expired client-deep; do
  expected+=("$name.crt" "$name.key")
done

complete=1
for f in "${expected[@]}"; do [ -s "$out/$f" ] || complete=0; done
if [ "$complete" = 1 ] && [ "$force" = 0 ]; then
  echo "dev CA already present in $out (use --force to regenerate)"
  exit 0
fi

command -v openssl >/dev/null 2>&1 || { echo "make-dev-ca.sh: openssl is not installed" >&2; exit 1; }

# Build in a scratch folder next to the output, then move the files in: an interrupted run never leaves a half set.
mkdir -p "$out"
work="$(mktemp -d "$out/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
umask 077
cd "$work"

newkey () { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

cat > ext.cnf <<'EOF'
[ intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
EOF

# issue NAME SUBJECT ISSUER EXTENSION-SECTION
issue () {
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days 825 -sha256 \
    -extfile ext.cnf -extensions "$4" -out "$1.crt" 2>/dev/null
}

newkey ca.key
openssl req -new -x509 -key ca.key -subj "/O=Enzoic Bridge Dev/CN=Enzoic Bridge Dev Root CA (tests only)" -days 3650 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
newkey other-ca.key
openssl req -new -x509 -key other-ca.key -subj "/O=Somebody Else/CN=Other Dev CA (tests only)" -days 3650 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out other-ca.crt

issue server "/CN=localhost" ca server
issue client "/C=US/O=Enzoic/CN=$CN" ca client
issue client-wrong-cn "/C=US/O=Enzoic/CN=attacker.example" ca client
issue client-suffix-cn "/C=US/O=Enzoic/CN=$CN.evil.example" ca client
issue client-lookalike-cn "/C=US/O=Enzoic/CN=webhooksXenzoic.com" ca client
issue client-two-cn "/C=US/O=Enzoic/CN=$CN/CN=attacker.example" ca client
issue client-other-ca "/C=US/O=Enzoic/CN=$CN" other-ca client
issue intermediate "/O=Enzoic Bridge Dev/CN=Enzoic Bridge Dev Intermediate (tests only)" ca intermediate
issue client-deep "/C=US/O=Enzoic/CN=$CN" intermediate client
cat intermediate.crt >> client-deep.crt

# Expired: OpenSSL 3.0's `x509 -req` cannot back-date, `openssl ca` can (-startdate/-enddate).
mkdir -p newcerts && : > index.txt && echo 1000 > serial
cat > ca.cnf <<EOF
[ ca ]
default_ca = dev
[ dev ]
database = $work/index.txt
new_certs_dir = $work/newcerts
serial = $work/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
[ anything ]
countryName = optional
organizationName = optional
commonName = supplied
EOF
newkey client-expired.key
openssl req -new -key client-expired.key -subj "/C=US/O=Enzoic/CN=$CN" -out client-expired.csr
openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in client-expired.csr -notext -preserveDN \
  -startdate 20200101000000Z -enddate 20210101000000Z -extfile ext.cnf -extensions client \
  -out client-expired.crt 2>/dev/null

chmod 600 ./*.key
chmod 644 ./*.crt
for f in "${expected[@]}"; do
  [ -s "$f" ] || { echo "make-dev-ca.sh: $f was not produced" >&2; exit 1; }
done
mv -f "${expected[@]}" "$out"/
echo "dev CA written to $out"
