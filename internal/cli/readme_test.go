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

// TestREADMECommandsExist checks every crmsync command line the README shows (in shell
// blocks and in `code`): the command exists and each --flag it uses is one the
// command defines, so the README cannot drift from the CLI.
func TestREADMECommandsExist(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var lines []string
	inSh := false
	for line := range strings.SplitSeq(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
		case strings.HasPrefix(line, "```"):
			inSh = false
		case inSh:
			lines = append(lines, strings.TrimSpace(line))
		}
		for _, span := range strings.Split(line, "`")[1:] {
			lines = append(lines, span)
		}
	}
	help := map[string]string{}
	checked := 0
	for _, line := range lines {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(strings.ReplaceAll(line, `\|`, "|"))
		if len(fields) < 2 || (fields[0] != "crmsync" && fields[0] != "bin/crmsync") || strings.HasPrefix(fields[1], "<") {
			continue
		}
		cmd := fields[1]
		if _, ok := help[cmd]; !ok {
			r := cliRun(t.Context(), t, nil, cmd, "--help")
			require.Equal(t, exitOK, r.code, "README runs `crmsync %s`, which is not a command: %s", cmd, line)
			help[cmd] = r.stdout + r.stderr
		}
		for _, f := range fields[2:] {
			name, _, _ := strings.Cut(strings.Trim(f, "[]."), "=")
			if !strings.HasPrefix(name, "-") || name == "--help" {
				continue
			}
			flagLine := "  -" + strings.TrimLeft(name, "-")
			defined := strings.Contains(help[cmd], flagLine+" ") || strings.Contains(help[cmd], flagLine+"\n")
			require.True(t, defined, "README shows `%s`, but crmsync %s has no flag %s", line, cmd, name)
			checked++
		}
	}
	require.Positive(t, checked)
}
