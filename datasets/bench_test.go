package datasets

import (
	"bytes"
	"io"
	"testing"

	"github.com/sglab/sglab/datasets/caption"
)

// BenchmarkLoad decodes and captions one shipped set (2,000 + 500 images).
func BenchmarkLoad(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Load(name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode decodes one shipped set without captions.
func BenchmarkDecode(b *testing.B) {
	for _, name := range Names() {
		raw, _ := shipped.ReadFile(ShippedFile(name))
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := decode(bytes.NewReader(raw)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCaption1000 measures and captions 1,000 images.
func BenchmarkCaption1000(b *testing.B) {
	for _, name := range Names() {
		s, err := Load(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				for i := range 1000 {
					e := &s.Train[i]
					m := caption.Measure(e.Image[:], Side, Side)
					_ = s.Thresholds.Caption(e.Label, s.Classes[e.Label], m)
				}
			}
		})
	}
}

// BenchmarkEncode writes one shipped set.
func BenchmarkEncode(b *testing.B) {
	s, err := Load("fashion")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := Encode(io.Discard, s); err != nil {
			b.Fatal(err)
		}
	}
}
