package membw

import "testing"

func TestReadSums(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 33, 100, 4096*3 + 70} {
		buf := make([]float32, n)
		for i := range buf {
			buf[i] = float32(i % 5)
		}
		var want float32
		for _, v := range buf {
			want += v
		}
		if got := Read(buf); got != want {
			t.Errorf("n=%d: Read = %v, want %v", n, got, want)
		}
	}
}
