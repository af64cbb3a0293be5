#!/bin/bash
# Container health check: GET /healthz on this container's REST port, pass on HTTP 200.
# The runtime image has no curl; bash's /dev/tcp is enough for one HTTP/1.0 request.
# The port follows CLASSCHAT_API_ADDR (default 0.0.0.0:4500).
set -u
port="${CLASSCHAT_API_ADDR:-0.0.0.0:4500}"
port="${port##*:}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS=' ' read -r -t 3 _ status _ <&3 || exit 1
[ "${status}" = 200 ]
