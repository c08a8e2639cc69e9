package textrequest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	require.ErrorContains(t, err, "Client is required")

	client := newTestClient(t, "http://127.0.0.1:1/api/v3", noLimit)
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"PageSize":    {Config{Client: client, PageSize: -1}, "PageSize"},
		"Ahead":       {Config{Client: client, Ahead: -2}, "Ahead"},
		"Concurrency": {Config{Client: client, Concurrency: -1}, "Concurrency"},
		"Lookback":    {Config{Client: client, Lookback: -time.Hour}, "Lookback"},
		"Dashboards":  {Config{Client: client, Dashboards: []int64{5, 0}}, "Dashboards"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}

	ex, err := New(Config{Client: client, Dashboards: []int64{7, 5, 7}})
	require.NoError(t, err)
	require.Equal(t, DefaultPageSize, ex.cfg.PageSize)
	require.Equal(t, 24*time.Hour, ex.cfg.Lookback)
	require.Equal(t, 24*time.Hour, ex.cfg.FullSweepEvery)
	require.Equal(t, []int64{5, 7}, ex.cfg.Dashboards)
	require.Len(t, ex.Streams(), 8)
}

func TestSweepDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	require.True(t, sweepDue(nil, now, time.Hour))
	require.True(t, sweepDue(timePtr(now.Add(-2*time.Hour)), now, time.Hour))
	require.False(t, sweepDue(timePtr(now.Add(-time.Minute)), now, time.Hour))
	require.False(t, sweepDue(timePtr(now.Add(-1000*time.Hour)), now, -1), "negative: never again")
}
