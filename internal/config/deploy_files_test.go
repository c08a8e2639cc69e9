package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestDeployFilesAreYAML decodes every YAML file shipped with the repository
// (deploy/, docker-compose.yml, schedules.yaml) so a syntax slip is caught without
// kubectl or a Docker engine, and pins the settings operators rely on.
func TestDeployFilesAreYAML(t *testing.T) {
	t.Parallel()

	root := "../.."
	var files []string
	for _, pattern := range []string{"deploy/*/*.yaml", "deploy/*.yaml", "*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	docs := map[string][]map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, f)
			docs[filepath.Base(f)] = append(docs[filepath.Base(f)], doc)
		}
	}

	cron := docs["cronjob.yaml"]
	require.Len(t, cron, 1)
	require.Equal(t, "CronJob", cron[0]["kind"])
	spec := cron[0]["spec"].(map[string]any)
	require.Equal(t, "Forbid", spec["concurrencyPolicy"])
	pod := spec["jobTemplate"].(map[string]any)["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	require.Equal(t, true, pod["securityContext"].(map[string]any)["runAsNonRoot"])
	c := pod["containers"].([]any)[0].(map[string]any)
	require.Equal(t, "run", c["args"].([]any)[0])
	env := map[string]any{}
	for _, e := range c["env"].([]any) {
		env[e.(map[string]any)["name"].(string)] = e
	}
	for _, name := range []string{"DATABASE_URL", "LEELOO_AUTH_TOKEN_FILE", "TEXTREQUEST_API_KEY_FILE"} {
		require.Contains(t, env, name)
	}
	require.Contains(t, c, "resources")

	require.Equal(t, "Secret", docs["secret.example.yaml"][0]["kind"])

	compose := docs["docker-compose.yml"][0]["services"].(map[string]any)
	for _, svc := range []string{"postgres", "crmsync", "metabase", "simulator", "crmsync-simulated"} {
		require.Contains(t, compose, svc)
	}
}
