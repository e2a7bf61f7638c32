import unittest

import numpy as np

from retrieval import ranks, recall


class TestRecall(unittest.TestCase):
    def test_ties_are_pessimistic(self):
        sim = np.ones((3, 3))
        i2t, t2i = ranks(sim, [0, 1, 2], [0, 1, 2])
        self.assertEqual(i2t.tolist(), [3, 3, 3])
        r = recall(sim, [0, 1, 2], [0, 1, 2], ks=(1, 2, 3))
        self.assertEqual((r["i2t_r1"], r["i2t_r2"], r["i2t_r3"]), (0, 0, 100))

    def test_multi_positive(self):
        # image 0 owns texts 0 and 1, image 1 owns text 2
        sim = np.array([[0.1, 0.9, 0.5],
                        [0.2, 0.3, 0.4]])
        i2t, t2i = ranks(sim, [0, 1], [0, 0, 1])
        self.assertEqual(i2t.tolist(), [1, 1])  # image 0's best relevant text (0.9) beats text 2 (0.5)
        self.assertEqual(t2i.tolist(), [2, 1, 2])  # text 0: image 1 (0.2) beats its own image (0.1)

    def test_query_without_relevant_item_is_left_out(self):
        sim = np.array([[0.9, 0.1], [0.5, 0.4]])
        r = recall(sim, [0, 5], [0, 1], ks=(1,))
        self.assertEqual(r["i2t_r1"], 100)
        self.assertEqual(r["t2i_r1"], 100)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "NaN"):
            recall(np.array([[np.nan]]), [0], [0])
        with self.assertRaisesRegex(ValueError, "no i2t query"):
            recall(np.array([[1.0]]), [0], [1])


if __name__ == "__main__":
    unittest.main()
