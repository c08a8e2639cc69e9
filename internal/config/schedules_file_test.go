package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRepoSchedulesFile checks the schedules.yaml shipped at the repository root: it
// decodes strictly and every schedule parses. internal/cli checks its stream names
// against the registered extractors.
func TestRepoSchedulesFile(t *testing.T) {
	t.Parallel()

	spec, err := LoadSchedules("../../schedules.yaml", nil)
	require.NoError(t, err)
	require.NotEmpty(t, spec.Jobs)
}
