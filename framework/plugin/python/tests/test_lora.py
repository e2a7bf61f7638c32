"""The canonical flat order ([B; A] per module, row-major) and its views."""

import unittest

import numpy as np

from sglab_plugin import Adapter, Module, num_params
from sglab_plugin.lora import check_compatible, validate_schema

SCHEMA = [Module("q", 3, 4, 2, 4.0), Module("v", 5, 2, 1, 0.5)]


class TestAdapter(unittest.TestCase):
    def test_flat_order_matches_go(self):
        # Laid out by hand as framework/lora documents it.
        self.assertEqual(num_params(SCHEMA), 4 * 2 + 2 * 3 + 2 * 1 + 1 * 5)
        a = Adapter(SCHEMA, np.arange(num_params(SCHEMA)))
        np.testing.assert_array_equal(a.B(0), np.arange(0, 8).reshape(4, 2))
        np.testing.assert_array_equal(a.A(0), np.arange(8, 14).reshape(2, 3))
        np.testing.assert_array_equal(a.B(1), np.arange(14, 16).reshape(2, 1))
        np.testing.assert_array_equal(a.A(1), np.arange(16, 21).reshape(1, 5))
        self.assertEqual(a.params.dtype, np.float32)

    def test_views_write_through(self):
        a = Adapter.zeros(SCHEMA)
        a.A(1)[0, 4] = 7
        a.B(0)[3, 1] = 2
        self.assertEqual(a.params[20], 7)
        self.assertEqual(a.params[7], 2)

    def test_delta_w_is_scaled_b_times_a(self):
        a = Adapter(SCHEMA, np.random.default_rng(1).standard_normal(num_params(SCHEMA)))
        np.testing.assert_allclose(a.delta_w(0), 2.0 * a.B(0) @ a.A(0), rtol=1e-6)
        self.assertEqual(a.delta_w(1).shape, (2, 5))

    def test_wrong_length_is_refused(self):
        with self.assertRaisesRegex(ValueError, "20 values, schema needs 21"):
            Adapter(SCHEMA, np.zeros(20))

    def test_check_finite(self):
        a = Adapter.zeros(SCHEMA)
        a.check_finite()
        a.params[5] = np.nan
        with self.assertRaisesRegex(ValueError, "parameter 5 is nan"):
            a.check_finite()

    def test_schema_checks(self):
        validate_schema(SCHEMA)
        with self.assertRaisesRegex(ValueError, "appears twice"):
            validate_schema([SCHEMA[0], SCHEMA[0]])
        with self.assertRaisesRegex(ValueError, "must be positive"):
            validate_schema([Module("x", 0, 1, 1, 1.0)])
        with self.assertRaisesRegex(ValueError, "at module 1"):
            check_compatible(SCHEMA, [SCHEMA[0], Module("v", 5, 2, 1, 1.0)])


if __name__ == "__main__":
    unittest.main()
