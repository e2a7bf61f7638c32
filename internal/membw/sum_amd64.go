package membw

import "golang.org/x/sys/cpu"

// sum32AVX adds blocks of 32 floats of x[0:32·blocks] into eight lanes and returns
// their sum.
//
//go:noescape
func sum32AVX(x *float32, blocks int) float32

func init() {
	if cpu.X86.HasAVX {
		sum = func(x []float32) float32 {
			blocks := len(x) / 32
			if blocks == 0 {
				return sumGo(x)
			}
			return sum32AVX(&x[0], blocks) + sumGo(x[blocks*32:])
		}
	}
}
