package lora_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sglab/sglab/framework/lora"
)

// An evaluator writes an expert's last epochs as one snapshots file; a generator reads
// them back with the schema they were trained under.
func ExampleWriteSnapshots() {
	dir, err := os.MkdirTemp("", "snapshots")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s := lora.Schema{
		{Name: "blocks.0.attn.q_proj", In: 4, Out: 4, Rank: 2, Alpha: 2},
		{Name: "blocks.0.attn.v_proj", In: 4, Out: 4, Rank: 2, Alpha: 2},
	}
	snaps := [][]float32{make([]float32, s.NumParams()), make([]float32, s.NumParams())}
	snaps[1][0] = 0.5
	path := filepath.Join(dir, "expert.safetensors")
	if err := lora.WriteSnapshots(path, s, snaps, map[string]string{"task": "mnist/rotate(45)"}); err != nil {
		log.Fatal(err)
	}

	got, read, meta, err := lora.ReadSnapshots(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(read), "snapshots of", got.NumParams(), "parameters; task", meta["task"])
	fmt.Println("compatible:", got.Compatible(s) == nil, "first value of snapshot 1:", read[1][0])
	// Output:
	// 2 snapshots of 32 parameters; task mnist/rotate(45)
	// compatible: true first value of snapshot 1: 0.5
}
