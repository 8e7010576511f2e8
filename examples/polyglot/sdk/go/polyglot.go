// Package polyglot is a small Go SDK for the polyglot engine.
// Its version is the git tag sdk/go/vX.Y.Z; nothing in the source carries it.
package polyglot

import "fmt"

// Add adds two numbers, saturating instead of overflowing.
func Add(a, b int64) int64 {
	s := a + b
	if a > 0 && b > 0 && s < 0 {
		return 1<<63 - 1
	}
	if a < 0 && b < 0 && s >= 0 {
		return -1 << 63
	}
	return s
}

// Greet returns a greeting for name.
func Greet(name string) string {
	return fmt.Sprintf("Hello, %s!", name)
}
