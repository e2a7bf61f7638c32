"""CLIP's byte-level BPE tokenizer, reading a merges file in the format of OpenAI's
bpe_simple_vocab_16e6.txt.gz (gzip text: a version line, then one merge "a b" a line,
most frequent first).

The vocabulary is laid out as CLIP's: the 256 byte symbols, the same with the end-of-word
marker "</w>", one token per merge, then <|startoftext|> and <|endoftext|>; a model with
vocabulary size V uses the first V − 514 merges. Text is cleaned as CLIP cleans it except
for ftfy's mojibake repair (not available here): HTML entities unescaped twice, Unicode
NFC, whitespace collapsed, lower case. Words are split as CLIP's pattern splits them
(contractions, runs of letters, single digits, runs of other symbols), with Unicode
categories standing in for the regex module's \\p{L} and \\p{N}."""

import gzip
import html
import unicodedata

SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
WORD_END = "</w>"
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def byte_symbols():
    """A printable character for each of the 256 bytes, in CLIP's vocabulary order: the
    printable Latin-1 bytes first, standing for themselves, then the others in byte order,
    taking code points from 256 up, so no byte maps to whitespace or a control character.
    The order fixes the ids: "a" is 64 and "a</w>" 320, as in CLIP."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in keep}
    for n, b in enumerate(b for b in range(256) if b not in table):
        table[b] = chr(256 + n)
    return table


def read_merges(path):
    """The merge pairs of a vocabulary file (gzip or plain text), in rank order."""
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = []
    for n, line in enumerate(lines[1:], start=2):  # line 1 is "#version: ..."
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: a merge line holds two symbols, got {line!r}")
        merges.append(tuple(parts))
    return merges


def _is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _category(ch):
    c = unicodedata.category(ch)
    if c[0] == "L":
        return "L"
    if c[0] == "N":
        return "N"
    if ch.isspace():
        return "S"
    return "O"


def split_words(text):
    """CLIP's pre-tokenisation of cleaned text: at each position the first of special
    token, contraction, letters+, one digit, other-symbols+ that matches; whitespace
    separates and is dropped."""
    out, i, n = [], 0, len(text)
    while i < n:
        for special in (SOT, EOT):
            if text.startswith(special, i):
                out.append(special)
                i += len(special)
                break
        else:
            if text[i] == "'":
                c = next((c for c in CONTRACTIONS if text.startswith(c, i)), None)
                if c:
                    out.append(c)
                    i += len(c)
                    continue
            kind = _category(text[i])
            if kind == "S":
                i += 1
                continue
            j = i + 1
            if kind == "L":
                while j < n and _category(text[j]) == "L":
                    j += 1
            elif kind == "O":
                while j < n and _category(text[j]) == "O":
                    j += 1
            out.append(text[i:j])
            i = j
    return out


def clean(text):
    text = html.unescape(html.unescape(text))
    text = unicodedata.normalize("NFC", text).strip()
    return " ".join(text.split()).lower()


class Tokenizer:
    def __init__(self, path, vocab_size):
        merges = read_merges(path)
        need = vocab_size - 2 * 256 - 2
        if need < 0:
            raise ValueError(f"vocabulary size {vocab_size} is below CLIP's 514 fixed tokens")
        if len(merges) < need:
            raise ValueError(f"{path} holds {len(merges)} merges; a vocabulary of {vocab_size} "
                             f"needs {need} (is it the model's vocabulary file?)")
        merges = merges[:need]
        self.bytes = byte_symbols()
        symbols = list(self.bytes.values())
        vocab = symbols + [s + WORD_END for s in symbols] + ["".join(m) for m in merges] + [SOT, EOT]
        self.encoder = {tok: i for i, tok in enumerate(vocab)}
        if len(self.encoder) != len(vocab):
            raise ValueError(f"{path}: merges repeat a token; the vocabulary would have fewer than {vocab_size} ids")
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.sot, self.eot = self.encoder[SOT], self.encoder[EOT]
        self.cache = {SOT: [SOT], EOT: [EOT]}

    def bpe(self, word):
        """The BPE symbols of one pre-tokenised word (already mapped to byte symbols)."""
        if word in self.cache:
            return self.cache[word]
        parts = list(word[:-1]) + [word[-1] + WORD_END]
        while len(parts) > 1:
            best, at = None, -1
            for k in range(len(parts) - 1):
                r = self.ranks.get((parts[k], parts[k + 1]))
                if r is not None and (best is None or r < best):
                    best, at = r, k
            if best is None:
                break
            pair = (parts[at], parts[at + 1])
            merged, k = [], 0
            while k < len(parts):  # merge every occurrence of the pair, left to right
                if k < len(parts) - 1 and (parts[k], parts[k + 1]) == pair:
                    merged.append(parts[k] + parts[k + 1])
                    k += 2
                else:
                    merged.append(parts[k])
                    k += 1
            parts = merged
        self.cache[word] = parts
        return parts

    def encode(self, text):
        ids = []
        for word in split_words(clean(text)):
            symbols = "".join(self.bytes[b] for b in word.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self.bpe(symbols))
        return ids

    def tokenize(self, texts, context):
        """A (len(texts), context) list of id rows: start, the text's ids, end, zeros. A text
        too long for the context is cut and keeps its end token last, as CLIP's
        tokenize(truncate=True) does."""
        rows = []
        for t in texts:
            ids = [self.sot] + self.encode(t) + [self.eot]
            if len(ids) > context:
                ids = ids[:context - 1] + [self.eot]
            rows.append(ids + [0] * (context - len(ids)))
        return rows
