#!/bin/bash
# Init container of every pooler pod (function/builders/pgbackrest.py): a fresh key and a
# certificate for this pod (its IP, which multipooler registers as its hostname, and its
# DNS name), CN $CLIENT_CN, signed by the CA Secret, for pgctld's pgBackRest TLS server
# (--pgbackrest-cert-dir) and multipooler's client (--pgbackrest-{cert,key,ca}-file).
# Env: CA_DIR CERT_DIR KEY_FILE CERT_FILE CA_FILE CLIENT_CN LEAF_DAYS POD_{NAME,NAMESPACE,IP} SUBDOMAIN
set -eu
umask 077
ca=$CA_DIR
out=$CERT_DIR
dns="$POD_NAME.$SUBDOMAIN.$POD_NAMESPACE.svc"
cd "$(mktemp -d)"
printf '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=%s\n[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:%s,DNS:%s,DNS:%s.cluster.local,DNS:localhost,IP:127.0.0.1\n' \
  "$CLIENT_CN" "$POD_IP" "$dns" "$dns" >leaf.cnf
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -config leaf.cnf \
  -keyout "$out/$KEY_FILE" -out leaf.csr
openssl x509 -req -in leaf.csr -CA "$ca/tls.crt" -CAkey "$ca/tls.key" -set_serial "0x$(openssl rand -hex 16)" \
  -days "$LEAF_DAYS" -extfile leaf.cnf -extensions leaf -out leaf.crt
cat leaf.crt "$ca/tls.crt" >"$out/$CERT_FILE"
cat "$ca/tls.crt" >"$out/$CA_FILE"
if [ -s "$ca/ca.crt" ] && [ "$(cat "$ca/ca.crt")" != "$(cat "$ca/tls.crt")" ]; then cat "$ca/ca.crt" >>"$out/$CA_FILE"; fi
openssl verify -CAfile "$out/$CA_FILE" leaf.crt
echo "pgBackRest certificate for $POD_IP and $dns written to $out"
