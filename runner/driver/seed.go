package driver

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
)

// deriveSeed gives every piece of work its own seed from the experiment seed and the
// names of what it is (split, task, method, sample...), so numbers never depend on the
// order or the parallelism in which work runs.
func deriveSeed(seed uint64, parts ...any) uint64 {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", seed)
	for _, p := range parts {
		fmt.Fprintf(&b, "\x00%v", p)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return binary.LittleEndian.Uint64(sum[:8])
}
