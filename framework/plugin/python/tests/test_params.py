"""Parameter rules: the same types, defaults and messages as Go's framework/params."""

import unittest

from sglab_plugin.params import Param, decode, go_g

PARAMS = [
    Param("top_k", 4, "experts kept"),
    Param("tau", 0.1, "softmax temperature"),
    Param("on", True, "a switch"),
    Param("mode", "concat", "how c enters"),
    Param("widths", [64, 32], "hidden widths"),
    Param("scales", [], "per-layer scales", type="[]float"),
]


class TestDecode(unittest.TestCase):
    def test_defaults_fill_missing_keys(self):
        values, errs = decode(PARAMS, {"tau": 0.5})
        self.assertEqual(errs, [])
        self.assertEqual(values, {"top_k": 4, "tau": 0.5, "on": True, "mode": "concat", "widths": [64, 32],
                                  "scales": []})

    def test_numbers_convert_as_in_go(self):
        # JSON has one number type: an integral float is an integer, an integer a float.
        values, errs = decode(PARAMS, {"top_k": 2.0, "tau": 1, "scales": [1, 2.5]})
        self.assertEqual(errs, [])
        self.assertIs(type(values["top_k"]), int)
        self.assertIs(type(values["tau"]), float)
        self.assertEqual(values["scales"], [1.0, 2.5])

    def test_errors_name_the_key(self):
        cases = [
            ({"topk": 1}, 'parameter "topk": unknown (known: mode, on, scales, tau, top_k, widths)'),
            ({"top_k": 1.5}, 'parameter "top_k": want an integer, got 1.5'),
            ({"top_k": "4"}, 'parameter "top_k": want an integer, got the string "4"'),
            ({"top_k": True}, 'parameter "top_k": want an integer, got true (bool)'),
            ({"tau": True}, 'parameter "tau": want a number, got true (bool)'),
            ({"tau": float("inf")}, 'parameter "tau": want a finite number, got inf'),
            ({"on": "yes"}, 'parameter "on": want a boolean, got the string "yes"'),
            ({"on": 1}, 'parameter "on": want a boolean, got 1 (int)'),
            ({"mode": None}, 'parameter "mode": want a string, got nothing'),
            ({"widths": 3}, 'parameter "widths": want a list, got 3 (int)'),
            ({"widths": ["x"]}, 'parameter "widths": element 0: want an integer, got the string "x"'),
            ({"mode": {"a": 1}}, 'parameter "mode": want a string, got a table'),
        ]
        for given, want in cases:
            with self.subTest(given=given):
                _, errs = decode(PARAMS, given)
                self.assertEqual(errs, [want])

    def test_every_problem_at_once_in_key_order(self):
        _, errs = decode(PARAMS, {"zz": 1, "tau": "x", "aa": 2})
        self.assertEqual([e.split(":")[0] for e in errs], ['parameter "aa"', 'parameter "tau"', 'parameter "zz"'])

    def test_defaults_are_not_shared(self):
        values, _ = decode(PARAMS, {})
        values["widths"].append(1)
        self.assertEqual(decode(PARAMS, {})[0]["widths"], [64, 32])


class TestParam(unittest.TestCase):
    def test_types_and_default_text_as_go_describes_them(self):
        cases = [
            (Param("a", 3, ""), "int", "3"),
            (Param("a", 0.1, ""), "float", "0.1"),
            (Param("a", 1.0, ""), "float", "1"),
            (Param("a", 2e-5, ""), "float", "2e-05"),
            (Param("a", 1, "", type="float"), "float", "1"),
            (Param("a", False, ""), "bool", "false"),
            (Param("a", 'say "hi"', ""), "string", '"say \\"hi\\""'),
            (Param("a", [0.5, 2], "", type="[]float"), "[]float", "[0.5, 2]"),
            (Param("a", ["x", "y"], ""), "[]string", '["x", "y"]'),
        ]
        for p, typ, text in cases:
            with self.subTest(p=p):
                self.assertEqual(p.type, typ)
                self.assertEqual(p.default_text(), text)

    def test_bad_declarations_fail_early(self):
        with self.assertRaisesRegex(ValueError, "cannot tell the type"):
            Param("a", [], "")
        with self.assertRaisesRegex(ValueError, "not one of"):
            Param("a", 1, "", type="complex")
        with self.assertRaisesRegex(ValueError, "want an integer"):
            Param("a", "x", "", type="int")

    def test_go_g(self):
        cases = {0.1: "0.1", 1e-4: "0.0001", 1e-5: "1e-05", 123456.0: "123456", 1234567.0: "1.234567e+06",
                 -3.25: "-3.25", 1e21: "1e+21", 0.0: "0"}
        for x, want in cases.items():
            self.assertEqual(go_g(x), want)


if __name__ == "__main__":
    unittest.main()


BOUNDED = [
    Param("top_k", 4, "experts kept", min=1),
    Param("tau", 0.1, "temperature", above=0),
    Param("density", 0.2, "kept share", above=0, max=1),
    Param("rate", 0.5, "drop rate", min=0, below=1),
    Param("mode", "best", "which", one_of=["none", "best", "all"]),
    Param("widths", [2, 8], "hidden widths", min=2),
]


class TestConstraints(unittest.TestCase):
    """The same table as framework/params' TestConstraints: the same messages."""

    def test_bounds_and_choices(self):
        cases = [
            ({"top_k": 1}, []),
            ({"top_k": 0}, ['parameter "top_k": must be at least 1, got 0']),
            ({"tau": 1e-9}, []),
            ({"tau": 0}, ['parameter "tau": must be greater than 0, got 0']),
            ({"tau": -2}, ['parameter "tau": must be greater than 0, got -2']),
            ({"density": 1}, []),
            ({"density": 1.5}, ['parameter "density": must be in (0, 1], got 1.5']),
            ({"rate": 1.0}, ['parameter "rate": must be in [0, 1), got 1']),
            ({"mode": "some"}, ['parameter "mode": must be one of "none", "best", "all", got "some"']),
            ({"widths": [2, 1]}, ['parameter "widths": element 1: must be at least 2, got 1']),
        ]
        for given, want in cases:
            with self.subTest(given=given):
                _, errs = decode(BOUNDED, given)
                self.assertEqual(errs, want)

    def test_all_at_once_and_bad_values_keep_defaults(self):
        values, errs = decode(BOUNDED, {"top_k": 0, "tau": -1, "mode": "x", "bogus": 1})
        self.assertEqual([e.split(":")[0] for e in errs],
                         ['parameter "bogus"', 'parameter "mode"', 'parameter "tau"', 'parameter "top_k"'])
        self.assertEqual((values["top_k"], values["tau"], values["mode"]), (4, 0.1, "best"))

    def test_bound_text_as_go_writes_it(self):
        p = Param("x", 0.5, "", above=0, max=1e-3 * 1000)
        self.assertEqual((p.bound_text("above"), p.bound_text("max"), p.bound_text("min")), ("0", "1", ""))
        self.assertEqual(Param("n", 3, "", min=1).bound_text("min"), "1")

    def test_malformed_constraints(self):
        cases = [
            (lambda: Param("n", 1, "", min=0.5), "is not an integer"),
            (lambda: Param("n", 1, "", min=True), "is not an integer"),
            (lambda: Param("x", 1.0, "", max=float("inf")), "is not a finite number"),
            (lambda: Param("s", "a", "", min=1), "bounds need int or float"),
            (lambda: Param("x", 1.0, "", one_of=["1"]), "one_of needs a string"),
            (lambda: Param("s", "a", "", one_of=["a", "a"]), "distinct, non-empty strings"),
            (lambda: Param("s", "a", "", one_of=[]), "distinct, non-empty strings"),
            (lambda: Param("x", 1.0, "", min=0, above=0), "min and above"),
            (lambda: Param("x", 0.5, "", max=1, below=1), "max and below"),
            (lambda: Param("n", 5, "", min=5, max=4), "no value lies between"),
            (lambda: Param("x", 1.0, "", above=1, max=1), "no value lies between"),
            (lambda: Param("n", 0, "", min=1), "default 0: must be at least 1, got 0"),
        ]
        for make, want in cases:
            with self.subTest(want=want):
                with self.assertRaises(ValueError) as ctx:
                    make()
                self.assertIn(want, str(ctx.exception))
