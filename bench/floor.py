"""The floor: a no-op composition function on the same SDK as ours.

It answers every RunFunction with the request's desired state untouched (the SDK's
``response.to``), served by the SDK's own ``runtime.serve``. What it costs per call --
gRPC, protobuf parsing and serialization, the asyncio servicer -- is what no Python
function on this SDK can avoid.

    python bench/floor.py --insecure --address 127.0.0.1:9443
"""

from __future__ import annotations

import argparse

import grpc
from crossplane.function import response, runtime
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1


class FloorRunner(grpcv1.FunctionRunnerServiceServicer):
    """Returns the desired state it was given."""

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        return response.to(req)


class StoredResponseRunner(grpcv1.FunctionRunnerServiceServicer):
    """Answers every call with one stored response (serialized anew by grpc each time):
    the floor plus the unavoidable cost of sending a response as large as ours."""

    def __init__(self, rsp: fnv1.RunFunctionResponse) -> None:
        self.rsp = rsp

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        return self.rsp


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default="0.0.0.0:9443")
    p.add_argument("--insecure", action="store_true")
    p.add_argument("--tls-certs-dir", default=None)
    p.add_argument("--max-recv-message-size", type=int, default=4, help="MiB")
    p.add_argument("--response", default=None, help="answer with this serialized response")
    a = p.parse_args()
    runner: grpcv1.FunctionRunnerServiceServicer = FloorRunner()
    if a.response:
        with open(a.response, "rb") as f:
            runner = StoredResponseRunner(fnv1.RunFunctionResponse.FromString(f.read()))
    creds = None if a.insecure else runtime.load_credentials(a.tls_certs_dir)
    runtime.serve(
        runner,
        a.address,
        creds=creds,
        insecure=a.insecure,
        options=[("grpc.max_receive_message_length", a.max_recv_message_size * 1024 * 1024)],
    )


if __name__ == "__main__":
    main()
