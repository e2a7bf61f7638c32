"""Log lines the Go host can parse: hclog JSON with its timestamp layout."""

import contextlib
import io
import json
import logging
import re
import unittest

from sglab_plugin.logs import HclogHandler, Logger, StdoutToLog


class TestLogs(unittest.TestCase):
    def capture(self, f):
        buf = io.StringIO()
        with contextlib.redirect_stderr(buf):
            f()
        return [json.loads(line) for line in buf.getvalue().splitlines()]

    def test_hclog_json(self):
        (e,) = self.capture(lambda: Logger("clip").named("train").info("epoch done", epoch=3, loss=0.25))
        self.assertEqual((e["@level"], e["@message"], e["@module"], e["epoch"], e["loss"]),
                         ("info", "epoch done", "clip.train", 3, 0.25))
        # go-plugin parses @timestamp with the layout 2006-01-02T15:04:05.000000Z07:00.
        self.assertRegex(e["@timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")

    def test_percent_args_as_logging(self):
        (e,) = self.capture(lambda: Logger().info("epoch %d of %s", 3, "ten", loss=1))
        self.assertEqual((e["@message"], e["loss"]), ("epoch 3 of ten", 1))

    def test_levels(self):
        log = Logger()
        self.assertEqual(self.capture(lambda: log.debug("hidden")), [])
        log.set_level("debug")
        self.assertEqual([e["@level"] for e in self.capture(lambda: (log.debug("a"), log.warning("b")))],
                         ["debug", "warn"])

    def test_standard_logging_and_stdout(self):
        lg = logging.getLogger("torchish")
        lg.propagate = False
        lg.addHandler(HclogHandler())
        out = StdoutToLog(Logger())
        entries = self.capture(lambda: (lg.warning("slow %s", "disk"), out.write("a\nb"), out.flush()))
        self.assertEqual([(e["@level"], e["@message"]) for e in entries],
                         [("warn", "slow disk"), ("info", "stdout: a"), ("info", "stdout: b")])
        self.assertEqual(entries[0]["@module"], "torchish")
        self.assertFalse(any(re.search(r"\n", e["@message"]) for e in entries))


if __name__ == "__main__":
    unittest.main()
