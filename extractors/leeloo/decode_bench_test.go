package leeloo

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// benchPage is a list body of n copies of item i of a testdata page.
func benchPage(b *testing.B, file string, i, n int) []byte {
	b.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		b.Fatal(err)
	}
	var env struct{ Data []json.RawMessage }
	if err := json.Unmarshal(body, &env); err != nil {
		b.Fatal(err)
	}
	var page bytes.Buffer
	page.WriteString(`{"data":[`)
	for k := range n {
		if k > 0 {
			page.WriteByte(',')
		}
		page.Write(env.Data[i])
	}
	page.WriteString(`],"meta":{"limit":` + strconv.Itoa(n) + `,"offset":0,"filteredCount":1000,"totalCount":1000},"status":1}`)
	return page.Bytes()
}

// BenchmarkDecodePage decodes a full page (DefaultPageSize items) and each item into its
// DTO, as a stream does per request.
func BenchmarkDecodePage(b *testing.B) {
	e := &Extractor{}
	for _, tc := range []struct {
		name, file string
		item       int
		decode     func(raw json.RawMessage) error
	}{
		{"messages", "chat_v2.json", 1, func(raw json.RawMessage) error { _, err := decode[Message](raw, "id"); return err }},
		{"people", "people.json", 0, func(raw json.RawMessage) error { _, err := decode[Person](raw, "id"); return err }},
		{"channels", "channels.json", 0, func(raw json.RawMessage) error { _, err := decode[Channel](raw, "id"); return err }},
	} {
		body := benchPage(b, tc.file, tc.item, DefaultPageSize)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				env, err := e.decodeEnvelope("/bench", body)
				if err != nil {
					b.Fatal(err)
				}
				items, err := listItems(env.Data, "")
				if err != nil || len(items) != DefaultPageSize {
					b.Fatal(err, len(items))
				}
				for _, raw := range items {
					if err := tc.decode(raw); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
