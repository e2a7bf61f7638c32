// Package memory tells how much memory this machine has, so that the runner and the
// plugins can refuse, with a message, work that could only end in an out-of-memory
// crash (a library too big to load, a network too wide to allocate).
package memory

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Physical is the machine's memory in bytes (MemTotal of /proc/meminfo), or 0 when
// unknown; callers skip their check then.
func Physical() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// Format writes a byte count for people: GiB, MiB or bytes.
func Format(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
