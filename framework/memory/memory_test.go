package memory

import (
	"os"
	"testing"
)

func TestPhysical(t *testing.T) {
	n := Physical()
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		if n != 0 {
			t.Errorf("no /proc/meminfo, yet Physical() = %d", n)
		}
		return
	}
	if n < 1<<26 {
		t.Errorf("Physical() = %d bytes; a machine that runs these tests has more than 64 MiB", n)
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{512, "512 bytes"}, {3 << 20, "3.0 MiB"}, {5 << 29, "2.5 GiB"}} {
		if got := Format(c.n); got != c.want {
			t.Errorf("Format(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
