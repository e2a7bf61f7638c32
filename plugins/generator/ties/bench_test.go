package ties

import (
	"context"
	"fmt"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/library/librarytest"
)

// BenchmarkGeneratePaper merges the top-4 of 100 paper-scale experts (36 modules of
// 768×768 at rank 2, P = 110,592) in factor space and in ΔW space, where every module
// needs four 768×768 products and a 768×768 SVD.
func BenchmarkGeneratePaper(b *testing.B) {
	lib, err := librarytest.New(librarytest.Options{Schema: librarytest.Schema(36, 768, 768, 2), Experts: 100, Snapshots: 2, Dim: 64, Pool: 1 << 22}, 1)
	if err != nil {
		b.Fatal(err)
	}
	target := lib.Experts[0].Embedding
	for _, space := range []string{"factor", "delta"} {
		g := New()
		if err := g.Configure(context.Background(), plugin.Params{"space": space}); err != nil {
			b.Fatal(err)
		}
		if err := g.FitLibrary(context.Background(), lib, 1); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("space=%s", space), func(b *testing.B) {
			for b.Loop() {
				if _, err := g.Generate(context.Background(), target, 1, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
