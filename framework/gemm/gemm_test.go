package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naive computes beta·C + A·B in float64 as the reference.
func naive(m, n, k int, a []float32, ai, ap int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			s := 0.0
			if beta != 0 {
				s = float64(beta) * float64(c[i*ldc+j])
			}
			for p := range k {
				s += float64(a[i*ai+p*ap]) * float64(b[p*ldb+j])
			}
			out[i*n+j] = s
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func TestGemmAgainstNaive(t *testing.T) {
	kernels := map[string]func(int, *float32, *float32, int, *float32, int, int){"go": kernelGo, kernelName: kernel}
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {6, 16, 1}, {5, 15, 3}, {7, 17, 300}, {13, 40, 257}, {121, 33, 20},
		{10, 1000, 64}, {250, 70, 600}, {1, 37, 0}, {0, 5, 5},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for name, kern := range kernels {
		for _, s := range shapes {
			for _, trans := range []bool{false, true} {
				for _, beta := range []float32{0, 1, 0.5} {
					t.Run(fmt.Sprintf("%s/%dx%dx%d/trans=%v/beta=%g", name, s.m, s.n, s.k, trans, beta), func(t *testing.T) {
						saved := kernel
						kernel = kern
						defer func() { kernel = saved }()
						ldb, ldc := s.n+3, s.n+1
						a := randSlice(r, s.m*s.k+1)
						ai, ap := s.k, 1
						if trans {
							ai, ap = 1, s.m
						}
						b := randSlice(r, s.k*ldb+1)
						c := randSlice(r, s.m*ldc+1)
						if beta == 0 { // every element of C is overwritten, none read
							for i := range s.m {
								for j := range s.n {
									c[i*ldc+j] = float32(math.NaN())
								}
							}
						}
						want := naive(s.m, s.n, s.k, a, ai, ap, b, ldb, beta, c, ldc)
						Gemm(s.m, s.n, s.k, a, ai, ap, b, ldb, beta, c, ldc)
						for i := range s.m {
							for j := range s.n {
								got := float64(c[i*ldc+j])
								w := want[i*s.n+j]
								if tol := 1e-5 * (1 + math.Sqrt(float64(s.k))) * (1 + math.Abs(w)); math.Abs(got-w) > tol || math.IsNaN(got) {
									t.Fatalf("C[%d][%d] = %v, want %v", i, j, got, w)
								}
							}
							// Padding between rows of C is never written.
							for j := s.n; j < ldc && i*ldc+j < len(c); j++ {
								if math.IsNaN(float64(c[i*ldc+j])) {
									t.Fatalf("padding C[%d][%d] touched", i, j)
								}
							}
						}
					})
				}
			}
		}
	}
}

// TestBetaZeroIsAddingToZeros: beta = 0 stores the first block of the k loop instead
// of adding it to a cleared C; the bits must be those of adding to zeros (which is what
// Gemm computed before, and what keeps trained networks bit for bit).
func TestBetaZeroIsAddingToZeros(t *testing.T) {
	kernels := map[string]func(int, *float32, *float32, int, *float32, int, int){"go": kernelGo, kernelName: kernel}
	r := rand.New(rand.NewPCG(3, 4))
	for name, kern := range kernels {
		for _, s := range []struct{ m, n, k int }{{6, 16, 1}, {7, 17, 300}, {13, 40, 257}, {64, 700, 64}, {250, 70, 600}} {
			saved := kernel
			kernel = kern
			a, b := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n)
			// Zero products of both signs.
			for i := 0; i < len(a); i += 3 {
				a[i] = 0
			}
			for i := 0; i < len(b); i += 5 {
				b[i] = float32(math.Copysign(0, float64(b[i])))
			}
			set := make([]float32, s.m*s.n)
			for i := range set {
				set[i] = float32(math.NaN())
			}
			added := make([]float32, s.m*s.n)
			Gemm(s.m, s.n, s.k, a, s.k, 1, b, s.n, 0, set, s.n)
			Gemm(s.m, s.n, s.k, a, s.k, 1, b, s.n, 1, added, s.n)
			kernel = saved
			for i := range set {
				if math.Float32bits(set[i]) != math.Float32bits(added[i]) {
					t.Fatalf("%s %+v: C[%d] = %v with beta 0, %v added to zeros", name, s, i, set[i], added[i])
				}
			}
		}
	}
}

func TestGemmPackedAgainstNaive(t *testing.T) {
	for name, kern := range map[string]func(int, *float32, *float32, *float32){"go": kernel1Go, kernelName: kernel1} {
		saved := kernel1
		kernel1 = kern
		t.Run(name, testGemmPacked)
		kernel1 = saved
	}
}

func testGemmPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range []struct{ m, n, k int }{{1, 1, 1}, {1, 100, 600}, {1, 33, 1}, {1, 50, 2}, {1, 700, 3001}, {10, 37, 512}, {7, 16, 3}, {13, 300, 257}} {
		for _, beta := range []float32{0, 1} {
			ldb, ldc := s.n+2, s.n+5
			a := randSlice(r, s.m*s.k)
			b := randSlice(r, s.k*ldb)
			c := randSlice(r, s.m*ldc)
			want := naive(s.m, s.n, s.k, a, s.k, 1, b, ldb, beta, c, ldc)
			GemmPacked(s.m, a, s.k, 1, Pack(b, s.k, s.n, ldb), beta, c, ldc)
			for i := range s.m {
				for j := range s.n {
					if got, w := float64(c[i*ldc+j]), want[i*s.n+j]; math.Abs(got-w) > 1e-5*(1+math.Sqrt(float64(s.k)))*(1+math.Abs(w)) {
						t.Fatalf("%+v beta=%g: C[%d][%d] = %v, want %v", s, beta, i, j, got, w)
					}
				}
			}
		}
	}
}

func TestGemmPanicsOnShortSlices(t *testing.T) {
	cases := map[string]func(){
		"short A": func() { Gemm(2, 2, 2, make([]float32, 3), 2, 1, make([]float32, 4), 2, 0, make([]float32, 4), 2) },
		"short B": func() { Gemm(2, 2, 2, make([]float32, 4), 2, 1, make([]float32, 3), 2, 0, make([]float32, 4), 2) },
		"short C": func() { Gemm(2, 2, 2, make([]float32, 4), 2, 1, make([]float32, 4), 2, 0, make([]float32, 3), 2) },
		"ldb < n": func() { Gemm(2, 2, 2, make([]float32, 4), 2, 1, make([]float32, 4), 1, 0, make([]float32, 4), 2) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}

func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][2]int{{1, 1}, {3, 70}, {65, 33}} {
		src := randSlice(r, s[0]*s[1])
		dst := make([]float32, len(src))
		Transpose(dst, src, s[0], s[1])
		for i := range s[0] {
			for j := range s[1] {
				if dst[j*s[0]+i] != src[i*s[1]+j] {
					t.Fatalf("%v: dst[%d][%d] wrong", s, j, i)
				}
			}
		}
	}
}

func TestPackColumnsIsPackOfTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][2]int{{1, 1}, {5, 16}, {37, 3}, {33, 70}} {
		k, n := s[0], s[1]
		cols := make([][]float32, n)
		bt := make([]float32, 0, n*k)
		for j := range cols {
			cols[j] = randSlice(r, k)
			bt = append(bt, cols[j]...)
		}
		b := make([]float32, k*n)
		Transpose(b, bt, n, k)
		got, want := PackColumns(cols), Pack(b, k, n, n)
		if got.K != want.K || got.N != want.N || !slices.Equal(got.data, want.data) {
			t.Fatalf("%d×%d: PackColumns differs from Pack of the transpose", k, n)
		}
	}
}
