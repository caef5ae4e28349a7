"""Errors the server answers with: each carries the gRPC status code a client receives."""

from __future__ import annotations

import grpc


class ServerError(Exception):
    """A request the server refuses; the message is what the client reads."""

    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidRequestError(ServerError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(ServerError):
    code = grpc.StatusCode.NOT_FOUND


class UnavailableError(ServerError):
    code = grpc.StatusCode.UNAVAILABLE


class UnimplementedError(ServerError):
    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(ServerError):
    code = grpc.StatusCode.INTERNAL


class ModelLoadError(Exception):
    """A model (or one of its versions) could not be loaded; the message becomes its reason."""
