package main

import (
	"fmt"
	"io"
)

func cmdPretrain(args []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "runner pretrain: not wired yet")
	return 1
}
