package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/crmsync/crmsync/internal/config"
)

// The CLI passes the stream names its extractors register; a typo in the file is
// reported at start-up, naming the job and the field.
func ExampleLoadSchedules() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "schedules.yaml")
	_ = os.WriteFile(path, []byte(`
jobs:
  - name: leeloo-conversations
    schedule: "*/15 * * * *"
    source: leeloo
    streams: [people, mesages]
`), 0o600)

	known := map[string][]string{"leeloo": {"people", "messages"}}
	_, err := config.LoadSchedules(path, known)
	fmt.Println(err)
	// Output:
	// schedules.yaml: job "leeloo-conversations": streams: "mesages": unknown leeloo stream; valid: messages, people
}
