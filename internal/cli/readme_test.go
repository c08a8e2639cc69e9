package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEListsEveryVariable keeps README's configuration table in step with EnvVars:
// every variable the CLI reads has a row there, with its default.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	rows := map[string]string{}
	for line := range strings.SplitSeq(string(readme), "\n") {
		if name, rest, ok := strings.Cut(strings.TrimPrefix(line, "| `"), "` |"); ok && strings.HasPrefix(line, "| `") {
			rows[name] = rest
		}
	}
	for _, v := range EnvVars {
		row, ok := rows[v.Name]
		require.True(t, ok, "README.md's configuration table has no row for %s", v.Name)
		if v.Default != "" && !strings.HasPrefix(v.Default, "required") && !strings.HasPrefix(v.Default, "unset") &&
			!strings.Contains(v.Default, " ") {
			require.Contains(t, row, "`"+v.Default+"`", "README.md's row for %s does not show its default", v.Name)
		}
	}
}
