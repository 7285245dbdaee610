#!/bin/bash
# Init container: wait until etcd has a leader (GET /health over bash's /dev/tcp; the
# images have no curl or nc). multigateway gives up registering after 10 s and the
# topology Job fails while etcd is down; neither has a flag to wait longer.
# Env: ETCD_HOST ETCD_PORT
until timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET /health HTTP/1.0\r\n\r\n" >&3 && grep -q "\"health\":\"true\"" <&3' "$ETCD_HOST" "$ETCD_PORT" 2>/dev/null; do
  echo "waiting for etcd at $ETCD_HOST:$ETCD_PORT to have a leader"
  sleep 2
done
echo "etcd at $ETCD_HOST:$ETCD_PORT is healthy"
