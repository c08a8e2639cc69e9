package cli

import (
	"context"
	"fmt"
	"io"
)

// cmdDemo is a placeholder until the ops helper's demo.go lands (it replaces this file).
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "crmsync demo: not yet")
	return exitFailed
}
