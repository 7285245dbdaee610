#!/bin/bash
# Creates the pgBackRest CA Secret once (composed Job; function/builders/pgbackrest.py).
# Never replaces an existing Secret: GET first, then a create-only POST (409 is fine).
# The images have openssl but no kubectl or curl, so `openssl s_client` carries the
# HTTP/1.1 requests; the token goes to printf, a builtin, never onto a command line.
# Env: SA_DIR SECRET_NAME SECRET_LABELS CA_COMMON_NAME CA_DAYS KUBERNETES_SERVICE_{HOST,PORT}
set -eu
ns=$(cat "$SA_DIR/namespace")
token=$(cat "$SA_DIR/token")
host=$KUBERNETES_SERVICE_HOST
case $host in *:*) host="[$host]" ;; esac
req() {
  local body=${3:-}
  printf '%s %s HTTP/1.1\r\nHost: kubernetes.default.svc\r\nAuthorization: Bearer %s\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "$token" "${#body}" "$body" |
    openssl s_client -quiet -connect "$host:$KUBERNETES_SERVICE_PORT" -servername kubernetes.default.svc \
      -verify_hostname kubernetes.default.svc -CAfile "$SA_DIR/ca.crt" -verify_return_error 2>/tmp/tls.log |
    head -n 1 | cut -d ' ' -f 2
}
path=/api/v1/namespaces/$ns/secrets
code=$(req GET "$path/$SECRET_NAME")
case $code in
  200) echo "Secret $ns/$SECRET_NAME exists: nothing to do"; exit 0 ;;
  404) ;;
  *) echo "reading Secret $ns/$SECRET_NAME: HTTP '$code'" >&2; cat /tmp/tls.log >&2; exit 1 ;;
esac
cd "$(mktemp -d)"
umask 077
printf '[req]\ndistinguished_name=dn\nx509_extensions=ca\nprompt=no\n[dn]\nCN=%s\n[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' \
  "$CA_COMMON_NAME" >ca.cnf
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$CA_DAYS" \
  -config ca.cnf -keyout ca.key -out ca.crt
crt=$(base64 -w0 ca.crt)
key=$(base64 -w0 ca.key)
body=$(printf '{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/tls","metadata":{"name":"%s","labels":%s},"data":{"tls.crt":"%s","tls.key":"%s","ca.crt":"%s"}}' \
  "$SECRET_NAME" "$SECRET_LABELS" "$crt" "$key" "$crt")
code=$(req POST "$path" "$body")
case $code in
  201) echo "created Secret $ns/$SECRET_NAME" ;;
  409) echo "Secret $ns/$SECRET_NAME was created meanwhile: kept" ;;
  *) echo "creating Secret $ns/$SECRET_NAME: HTTP '$code'" >&2; cat /tmp/tls.log >&2; exit 1 ;;
esac
