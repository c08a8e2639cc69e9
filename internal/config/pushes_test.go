package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadPushes(t *testing.T) {
	t.Parallel()

	body := "jobs:\n  - name: a\n    schedule: '@hourly'\n" +
		"pushes:\n" +
		"  - name: lead-comments\n" +
		"    destination: calltouch-lead-comments\n" +
		"    query: select 1\n" +
		"  - name: twin-status\n" +
		"    destination: twin-client-attributes\n" +
		"    schedule: '*/30 * * * *'\n" +
		"    max_attempts: 3\n" +
		"    create_attributes: true\n" +
		"    query: |\n      select client_id, attribute, value from v\n"
	spec, err := LoadSchedules(writeFile(t, body), known)
	require.NoError(t, err)
	require.Len(t, spec.Pushes, 2)
	p := spec.Pushes[0]
	require.Equal(t, Push{Name: "lead-comments", Destination: DestCalltouchComments, Query: "select 1",
		MaxAttempts: DefaultMaxAttempts, Line: 5}, p)
	p, ok := spec.Push("twin-status")
	require.True(t, ok)
	require.Equal(t, 3, p.MaxAttempts)
	require.True(t, p.CreateAttributes)
	require.Equal(t, 8, p.Line)

	// A file of pushes alone is valid.
	_, err = LoadSchedules(writeFile(t, "pushes:\n  - name: p\n    destination: twin-client-attributes\n    query: select 1\n"), known)
	require.NoError(t, err)
}

func TestLoadPushesErrors(t *testing.T) {
	t.Parallel()

	head := "jobs:\n  - name: a\n    schedule: '@hourly'\npushes:\n"
	cases := []struct {
		name string
		body string
		want []string
	}{
		{"missing query", "  - name: p\n    destination: calltouch-lead-comments\n",
			[]string{`schedules.yaml: line 5: push "p": query: required`}},
		{"unknown destination", "  - name: p\n    destination: amo\n    query: select 1\n",
			[]string{`line 5: push "p": destination "amo": unknown; valid: calltouch-lead-comments, twin-client-attributes`}},
		{"missing destination and name", "  - query: select 1\n",
			[]string{`line 5: push #1: name: required`, `line 5: push #1: destination: required`}},
		{"name of a job", "  - name: a\n    destination: calltouch-lead-comments\n    query: select 1\n",
			[]string{`line 5: push "a": name: already used`}},
		{"bad schedule", "  - name: p\n    destination: calltouch-lead-comments\n    query: select 1\n    schedule: every day\n",
			[]string{`line 5: push "p": schedule "every day"`}},
		{"negative attempts", "  - name: p\n    destination: calltouch-lead-comments\n    query: select 1\n    max_attempts: -1\n",
			[]string{`push "p": max_attempts -1: want at least 1`}},
		{"create_attributes on calltouch", "  - name: p\n    destination: calltouch-lead-comments\n    query: select 1\n    create_attributes: true\n",
			[]string{`push "p": create_attributes: only for destination twin-client-attributes`}},
		{"unknown key", "  - name: p\n    destination: calltouch-lead-comments\n    sql: select 1\n",
			[]string{`line 7: unknown key "sql"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadSchedules(writeFile(t, head+tc.body), known)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}
