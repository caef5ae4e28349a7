"""`sardonyx-serve`: serve a model repository over gRPC and HTTP/REST until SIGINT/SIGTERM, then exit 0."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from threadpoolctl import threadpool_limits

from serving.server.repository import CONTROL_MODES
from serving.server.response_cache import CACHE_CONFIG_HELP, parse_cache_config
from serving.server.server import InferenceServer, ServerOptions

log = logging.getLogger("sardonyx.serve")


def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1", "yes")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sardonyx-serve", description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", default="models", help="Triton-style model repository (default: models)")
    parser.add_argument("--grpc-port", type=int, default=8001, help="gRPC port (default 8001; 0 picks a free port)")
    parser.add_argument("--grpc-address", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--allow-http", type=_boolean, default=True, metavar="true|false",
                        help="serve the KServe v2 HTTP/REST protocol too (default true, as Triton)")
    parser.add_argument("--http-port", type=int, default=8000, help="HTTP port (default 8000; 0 picks a free port)")
    parser.add_argument("--http-address", default="0.0.0.0", help="address HTTP listens on (default 0.0.0.0)")
    parser.add_argument("--http-max-input-size", type=int, default=64 * 2**20, metavar="BYTES",
                        help="largest HTTP request body; larger ones are answered 413 (default 64 MiB, as Triton)")
    parser.add_argument("--metrics-port", type=int, default=8002,
                        help="Prometheus /metrics port (default 8002; 0 picks a free port, -1 disables it)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--model-control-mode", choices=CONTROL_MODES, default="none",
                        help="none: load every model at start; explicit: load/unload RPCs and --load-model; "
                             "poll: also follow changes in the repository")
    parser.add_argument("--load-model", action="append", default=[], metavar="NAME",
                        help="with --model-control-mode explicit: a model to load at start (repeatable; * for all)")
    parser.add_argument("--repository-poll-secs", type=float, default=15.0,
                        help="with --model-control-mode poll: seconds between repository scans (default 15)")
    parser.add_argument("--default-max-batch-size", type=int, default=4,
                        help="max_batch_size given to batchable models whose config does not set it (default 4)")
    parser.add_argument("--grpc-max-message-bytes", type=int, default=2**31 - 1,
                        help="largest request or response message (default 2^31-1, as Triton)")
    parser.add_argument("--shutdown-timeout", type=float, default=30.0,
                        help="seconds in-flight requests get to finish after SIGINT/SIGTERM (default 30)")
    parser.add_argument("--strict-readiness", type=_boolean, default=True, metavar="true|false",
                        help="ready (and health SERVING) only while every model it tried to load serves "
                             "(default true, as Triton)")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads per BLAS call (default 1: the server's parallelism is its instances and batches, "
                             "and a multi-threaded BLAS on busy cores stalls every call; 0 keeps the library's choice)")
    parser.add_argument("--cache-config", action="append", default=[], metavar=CACHE_CONFIG_HELP,
                        help="the response cache models with `response_cache { enable: true }` share (Triton's flag)")
    parser.add_argument("--response-cache-byte-size", type=int, default=0, metavar="BYTES",
                        help="Triton 2.x's spelling of --cache-config local,size=BYTES (default 0: no cache)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        type=str.upper, help="(default INFO)")
    args = parser.parse_args(argv)
    if args.cache_config and args.response_cache_byte_size:
        parser.error("Incompatible flags --response-cache-byte-size and --cache-config both provided. "
                     "Please provide one or the other.")
    if args.response_cache_byte_size < 0:
        parser.error(f"--response-cache-byte-size must be >= 0, got {args.response_cache_byte_size}")
    try:
        args.response_cache_bytes = parse_cache_config(args.cache_config) if args.cache_config else \
            args.response_cache_byte_size
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = ServerOptions(
        model_repository=args.model_repository, grpc_port=args.grpc_port, grpc_address=args.grpc_address,
        metrics_port=None if args.metrics_port < 0 else args.metrics_port, device=args.device,
        http_port=args.http_port if args.allow_http else None, http_address=args.http_address,
        http_max_input_bytes=args.http_max_input_size,
        model_control_mode=args.model_control_mode, load_models=args.load_model,
        repository_poll_secs=args.repository_poll_secs, default_max_batch_size=args.default_max_batch_size,
        max_message_bytes=args.grpc_max_message_bytes, shutdown_timeout=args.shutdown_timeout,
        strict_readiness=args.strict_readiness, response_cache_bytes=args.response_cache_bytes)
    if args.blas_threads > 0:
        # Process-wide, before any model runs; the returned controller is kept so the limit stays.
        blas_limit = threadpool_limits(limits=args.blas_threads, user_api="blas")
        log.debug("BLAS threads limited to %d (%s)", args.blas_threads, blas_limit.get_original_num_threads())
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: stop.set())
    try:
        server = InferenceServer(options)
        server.start()
    except (OSError, ValueError, RuntimeError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    # Tests and scripts read this line to learn the ports when they asked for free ones.
    print(f"sardonyx-serve ready: grpc {server.grpc_port} metrics {server.metrics_port}", flush=True)
    while not stop.wait(0.5):
        pass
    log.info("signal received: finishing in-flight requests (at most %.0f s)", args.shutdown_timeout)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
