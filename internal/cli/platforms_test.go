package cli

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/config"
)

// TestPlatformsDeclareEverything checks each registered platform's declaration: the
// CLI relies on every field, and a new platform is added by its declaration alone.
func TestPlatformsDeclareEverything(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, p := range platforms {
		require.NotEmpty(t, p.Name)
		require.False(t, seen[p.Name], "platform %s registered twice", p.Name)
		seen[p.Name] = true
		require.NotEmpty(t, p.Title, p.Name)
		require.NotEmpty(t, p.Enable, p.Name)
		require.NotEmpty(t, p.Vars, p.Name)
		require.NotEmpty(t, p.Check.Path, p.Name)
		require.NotNil(t, p.Configure, p.Name)
		// Nothing set: the platform is disabled, without a complaint.
		r := config.NewEnvReader(func(string) string { return "" })
		require.Nil(t, p.Configure(r), p.Name)
		require.NoError(t, r.Err(), p.Name)
		descs := p.Streams()
		require.NotEmpty(t, descs, p.Name)
		for _, d := range descs {
			require.Equal(t, p.Name, d.Source, "stream %s", d.Name)
		}
	}
}
