"""The wire protocol's generated modules (from protos/ by protos/generate.py; do not edit them).

`pb` holds the messages of grpc_service.proto, `config_pb` those of model_config.proto, and
`grpc_pb` the service base class and stub.
"""

from serving.server.protocol import grpc_service_pb2 as pb
from serving.server.protocol import grpc_service_pb2_grpc as grpc_pb
from serving.server.protocol import model_config_pb2 as config_pb
from serving.server.protocol._pool import POOL
