package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var known = map[string][]string{
	"leeloo":      {"people", "communication_channels", "messages", "orders"},
	"textrequest": {"dashboards", "contacts", "messages"},
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "schedules.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func TestLoadSchedules(t *testing.T) {
	t.Parallel()

	path := writeFile(t, `
timezone: Europe/Kyiv
jobs:
  - name: leeloo-frequent
    schedule: "*/15 * * * *"
    source: leeloo
    streams: [people, leeloo.messages]
    max_duration: 10m
  - name: tr
    schedule: "CRON_TZ=America/New_York 30 2 * * *"
    streams: [textrequest.contacts]
  - name: nightly
    schedule: "@every 1m"
    full_refresh: true
`)
	spec, err := LoadSchedules(path, known)
	require.NoError(t, err)
	require.Equal(t, "Europe/Kyiv", spec.Timezone)
	require.Equal(t, "Europe/Kyiv", spec.Location().String())
	require.Len(t, spec.Jobs, 3)
	j, ok := spec.Job("leeloo-frequent")
	require.True(t, ok)
	require.Equal(t, 10*time.Minute, j.MaxDuration.Std())
	require.Equal(t, []string{"leeloo.people", "leeloo.messages"}, j.QualifiedStreams())
	nightly, _ := spec.Job("nightly")
	require.True(t, nightly.FullRefresh)
	require.Nil(t, nightly.QualifiedStreams())
	tr, _ := spec.Job("tr")
	require.Equal(t, []string{"textrequest.contacts"}, tr.QualifiedStreams())
}

func TestDefaults(t *testing.T) {
	t.Parallel()

	spec, err := LoadSchedules(writeFile(t, "jobs:\n  - name: all\n    schedule: '@hourly'\n"), known)
	require.NoError(t, err)
	require.Equal(t, "UTC", spec.Timezone)
	require.Equal(t, time.UTC, spec.Location())
	require.Zero(t, spec.Jobs[0].MaxDuration)
}

func TestLoadSchedulesErrors(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name, body string
		want       []string
	}{
		{"bad cron", "jobs:\n  - name: people\n    schedule: '* *'\n",
			[]string{`schedules.yaml: job "people": schedule "* *": expected exactly 5 fields`}},
		{"bad descriptor", "jobs:\n  - name: people\n    schedule: '@fortnightly'\n",
			[]string{`job "people": schedule "@fortnightly"`}},
		{"bad CRON_TZ", "jobs:\n  - name: people\n    schedule: 'CRON_TZ=Mars/Olympus 0 * * * *'\n",
			[]string{`job "people": schedule "CRON_TZ=Mars/Olympus 0 * * * *"`}},
		{"missing schedule", "jobs:\n  - name: people\n",
			[]string{`job "people": schedule: required`}},
		{"missing name", "jobs:\n  - schedule: '@hourly'\n",
			[]string{`job #1: name: required`}},
		{"bad name", "jobs:\n  - name: People Sync\n    schedule: '@hourly'\n",
			[]string{`job "People Sync": name: use lowercase`}},
		{"duplicate name", "jobs:\n  - name: a\n    schedule: '@hourly'\n  - name: a\n    schedule: '@daily'\n",
			[]string{`job "a": name: defined twice`}},
		{"unknown source", "jobs:\n  - name: a\n    schedule: '@hourly'\n    source: twin\n",
			[]string{`job "a": source "twin": unknown; valid: leeloo, textrequest`}},
		{"unknown stream", "jobs:\n  - name: a\n    schedule: '@hourly'\n    source: leeloo\n    streams: [peeple]\n",
			[]string{`job "a": streams: "peeple": unknown leeloo stream; valid: communication_channels, messages, orders, people`}},
		{"unqualified stream without source", "jobs:\n  - name: a\n    schedule: '@hourly'\n    streams: [people]\n",
			[]string{`job "a": streams: "people": without a source`}},
		{"stream of unknown source", "jobs:\n  - name: a\n    schedule: '@hourly'\n    streams: [twin.clients]\n",
			[]string{`job "a": streams: "twin.clients": unknown source "twin"`}},
		{"stream twice", "jobs:\n  - name: a\n    schedule: '@hourly'\n    source: leeloo\n    streams: [people, leeloo.people]\n",
			[]string{`job "a": streams: "leeloo.people": listed twice`}},
		{"bad duration", "jobs:\n  - name: a\n    schedule: '@hourly'\n    max_duration: ten minutes\n",
			[]string{`line 4: duration "ten minutes"`}},
		{"negative duration", "jobs:\n  - name: a\n    schedule: '@hourly'\n    max_duration: -1m\n",
			[]string{`job "a": max_duration -1m0s: must not be negative`}},
		{"unknown key", "jobs:\n  - name: a\n    schedule: '@hourly'\n    stream: [people]\n",
			[]string{`schedules.yaml: line 4: unknown key "stream"; did you mean "streams"?`}},
		{"unknown key, no near match", "jobs:\n  - name: a\n    schedule: '@hourly'\n    cron: x\n",
			[]string{`line 4: unknown key "cron"; the keys here are name, schedule, source, streams`}},
		{"a list written as a word", "jobs:\n  - name: a\n    schedule: '@hourly'\n    streams: people\n",
			[]string{`line 4: want a list such as [a, b], got "people"`}},
		{"bad indent reported where it is", "timezone: UTC\njobs:\n  - name: a\n    schedule: '@hourly'\n   source: leeloo\n",
			[]string{`line 5: did not find expected '-' indicator (check the indentation`}},
		{"tab", "jobs:\n  - name: a\n\tschedule: '@hourly'\n",
			[]string{`line 3: found a tab character`}},
		{"bad timezone", "timezone: Nowhere/Land\njobs:\n  - name: a\n    schedule: '@hourly'\n",
			[]string{`timezone "Nowhere/Land": unknown IANA location`}},
		{"no jobs", "timezone: UTC\n", []string{`jobs: the list is empty`}},
		{"empty file", "", []string{`schedules.yaml: the file is empty`}},
		{"two problems reported together", "jobs:\n  - name: a\n    schedule: '* *'\n  - name: b\n    schedule: '@hourly'\n    source: nope\n",
			[]string{`job "a": schedule "* *"`, `job "b": source "nope"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadSchedules(writeFile(t, tc.body), known)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadSchedulesMissingFile(t *testing.T) {
	t.Parallel()

	_, err := LoadSchedules(filepath.Join(t.TempDir(), "nope.yaml"), known)
	require.ErrorContains(t, err, "read schedules")
}

func TestValidateWithoutKnown(t *testing.T) {
	t.Parallel()

	// nil known: only syntax is checked (for tools that lack the stream registry).
	spec, err := Parse([]byte("jobs:\n  - name: a\n    schedule: '@hourly'\n    source: anything\n    streams: [x]\n"))
	require.NoError(t, err)
	spec.SetDefaults()
	require.NoError(t, spec.Validate(nil))
}
