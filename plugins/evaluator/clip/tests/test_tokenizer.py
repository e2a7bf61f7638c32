import gzip
import os
import tempfile
import unittest

from clipmodel.tokenizer import Tokenizer, byte_symbols, clean, read_merges, split_words

from . import TINY_VOCAB


class TestBytes(unittest.TestCase):
    def test_symbols(self):
        t = byte_symbols()
        self.assertEqual(len(set(t.values())), 256)
        self.assertTrue(all(not c.isspace() and c.isprintable() for c in t.values()))
        self.assertEqual(t[ord("a")], "a")
        self.assertEqual(t[ord(" ")], "Ġ")  # byte 32 is the 33rd non-printable: 256 + 32
        # CLIP's ids: printable bytes first, so "a" is 64.
        self.assertEqual(list(t.values()).index("a"), 64)


class TestSplit(unittest.TestCase):
    def test_pattern(self):
        cases = {
            "a photo of a dog": ["a", "photo", "of", "a", "dog"],
            "don't stop": ["don", "'t", "stop"],
            "it's 2024!!": ["it", "'s", "2", "0", "2", "4", "!!"],
            "hello,world": ["hello", ",", "world"],
            "café au lait": ["café", "au", "lait"],
            "''s": ["''", "s"],
            "<|startoftext|>hi<|endoftext|>": ["<|startoftext|>", "hi", "<|endoftext|>"],
            "x² y": ["x", "²", "y"],
        }
        for text, want in cases.items():
            self.assertEqual(split_words(text), want, text)

    def test_clean(self):
        self.assertEqual(clean("  A  Dog&amp;amp;Cat\n "), "a dog&cat")


class TestTokenizer(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.vocab = os.path.join(self.dir.name, "v.txt.gz")
        merges = ["d o", "do g</w>", "c a", "ca t</w>", "a </w>"]  # note: "a </w>" never applies ("a</w>" is one symbol)
        with gzip.open(self.vocab, "wt", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(merges) + "\n")

    def tearDown(self):
        self.dir.cleanup()

    def test_ids_follow_clip_layout(self):
        t = Tokenizer(self.vocab, 512 + 4 + 2)  # uses the first 4 merges
        self.assertEqual((t.sot, t.eot), (516, 517))
        self.assertEqual(t.encode("a"), [320])  # "a</w>": 256 + 64, as in CLIP
        # dog: d o g</w> -> do g</w> (merge 0) -> dog</w> (merge 1) = id 512 + 1
        self.assertEqual(t.encode("dog"), [513])
        self.assertEqual(t.encode("cat dog"), [515, 513])
        self.assertEqual(t.encode("dogs"), [512, ord("g") - 33, 256 + ord("s") - 33])  # do g s</w>

    def test_pad_and_truncate(self):
        t = Tokenizer(self.vocab, 518)
        self.assertEqual(t.tokenize(["dog"], 5), [[516, 513, 517, 0, 0]])
        self.assertEqual(t.tokenize(["a a a a a"], 4), [[516, 320, 320, 517]])

    def test_vocabulary_size_checked(self):
        with self.assertRaisesRegex(ValueError, "holds 5 merges; a vocabulary of 600 needs 86"):
            Tokenizer(self.vocab, 600)

    def test_fixture_vocabulary(self):
        merges = read_merges(TINY_VOCAB)
        self.assertGreaterEqual(len(merges), 100)
        t = Tokenizer(TINY_VOCAB, 614)
        ids = t.tokenize(["a photo of a star"], 24)[0]
        self.assertEqual(ids[0], 612)
        self.assertIn(613, ids)
        self.assertTrue(all(i < 614 for i in ids))


if __name__ == "__main__":
    unittest.main()
