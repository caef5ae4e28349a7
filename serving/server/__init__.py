"""sardonyx-serve: a KServe v2 / Triton-compatible gRPC and HTTP/REST server for a repository of ONNX models.

    from serving.server import InferenceServer, ServerOptions
    server = InferenceServer(ServerOptions(model_repository="models", grpc_port=8001))
    server.start()          # loads the models, then answers on the port
    server.stop()           # stops accepting, finishes in-flight requests, unloads

The generated protocol modules live in `serving.server.protocol`; nothing here imports the
training side (`trainer`, `exporter`).
"""

from serving.server.core import VERSION
from serving.server.server import InferenceServer, ServerOptions

__version__ = VERSION

__all__ = ["InferenceServer", "ServerOptions", "__version__"]
