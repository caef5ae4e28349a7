"""The KServe v2 / Triton HTTP/REST endpoint (Triton's port 8000), over the InferenceCore gRPC also uses.

The standard library's ThreadingHTTPServer: one thread per connection, HTTP/1.1 keep-alive. Stopping
closes the listening socket and idle connections at once, then waits for requests in flight; their
connections close after the answer.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import socket
import threading
import time
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import grpc

from serving.server import http_codec
from serving.server.core import InferenceCore, unsupported
from serving.server.errors import InvalidRequestError, ServerError

log = logging.getLogger("sardonyx.serve")

# Triton's default --http-max-input-size.
MAX_INPUT_BYTES = 64 * 2**20

# The HTTP status Triton answers each error kind with.
_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    grpc.StatusCode.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR,
}

_MODEL = r"/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?"
_REGION = r"/v2/systemsharedmemory(?:/region/(?P<region>[^/]+))?"

# (method, path pattern, handler method of _Handler); the first match wins, so /v2/models/stats precedes metadata.
_ROUTES = [(method, re.compile(pattern + "$"), handler) for method, pattern, handler in (
    ("GET", r"/v2/health/live", "_live"),
    ("GET", r"/v2/health/ready", "_ready"),
    ("GET", r"/v2", "_server_metadata"),
    ("GET", r"/v2/models/stats", "_statistics"),
    ("GET", _MODEL, "_model_metadata"),
    ("GET", _MODEL + r"/ready", "_model_ready"),
    ("GET", _MODEL + r"/config", "_model_config"),
    ("GET", _MODEL + r"/stats", "_statistics"),
    ("POST", _MODEL + r"/infer", "_infer"),
    ("POST", r"/v2/repository/index", "_repository_index"),
    ("POST", r"/v2/repository/models/(?P<model>[^/]+)/load", "_load"),
    ("POST", r"/v2/repository/models/(?P<model>[^/]+)/unload", "_unload"),
    ("GET", _REGION + r"/status", "_shared_memory_status"),
    ("POST", _REGION + r"/register", "_shared_memory_register"),
    ("POST", _REGION + r"/unregister", "_shared_memory_unregister"),
    ("GET", r"/v2/cudasharedmemory(?:/region/[^/]+)?/status", "_cuda_shared_memory"),
    ("POST", r"/v2/cudasharedmemory(?:/region/[^/]+)?/(?:register|unregister)", "_cuda_shared_memory"),
    ("GET|POST", r"/v2(?:/models/[^/]+)?/trace/setting", "_trace"),
    ("GET|POST", r"/v2/logging", "_logging"),
)]


class _ReplyError(Exception):
    """An answer decided before the request's handler runs (an oversized or unreadable body)."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class HttpFrontend:
    """Serve `core` over HTTP on `address:port` (0: a free port, see `.port`) from a background thread."""

    def __init__(self, core: InferenceCore, port: int, address: str = "0.0.0.0",
                 max_input_bytes: int = MAX_INPUT_BYTES):
        self.core = core
        self.max_input_bytes = max_input_bytes
        try:
            self._httpd = _Server((address, port), _Handler, self)
        except OSError as exc:
            raise OSError(f"cannot listen for HTTP on {address}:{port} ({exc.strerror or exc})") from exc
        self.address = address
        self.port = self._httpd.server_address[1]
        self.stopping = False
        self._connections: set[_Handler] = set()
        self._busy = 0
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop_accepting(self) -> None:
        """Refuse new connections and end idle keep-alive ones; requests in flight go on."""
        if self._thread is not None:
            self._httpd.shutdown()
        self._httpd.server_close()
        # Under the lock no idle connection can start a request before it is closed; busy ones close after it.
        with self._lock:
            self.stopping = True
            for handler in self._connections:
                if not handler.busy:
                    try:
                        handler.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:  # the client closed it meanwhile
                        pass

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the requests in flight; True if all finished."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("%d HTTP requests still running at shutdown", self._busy)
                    return False
                self._lock.wait(left)
        return True

    def _opened(self, handler) -> None:
        with self._lock:
            self._connections.add(handler)

    def _closed(self, handler) -> None:
        with self._lock:
            self._connections.discard(handler)

    def _begin(self, handler) -> None:
        with self._lock:
            handler.busy = True
            self._busy += 1

    def _end(self, handler) -> None:
        with self._lock:
            handler.busy = False
            self._busy -= 1
            self._lock.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # HttpFrontend.wait bounds the wait for requests in flight, not server_close
    block_on_close = False

    def __init__(self, address, handler, frontend: HttpFrontend):
        self.frontend = frontend
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "sardonyx-serve"
    busy = False

    # Connection bookkeeping for a graceful stop.

    def setup(self):
        super().setup()
        self.frontend: HttpFrontend = self.server.frontend
        self.frontend._opened(self)

    def finish(self):
        self.frontend._closed(self)
        super().finish()

    def log_message(self, format, *args):
        log.debug("HTTP %s: " + format, self.address_string(), *args)

    def do_GET(self):  # noqa: N802 (the base class's naming)
        self._dispatch("GET")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        self.frontend._begin(self)
        try:
            self._route(method)
        finally:
            if self.frontend.stopping:
                self.close_connection = True
            self.frontend._end(self)

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        allowed = []
        for methods, pattern, name in _ROUTES:
            match = pattern.match(url.path.rstrip("/") or "/")
            if match is None:
                continue
            if method not in methods.split("|"):
                allowed.append(methods)
                continue
            arguments = {key: unquote(value) for key, value in match.groupdict().items() if value is not None}
            try:
                if method == "GET":
                    self._drain()  # a GET has no body as a rule; one that has must not be read as the next request
                getattr(self, name)(**arguments)
            except _ReplyError as reply:
                self._error(reply.status, reply.message)
            except ServerError as exc:
                self._error(_STATUS.get(exc.code, HTTPStatus.INTERNAL_SERVER_ERROR), exc.message)
            except Exception as exc:
                log.exception("unexpected error answering %s %s", method, url.path)
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}")
            return
        if allowed:
            self._drain()
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {url.path}; use {allowed[0]}")
        else:
            self._drain()
            self._error(HTTPStatus.NOT_FOUND, f"no endpoint {url.path}: sardonyx-serve answers the KServe v2 "
                                              "paths under /v2")

    # Reading and writing.

    def _body(self, decompress: bool = False) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # the body is not read, so the connection cannot carry another request
            raise _ReplyError(HTTPStatus.LENGTH_REQUIRED,
                              "chunked request bodies are not supported: send Content-Length")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            self.close_connection = True
            raise _ReplyError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from None
        limit = self.frontend.max_input_bytes
        if length > limit:
            self.close_connection = True
            raise _ReplyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                         f"request body of {length} bytes exceeds the server's limit of {limit} bytes "
                         "(--http-max-input-size)")
        body = self.rfile.read(length)
        encoding = self.headers.get("Content-Encoding", "identity").lower()
        if not decompress or encoding == "identity":
            return body
        if encoding not in ("gzip", "deflate"):
            raise _ReplyError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                         f"unsupported Content-Encoding '{encoding}': expected gzip, deflate or identity")
        # Bounded, so a small compressed body cannot expand past the limit.
        inflater = zlib.decompressobj(zlib.MAX_WBITS | (16 if encoding == "gzip" else 0))
        try:
            data = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise InvalidRequestError(f"cannot decompress the {encoding} request body: {exc}") from exc
        if len(data) > limit:
            raise _ReplyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                         f"decompressed request body exceeds the server's limit of {limit} bytes "
                         "(--http-max-input-size)")
        return data

    def _drain(self) -> None:
        """Read an unwanted body, so the connection stays usable for the next request."""
        try:
            self._body()
        except _ReplyError:
            pass

    def _send(self, status: HTTPStatus, body: bytes = b"", content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection or self.frontend.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _json(self, document, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(document).encode())

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json({"error": message}, status)

    def _flag(self, ok: bool) -> None:
        # Triton answers health and readiness with the status alone: 200, else 400.
        self._send(HTTPStatus.OK if ok else HTTPStatus.BAD_REQUEST)

    # Endpoints.

    def _live(self):
        self._flag(True)

    def _ready(self):
        self._flag(self.frontend.core.server_ready())

    def _server_metadata(self):
        self._json(http_codec.message_to_json(self.frontend.core.server_metadata()))

    def _model_metadata(self, model: str, version: str = ""):
        self._json(http_codec.message_to_json(self.frontend.core.model_metadata(model, version)))

    def _model_ready(self, model: str, version: str = ""):
        self._flag(self.frontend.core.model_ready(model, version))

    def _model_config(self, model: str, version: str = ""):
        self._json(http_codec.message_to_json(self.frontend.core.model_config(model, version)))

    def _statistics(self, model: str = "", version: str = ""):
        self._json(http_codec.message_to_json(self.frontend.core.statistics(model, version)))

    def _infer(self, model: str, version: str = ""):
        body = self._body(decompress=True)
        header_length = self.headers.get("Inference-Header-Content-Length")
        if header_length is not None and not header_length.isdigit():
            raise InvalidRequestError(f"Inference-Header-Content-Length must be a byte count, got {header_length!r}")
        request = http_codec.parse_infer_request(body, None if header_length is None else int(header_length),
                                                 model, version)
        core = self.frontend.core
        with core.shared_memory.bind(request.message) as shared:
            header, chunks = core.infer(
                shared.request, lambda served, outputs: http_codec.infer_response(request, served, outputs, shared))
        head = json.dumps(header).encode()
        headers = {}
        if chunks:
            headers["Inference-Header-Content-Length"] = str(len(head))
        body = b"".join([head, *chunks])
        accepted = _accepted_encodings(self.headers.get("Accept-Encoding", ""))
        if "gzip" in accepted:
            body, headers["Content-Encoding"] = gzip.compress(body, compresslevel=1), "gzip"
        elif "deflate" in accepted:
            body, headers["Content-Encoding"] = zlib.compress(body, 1), "deflate"
        self._send(HTTPStatus.OK, body, "application/octet-stream" if chunks else "application/json", headers)

    def _repository_index(self):
        document = http_codec.request_json(self._body())
        ready = document.get("ready", False)
        if not isinstance(ready, bool):
            raise InvalidRequestError(f"'ready' of the repository index request must be true or false, got {ready!r}")
        index = self.frontend.core.repository_index(ready_only=ready)
        self._json([{key: value for key, value in http_codec.message_to_json(row).items() if value}
                    for row in index.models])

    def _load(self, model: str):
        parameters = http_codec.request_json(self._body()).get("parameters", {})
        if not isinstance(parameters, dict):
            raise InvalidRequestError("'parameters' of the load request must be a JSON object")
        self.frontend.core.load(model, parameters)
        self._send(HTTPStatus.OK)

    def _unload(self, model: str):
        http_codec.request_json(self._body())  # unload_dependents: our models have no dependents
        self.frontend.core.unload(model)
        self._send(HTTPStatus.OK)

    def _unsupported(self, what: str):
        self._drain()
        raise unsupported(what)

    def _shared_memory_status(self, region: str = ""):
        status = self.frontend.core.shared_memory.status(region)
        # By name, as Triton lists them.
        self._json([http_codec.message_to_json(status.regions[name]) for name in sorted(status.regions)])

    def _shared_memory_register(self, region: str = ""):
        document = http_codec.request_json(self._body())
        if not region:
            raise InvalidRequestError("registering system shared memory needs the region's name: POST "
                                      "/v2/systemsharedmemory/region/{name}/register")
        key = document.get("key")
        if not isinstance(key, str):
            raise InvalidRequestError(f"the register request for region '{region}' needs 'key', a string")
        sizes = {}
        for field, default in (("offset", 0), ("byte_size", None)):
            value = document.get(field, default)
            if type(value) is not int or value < 0:
                raise InvalidRequestError(f"the register request for region '{region}' needs '{field}', a "
                                          f"non-negative integer, got {value!r}")
            sizes[field] = value
        self.frontend.core.shared_memory.register(region, key, sizes["offset"], sizes["byte_size"])
        self._send(HTTPStatus.OK)

    def _shared_memory_unregister(self, region: str = ""):
        self._drain()
        self.frontend.core.shared_memory.unregister(region)
        self._send(HTTPStatus.OK)

    def _cuda_shared_memory(self):
        self._unsupported("CUDA shared memory")

    def _trace(self):
        self._unsupported("trace settings")

    def _logging(self):
        self._unsupported("log settings")


def _accepted_encodings(header: str) -> set[str]:
    """The codings an Accept-Encoding header allows ("gzip;q=0" refuses gzip)."""
    accepted = set()
    for part in header.lower().split(","):
        coding, _, parameters = part.partition(";")
        weight = parameters.replace(" ", "")
        if coding.strip() and not re.fullmatch(r"q=0(\.0*)?", weight):
            accepted.add(coding.strip())
    return accepted
