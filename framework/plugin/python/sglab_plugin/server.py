"""serve(): go-plugin's protocol for a Python plugin, as framework/plugin's host expects.

What the Go host (hashicorp/go-plugin, AutoMTLS, gRPC only) needs from a plugin
process, done once here for every Python plugin:

1. The environment: SGLAB_PLUGIN must hold the magic cookie (else the program was run
   by hand: say so and exit 1); PLUGIN_PROTOCOL_VERSIONS lists what the host speaks
   (this SDK speaks protocol 1); PLUGIN_MIN_PORT..PLUGIN_MAX_PORT bound the TCP port;
   PLUGIN_CLIENT_CERT is the host's certificate (PEM) under AutoMTLS.
2. TLS: under AutoMTLS the plugin makes its own self-signed certificate, serves TLS
   that requires and verifies the host's certificate, and returns its certificate
   (DER, base64 without padding, as go-plugin's client decodes it) as the sixth field
   of the handshake line 1|1|tcp|127.0.0.1:PORT|grpc|CERT on stdout.
3. Services besides the plugin's own: grpc.health.v1.Health ("plugin" is SERVING),
   plugin.GRPCController (Shutdown: stop and exit 0 at once, so the host never has to
   kill), plugin.GRPCStdio and plugin.GRPCBroker (held open, nothing sent: the host
   opens both at connect time, as with a Go plugin that brokers nothing).
4. stdout carries the handshake and nothing else: right after it, fd 1 becomes a copy
   of stderr and sys.stdout a stream that logs each line as "stdout: ...", so a stray
   print cannot corrupt the protocol and still reaches the runner's log.

The stubs for the go-plugin and health services are generated from small .proto files
written from go-plugin's definitions (proto/, generate.sh), like those of sglab.proto.
"""

from __future__ import annotations

import base64
import datetime
import faulthandler
import json
import logging
import os
import signal
import socket
import sys
import threading
import traceback
from concurrent import futures

import grpc
import numpy as np

from . import kinds
from .kinds import Encoder, Evaluator, Expert, Generator, Library, Metric, Plugin, PluginError, Task, Transform, TrainOptions
from .lora import Adapter, Module, num_params
from .logs import HclogHandler, StdoutToLog, log
from .params import Param, decode_by_key
from .proto import goplugin_pb2, goplugin_pb2_grpc, health_pb2, health_pb2_grpc, sglab_pb2, sglab_pb2_grpc

# The handshake, as framework/plugin/serve.go fixes it.
MAGIC_COOKIE_KEY = "SGLAB_PLUGIN"
MAGIC_COOKIE_VALUE = "c5f3b8e2-sglab-zero-shot-lora"
PROTOCOL_VERSION = 1
CORE_PROTOCOL_VERSION = 1  # go-plugin's own
# Bounds one gRPC message both ways, as framework/plugin.MaxMessageBytes.
MAX_MESSAGE_BYTES = 256 << 20
# How long Shutdown lets calls in flight finish; the host waits 2 s before it kills.
SHUTDOWN_GRACE = 1.0


def _fail(msg: str) -> None:
    sys.stderr.write(msg.rstrip("\n") + "\n")
    sys.stderr.flush()
    sys.exit(1)


def _check_plugin(p) -> None:
    """Refuses a malformed plugin before the handshake, with a message for its author."""
    if not isinstance(p, (Encoder, Evaluator, Generator)):
        _fail(f"sglab_plugin.serve: {type(p).__name__} is none of Encoder, Evaluator, Generator")
    if not p.name:
        _fail(f"sglab_plugin.serve: {type(p).__name__} has no name")
    seen = set()
    for q in p.params:
        if not isinstance(q, Param):
            _fail(f"sglab_plugin.serve: {p.name}: params must be Param objects, got {q!r}")
        if q.name in seen:
            _fail(f"sglab_plugin.serve: {p.name}: parameter {q.name!r} is declared twice")
        seen.add(q.name)


def _certificate() -> tuple[bytes, bytes, bytes]:
    """A fresh self-signed certificate for localhost, as go-plugin's generateCert makes
    one (ECDSA, usable for server and client auth, a CA so it can be its own root).
    Returns (key PEM, cert PEM, cert DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sglab plugin")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(seconds=30))
            .not_valid_after(now + datetime.timedelta(days=365 * 30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_agreement=True,
                                         key_cert_sign=True, content_commitment=False, data_encipherment=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER)


def _port_range() -> list[int]:
    def env_int(k: str) -> int:
        v = os.environ.get(k, "")
        try:
            return int(v) if v else 0
        except ValueError:
            _fail(f"sglab_plugin.serve: {k}={v!r} is not a port number")
    lo, hi = env_int("PLUGIN_MIN_PORT"), env_int("PLUGIN_MAX_PORT")
    if lo > hi:
        _fail(f"sglab_plugin.serve: PLUGIN_MIN_PORT {lo} is greater than PLUGIN_MAX_PORT {hi}")
    return list(range(lo, hi + 1))


def _free(port: int) -> bool:
    if port == 0:
        return True
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _bind(server: grpc.Server, creds) -> int:
    """Binds the first free port of the host's range on 127.0.0.1 (the server's
    so_reuseport is off, so two plugins can never share one)."""
    for port in _port_range():
        if not _free(port):
            continue
        addr = f"127.0.0.1:{port}"
        try:
            bound = server.add_secure_port(addr, creds) if creds else server.add_insecure_port(addr)
        except RuntimeError:
            continue
        if bound:
            return bound
    _fail("sglab_plugin.serve: couldn't bind plugin TCP listener")
    return 0


# ---- values across the wire ----------------------------------------------------------

def _task(t: sglab_pb2.Task) -> Task:
    try:
        params = json.loads(t.params_json) if t.params_json else {}
    except json.JSONDecodeError as e:
        raise PluginError(f"task {t.id}: parameters are not a JSON object: {e}") from None
    if not isinstance(params, dict):
        raise PluginError(f"task {t.id}: parameters are not a JSON object")
    return Task(id=t.id, description=t.description, dataset=t.dataset,
                domain=[Transform(tr.name, list(tr.args)) for tr in t.domain], params=params)


def _schema_from_pb(mods) -> list[Module]:
    return [Module(m.name, getattr(m, "in"), m.out, m.rank, m.alpha) for m in mods]


def _schema_to_pb(schema: list[Module]) -> list[sglab_pb2.Module]:
    out = []
    for m in schema:
        pm = sglab_pb2.Module(name=m.name, out=m.out_features, rank=m.rank, alpha=m.alpha)
        setattr(pm, "in", m.in_features)  # "in" is a Python keyword
        out.append(pm)
    return out


class _BadOutput(Exception):
    """A plugin method returned something the protocol cannot carry: a plugin bug, told
    in terms of the method's contract rather than of the SDK's code."""


def _flat(x, schema: list[Module], what: str) -> np.ndarray:
    v = np.asarray(getattr(x, "params", x), dtype=np.float32).reshape(-1)
    n = num_params(schema)
    if v.size != n:
        raise _BadOutput(f"{what} has {v.size} values, the schema needs {n}")
    return v


def _metrics(m, what: str) -> dict[str, float]:
    if m is None:
        return {}
    if not isinstance(m, dict):
        raise _BadOutput(f"{what} returned {type(m).__name__}, want a dict of metric name to number")
    try:
        return {str(k): float(v) for k, v in m.items()}
    except (TypeError, ValueError) as e:
        raise _BadOutput(f"{what} returned a metric that is not a number: {e}") from None


# ---- calls into the plugin -------------------------------------------------------------

class _Calls:
    """Runs plugin methods for the gRPC servicers: one call at a time (plugins need
    not be thread-safe, as the runner promises Go plugins), with the call's context
    reachable through Plugin.cancelled(), and errors turned into gRPC statuses the host
    reads as the plugin's own refusals."""

    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin
        self.lock = threading.Lock()
        self.configured = False
        self.schema: list[Module] | None = None  # the library's, after fit

    def run(self, call: str, context, fn, needs_config: bool = True):
        status = None
        with self.lock:
            kinds._current.context = context
            try:
                if needs_config and not self.configured:
                    self._configure({})  # the host skipped Configure: use the defaults
                return fn()
            except PluginError as e:
                status = (grpc.StatusCode.INVALID_ARGUMENT, str(e))
            except _BadOutput as e:
                log.error(f"{call} failed", error=str(e))
                status = (grpc.StatusCode.UNKNOWN, str(e))
            except Exception as e:  # a bug in the plugin: report it, keep serving
                tb = traceback.extract_tb(e.__traceback__)
                where = f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno} in {tb[-1].name})" if tb else ""
                msg = f"{type(e).__name__}: {e}{where}"
                log.error(f"{call} failed", error=msg, traceback=traceback.format_exc())
                status = (grpc.StatusCode.UNKNOWN, msg + "; the traceback is in the plugin's log")
            finally:
                kinds._current.context = None
        context.abort(*status)

    def _configure(self, given: dict) -> None:
        # The plugin's own checks run on the values that decoded, so that one Configure
        # reports every problem, as Go plugins do.
        values, problems = decode_by_key(self.plugin.params, given)
        own = [line for line in self.plugin.check(values)
               if not any(f"parameter {json.dumps(k)}" in line for k in problems)]
        errs = [problems[k] for k in sorted(problems)] + own
        if errs:
            raise PluginError("\n".join(errs))
        self.plugin.configure(values)
        self.configured = True

    def check_kind(self, kind: str) -> None:
        if self.plugin.kind != kind:
            def a(k):
                return ("an " if k[0] in "aeiou" else "a ") + k
            raise PluginError(f"{self.plugin.name} is {a(self.plugin.kind)} plugin, not {a(kind)}")

    # shared calls

    def info(self, kind: str, context):
        def f():
            self.check_kind(kind)
            p = self.plugin
            out = sglab_pb2.Info(kind=p.kind, name=p.name, version=p.version, description=p.description,
                                 params=[sglab_pb2.Param(name=q.name, type=q.type, default=q.default_text(), doc=q.doc,
                                                         min=q.bound_text("min"), max=q.bound_text("max"),
                                                         above=q.bound_text("above"), below=q.bound_text("below"),
                                                         one_of=q.one_of)
                                         for q in p.params])
            if isinstance(p, Evaluator):
                out.schema.extend(_schema_to_pb(p.schema()))
                out.datasets.extend(p.datasets())
                out.transforms.extend(p.transforms())
                for m in p.metrics():
                    if not isinstance(m, Metric):
                        raise TypeError(f"metrics() must return Metric values, got {m!r}")
                    out.metrics.append(m.name)  # for runners older than metric_specs
                    out.metric_specs.append(sglab_pb2.Metric(name=m.name, description=m.description,
                                                             lower_is_better=m.lower_is_better))
                out.headline.extend(p.headline())
                out.backbone = p.backbone()
            return out
        return self.run("Info", context, f, needs_config=False)

    def configure(self, kind: str, req, context):
        def f():
            self.check_kind(kind)
            try:
                given = json.loads(req.params_json) if req.params_json else {}
            except json.JSONDecodeError as e:
                raise PluginError(f"parameters are not a JSON object: {e}") from None
            if not isinstance(given, dict):
                raise PluginError("parameters are not a JSON object")
            self._configure(given)
            return sglab_pb2.Empty()
        return self.run("Configure", context, f, needs_config=False)


class _EncoderServicer(sglab_pb2_grpc.EncoderServicer):
    def __init__(self, calls: _Calls) -> None:
        self.c = calls

    def Info(self, req, context):  # noqa: N802 (gRPC's names)
        return self.c.info("encoder", context)

    def Configure(self, req, context):  # noqa: N802
        return self.c.configure("encoder", req, context)

    def Embed(self, req, context):  # noqa: N802
        def f():
            self.c.check_kind("encoder")
            texts = list(req.texts)
            vs = self.c.plugin.embed(texts)
            if len(vs) != len(texts):
                raise _BadOutput(f"embed returned {len(vs)} vectors for {len(texts)} texts")
            return sglab_pb2.EmbedResponse(vectors=[
                sglab_pb2.Vector(values=np.asarray(v, dtype=np.float32).reshape(-1).tolist()) for v in vs])
        return self.c.run("Embed", context, f)


class _EvaluatorServicer(sglab_pb2_grpc.EvaluatorServicer):
    def __init__(self, calls: _Calls) -> None:
        self.c = calls

    def Info(self, req, context):  # noqa: N802
        return self.c.info("evaluator", context)

    def Configure(self, req, context):  # noqa: N802
        return self.c.configure("evaluator", req, context)

    def CheckTask(self, req, context):  # noqa: N802
        def f():
            self.c.check_kind("evaluator")
            self.c.plugin.check_task(_task(req))
            return sglab_pb2.Empty()
        return self.c.run("CheckTask", context, f)

    def Train(self, req, context):  # noqa: N802
        def f():
            self.c.check_kind("evaluator")
            opts = TrainOptions(epochs=req.epochs, snapshots=req.snapshots, rank=req.rank, init_seed=req.init_seed)
            res = self.c.plugin.train(_task(req.task), req.seed, opts, req.output_path)
            if not isinstance(res, kinds.TrainResult):
                raise _BadOutput(f"train returned {type(res).__name__}, want a TrainResult")
            return sglab_pb2.TrainResponse(snapshots=int(res.snapshots), metrics=_metrics(res.metrics, "train"))
        return self.c.run("Train", context, f)

    def Evaluate(self, req, context):  # noqa: N802
        def f():
            self.c.check_kind("evaluator")
            task = _task(req.task)
            adapter = None
            if req.HasField("adapter"):
                schema = self.c.plugin.schema()
                try:
                    adapter = Adapter(schema, np.asarray(req.adapter.params, dtype=np.float32))
                except ValueError as e:
                    raise PluginError(str(e)) from None
            m = self.c.plugin.evaluate(task, adapter, req.seed)
            return sglab_pb2.Metrics(values=_metrics(m, "evaluate"))
        return self.c.run("Evaluate", context, f)


def _library(schema, experts) -> Library:
    return Library(schema=_schema_from_pb(schema), experts=[
        Expert(id=e.id, description=e.description, embedding=np.asarray(e.embedding, dtype=np.float32),
               snapshot_path=e.snapshot_path) for e in experts])


class _GeneratorServicer(sglab_pb2_grpc.GeneratorServicer):
    def __init__(self, calls: _Calls) -> None:
        self.c = calls

    def Info(self, req, context):  # noqa: N802
        return self.c.info("generator", context)

    def Configure(self, req, context):  # noqa: N802
        return self.c.configure("generator", req, context)

    def Fit(self, req, context):  # noqa: N802
        def f():
            self.c.check_kind("generator")
            lib = _library(req.schema, req.experts)
            self.c.plugin.fit(lib, req.seed)
            self.c.schema = lib.schema
            return sglab_pb2.Empty()
        return self.c.run("Fit", context, f)

    def _saves_fits(self) -> bool:
        p = self.c.plugin
        return callable(getattr(p, "save_fit", None)) and callable(getattr(p, "load_fit", None))

    def SaveFit(self, req, context):  # noqa: N802
        # Optional: UNIMPLEMENTED unless the plugin defines save_fit and load_fit.
        if not self._saves_fits():
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "cannot save its fit: the plugin defines no save_fit and load_fit")

        def f():
            self.c.check_kind("generator")
            if self.c.schema is None:
                raise PluginError("SaveFit called before Fit")
            self.c.plugin.save_fit(req.path)
            return sglab_pb2.Empty()
        return self.c.run("SaveFit", context, f)

    def LoadFit(self, req, context):  # noqa: N802
        if not self._saves_fits():
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "cannot save its fit: the plugin defines no save_fit and load_fit")

        def f():
            self.c.check_kind("generator")
            lib = _library(req.schema, req.experts)
            self.c.plugin.load_fit(req.path, lib)
            self.c.schema = lib.schema
            return sglab_pb2.Empty()
        return self.c.run("LoadFit", context, f)

    def Generate(self, req, context):  # noqa: N802
        # The whole list is made under the call lock, then streamed one adapter per
        # message, so no message comes near the size limit however many are asked for.
        def f():
            self.c.check_kind("generator")
            if self.c.schema is None:
                raise PluginError("Generate called before Fit")
            out = self.c.plugin.generate(np.asarray(req.target, dtype=np.float32), int(req.n), req.seed)
            return [_flat(a, self.c.schema, f"generate: adapter {i}") for i, a in enumerate(out)]
        for v in self.c.run("Generate", context, f):
            yield sglab_pb2.Adapter(params=v.tolist())


class _Health(health_pb2_grpc.HealthServicer):
    def Check(self, req, context):  # noqa: N802
        if req.service in ("", "plugin"):
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
        context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {req.service!r}")


def _hold(context, stop: threading.Event) -> None:
    """Blocks until the plugin shuts down or the host drops the call."""
    while context.is_active() and not stop.wait(0.5):
        pass


def _drain(requests) -> None:
    """Reads a client stream to its end, whatever way it ends."""
    try:
        for _ in requests:
            pass
    except Exception:  # noqa: BLE001 (a cancelled stream raises; nothing to report)
        pass


class _Controller(goplugin_pb2_grpc.GRPCControllerServicer):
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def Shutdown(self, req, context):  # noqa: N802
        self.stop.set()
        return goplugin_pb2.Empty()


class _Stdio(goplugin_pb2_grpc.GRPCStdioServicer):
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def StreamStdio(self, req, context):  # noqa: N802
        _hold(context, self.stop)
        return iter(())


class _Broker(goplugin_pb2_grpc.GRPCBrokerServicer):
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def StartStream(self, requests, context):  # noqa: N802
        threading.Thread(target=_drain, args=(requests,), daemon=True).start()
        _hold(context, self.stop)
        return iter(())


def serve(plugin: Plugin) -> None:
    """Serves plugin to the sglab runner until the runner is done with it, then exits
    the process. A plugin file ends with:

        if __name__ == "__main__":
            serve(MyPlugin())
    """
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        _fail("This program is an sglab plugin. It is not meant to be executed directly:\n"
              "name it in an experiment file and run that with `runner run FILE`, which\n"
              "starts the plugin itself.")
    # From here on stdout belongs to the handshake: fd 1 becomes a copy of stderr and
    # print() goes to the log, so nothing the plugin or a library prints can corrupt it.
    handshake_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = StdoutToLog(log)
    _check_plugin(plugin)
    root = logging.getLogger()
    root.handlers[:] = [HclogHandler()]
    root.setLevel(logging.INFO)  # the runner shows info; it drops what it does not want
    # A segfault (a native library, CUDA) leaves the crashing thread's Python traceback
    # on stderr, whose last lines the runner shows with the failed call.
    faulthandler.enable(file=sys.stderr, all_threads=False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle

    versions = [v.strip() for v in os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "").split(",") if v.strip()]
    if versions and str(PROTOCOL_VERSION) not in versions:
        log.error("the host speaks another sglab protocol version", host=",".join(versions), plugin=PROTOCOL_VERSION)

    creds, cert_field = None, ""
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
    if client_cert:
        key_pem, cert_pem, cert_der = _certificate()
        creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=client_cert.encode(),
                                            require_client_auth=True)
        cert_field = "|" + base64.b64encode(cert_der).decode().rstrip("=")

    stop = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="sglab-plugin"), options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.so_reuseport", 0),
    ])
    calls = _Calls(plugin)
    sglab_pb2_grpc.add_EncoderServicer_to_server(_EncoderServicer(calls), server)
    sglab_pb2_grpc.add_EvaluatorServicer_to_server(_EvaluatorServicer(calls), server)
    sglab_pb2_grpc.add_GeneratorServicer_to_server(_GeneratorServicer(calls), server)
    health_pb2_grpc.add_HealthServicer_to_server(_Health(), server)
    goplugin_pb2_grpc.add_GRPCControllerServicer_to_server(_Controller(stop), server)
    goplugin_pb2_grpc.add_GRPCStdioServicer_to_server(_Stdio(stop), server)
    goplugin_pb2_grpc.add_GRPCBrokerServicer_to_server(_Broker(stop), server)
    port = _bind(server, creds)
    server.start()

    line = f"{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|tcp|127.0.0.1:{port}|grpc{cert_field}\n"
    os.write(handshake_fd, line.encode())
    os.close(handshake_fd)
    log.debug("plugin started", plugin=plugin.name, kind=plugin.kind, port=port, tls=bool(creds))

    stop.wait()
    # Let the Shutdown answer (and any call in flight) go out, then leave at once:
    # os._exit does not wait for threads a plugin or its libraries left running.
    server.stop(SHUTDOWN_GRACE).wait()
    log.debug("plugin exiting", plugin=plugin.name)
    sys.stderr.flush()
    os._exit(0)
