//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "slo-sidecar: Linux only")
	os.Exit(1)
}
