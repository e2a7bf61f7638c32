"""serve() in a real process without AutoMTLS: the plaintext handshake, the health and
controller services, stdout discipline and a prompt exit 0 on Shutdown."""

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import grpc

from sglab_plugin.proto import goplugin_pb2, goplugin_pb2_grpc, health_pb2, health_pb2_grpc, sglab_pb2, sglab_pb2_grpc
from sglab_plugin.server import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

PLUGIN = textwrap.dedent('''
    import os
    from sglab_plugin import Encoder, serve


    class Loud(Encoder):
        name, version = "loud", "1"

        def embed(self, texts):
            print("a stray print")
            os.write(1, b"a raw write to fd 1\\n")
            return [[1.0] for _ in texts]


    serve(Loud())
''')
SDK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TestServeProcess(unittest.TestCase):
    def test_plaintext_round_trip(self):
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(PLUGIN)
        self.addCleanup(os.remove, f.name)
        env = dict(os.environ, PYTHONPATH=SDK, PLUGIN_MIN_PORT="12000", PLUGIN_MAX_PORT="12999",
                   PLUGIN_PROTOCOL_VERSIONS="1")
        env[MAGIC_COOKIE_KEY] = MAGIC_COOKIE_VALUE
        env.pop("PLUGIN_CLIENT_CERT", None)
        proc = subprocess.Popen([sys.executable, f.name], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.kill)
        line = proc.stdout.readline().decode()
        parts = line.strip().split("|")
        self.assertEqual(parts[:3] + parts[4:], ["1", "1", "tcp", "grpc"], line)  # no certificate field
        host, port = parts[3].rsplit(":", 1)
        self.assertEqual(host, "127.0.0.1")
        self.assertTrue(12000 <= int(port) <= 12999)
        with grpc.insecure_channel(parts[3]) as ch:
            ok = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="plugin"), timeout=5)
            self.assertEqual(ok.status, health_pb2.HealthCheckResponse.SERVING)
            resp = sglab_pb2_grpc.EncoderStub(ch).Embed(sglab_pb2.EmbedRequest(texts=["a", "b"]), timeout=5)
            self.assertEqual([list(v.values) for v in resp.vectors], [[1.0], [1.0]])
            start = time.monotonic()
            goplugin_pb2_grpc.GRPCControllerStub(ch).Shutdown(goplugin_pb2.Empty(), timeout=5)
        self.assertEqual(proc.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - start, 2, "the host kills a plugin that takes 2 s to exit")
        self.assertEqual(proc.stdout.read(), b"", "stdout must carry the handshake only")
        err = proc.stderr.read().decode()
        self.assertIn('"@message": "stdout: a stray print"', err)
        self.assertIn("a raw write to fd 1", err)


if __name__ == "__main__":
    unittest.main()
