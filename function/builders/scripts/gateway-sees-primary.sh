#!/bin/bash
# multigateway's liveness: its status page (GET / on its HTTP port, $1; over bash's
# /dev/tcp, the image has no curl) shows a pooler it routes writes to: a "leader" row.
# Why: a gateway dials a pooler at the address it first found in the topology and does
# not re-dial when the pooler's record changes (pinned source, go/services/multigateway/
# poolergateway/: pooler_connection.go:172-180 dials once, pooler_gateway.go:205-210
# only stores the new record). A pooler pod that ended without writing its shutdown
# record (its etcd went at the same time, or a crash) leaves its old pod IP there; a
# gateway that starts before the new pod registers keeps dialing the old IP and answers
# "no writable primary" for good while every pooler is healthy. Seen on the e2e node
# after a background deletion and re-creation; a restarted gateway served at once.
exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && grep -q '<td>leader</td>' <&3
