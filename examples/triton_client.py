"""Call sardonyx-serve from Triton's own client, unchanged: health, metadata, a request, an async request.

    sardonyx-serve --model-repository models &      # serves models/simple on localhost:8001
    python examples/triton_client.py [--url localhost:8001]
"""

from __future__ import annotations

import argparse
import queue

import numpy as np
import tritonclient.grpc as grpcclient


def inputs(a: np.ndarray, b: np.ndarray) -> list[grpcclient.InferInput]:
    tensors = [grpcclient.InferInput("INPUT0", list(a.shape), "FP32"), grpcclient.InferInput("INPUT1", list(b.shape),
                                                                                            "FP32")]
    tensors[0].set_data_from_numpy(a)
    tensors[1].set_data_from_numpy(b)
    return tensors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="localhost:8001", help="the server's gRPC address (default localhost:8001)")
    args = parser.parse_args(argv)
    with grpcclient.InferenceServerClient(args.url) as client:
        print("live:", client.is_server_live(), "ready:", client.is_server_ready(),
              "simple ready:", client.is_model_ready("simple"))
        metadata = client.get_model_metadata("simple")
        print("inputs:", [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs])

        a = np.arange(16, dtype=np.float32).reshape(1, 16)
        b = np.ones((1, 16), np.float32)
        outputs = [grpcclient.InferRequestedOutput("OUTPUT0"), grpcclient.InferRequestedOutput("OUTPUT1")]
        result = client.infer("simple", inputs(a, b), outputs=outputs)
        assert np.array_equal(result.as_numpy("OUTPUT0"), a + b)
        assert np.array_equal(result.as_numpy("OUTPUT1"), a - b)
        print("INPUT0 + INPUT1 =", result.as_numpy("OUTPUT0")[0, :4], "...")

        # async_infer returns at once and calls back from the client's thread with (result, error).
        done: queue.Queue = queue.Queue()
        client.async_infer("simple", inputs(b, b), callback=lambda result, error: done.put((result, error)))
        result, error = done.get(timeout=30)
        if error is not None:
            raise error
        print("async: INPUT0 - INPUT1 =", result.as_numpy("OUTPUT1")[0, :4], "...")


if __name__ == "__main__":
    main()
