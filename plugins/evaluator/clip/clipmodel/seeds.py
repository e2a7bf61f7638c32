"""Seeds for every random choice, derived as the Go evaluators derive theirs: a purpose
and a key (a task, or the backbone's digest) mixed with a seed, so each choice has its own
stream and depends only on what it is for."""

MASK = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def fnv64a(data: bytes):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def derive(key: str, seed: int, purpose: str):
    """A 64-bit seed for purpose from key and seed."""
    h = fnv64a(key.encode() + b"\0" + purpose.encode())
    return splitmix64(h ^ splitmix64(seed & MASK))
