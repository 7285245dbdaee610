"""mTLS as Crossplane runs it: tls.crt, tls.key and ca.crt in --tls-server-certs-dir.

Certificates come from the openssl CLI: a CA, a server cert for localhost/127.0.0.1, a
client cert from the same CA, and a client cert from an unrelated CA.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc
import pytest

from tests.runtime_helpers import (
    channel_for,
    http_get,
    make_certs,
    make_request,
    run_function,
    running,
)

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def test_mutual_tls(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    good = grpc.ssl_channel_credentials(certs.ca, certs.client_key, certs.client_crt)
    with running(
        tmp_path,
        "--tls-server-certs-dir",
        str(certs.server_dir),
        insecure=False,
        credentials=good,
    ) as fp:
        with channel_for(fp, good) as ch:
            rsp = run_function(ch, make_request())
            assert len(rsp.desired.resources) > 0

        failures = {
            "no client cert": grpc.ssl_channel_credentials(certs.ca),
            "cert from another CA": grpc.ssl_channel_credentials(
                certs.ca, certs.rogue_key, certs.rogue_crt
            ),
        }
        for why, creds in failures.items():
            with channel_for(fp, creds) as ch, pytest.raises(grpc.RpcError) as err:
                run_function(ch, make_request(), timeout=3)
            assert err.value.code() is grpc.StatusCode.UNAVAILABLE, why

        with channel_for(fp, None) as ch, pytest.raises(grpc.RpcError):
            run_function(ch, make_request(), timeout=3)  # plaintext is refused too

        assert http_get(fp.url("/readyz"))[0] == 200
