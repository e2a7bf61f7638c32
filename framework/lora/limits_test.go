package lora

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHeaderBounds: a header within the length limit but with more tensors than
// MaxTensors, or a key longer than MaxKeyLen, is refused quickly; the writer refuses
// to write what the reader would refuse.
func TestHeaderBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i <= MaxTensors; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`, i)
	}
	b.WriteString("}")
	start := time.Now()
	if _, _, err := DecodeSafetensors(rawFile(b.String(), nil)); err == nil || !strings.Contains(err.Error(), "more than 100000 tensors") {
		t.Errorf("too many tensors: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %s", d)
	}
	long := strings.Repeat("k", MaxKeyLen+1)
	for name, hdr := range map[string]string{
		"tensor name":  `{"` + long + `":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`,
		"metadata key": `{"__metadata__":{"` + long + `":"v"}}`,
	} {
		if _, _, err := DecodeSafetensors(rawFile(hdr, nil)); err == nil || !strings.Contains(err.Error(), "at most 1024") {
			t.Errorf("%s: %v", name, err)
		}
	}
	var sb strings.Builder
	if err := EncodeSafetensors(&sb, []Tensor{{Name: long, Shape: []int{1}, Data: []float32{1}}}, nil); err == nil {
		t.Error("wrote a tensor name no reader accepts")
	}
}
