package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/datasets"
)

// TestRebuildDigits runs the tool as `mkdata -only digits` and compares with the
// shipped file. It needs the go command and GoMNIST's data in the module cache.
func TestRebuildDigits(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir, err := goMNISTDir()
	if err != nil {
		t.Skipf("GoMNIST not available: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("GoMNIST data not available: %v", err)
	}
	out := t.TempDir()
	if err := run([]string{"-only", "digits", "-out", out}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(out, "digits.sgds.gz"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", datasets.ShippedFile("digits")))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("mkdata -only digits does not reproduce the shipped file")
	}
	if _, err := os.Stat(filepath.Join(out, "fashion.sgds.gz")); err == nil {
		t.Error("-only digits also wrote fashion")
	}
}

func TestFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-train", "2"}, "-train must be at least 3"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-nope"}, "not defined"},
		{[]string{"-digits", t.TempDir(), "-only", "digits", "-out", t.TempDir()}, "train-images-idx3-ubyte"},
	} {
		err := run(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("mkdata %v: error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
}
