package textrequest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// benchPage is a list body of n copies of the first item of a testdata page, as the API
// sends a page (DefaultPageSize items).
func benchPage(b *testing.B, file string, n int) []byte {
	b.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		b.Fatal(err)
	}
	var env struct{ Items []json.RawMessage }
	if err := json.Unmarshal(body, &env); err != nil {
		b.Fatal(err)
	}
	var page bytes.Buffer
	page.WriteString(`{"meta":{"page":0,"page_size":` + strconv.Itoa(n) + `,"total_items":1000},"items":[`)
	for i := range n {
		if i > 0 {
			page.WriteByte(',')
		}
		page.Write(env.Items[0])
	}
	page.WriteString("]}")
	return page.Bytes()
}

// BenchmarkDecodePage decodes a full page and maps every item, as a stream does per
// request.
func BenchmarkDecodePage(b *testing.B) {
	for _, tc := range []struct {
		file    string
		mapItem func(raw json.RawMessage) bool
	}{
		{"contacts.json", func(raw json.RawMessage) bool { _, rej := mapContact(121, raw, DefaultPhoneRegion); return rej == nil }},
		{"messages.json", func(raw json.RawMessage) bool { _, rej := mapMessage(121, "+1(555)-123-4567", raw); return rej == nil }},
	} {
		body := benchPage(b, tc.file, DefaultPageSize)
		b.Run(tc.file, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				items, _, err := decodeList(body)
				if err != nil || len(items) != DefaultPageSize {
					b.Fatal(err, len(items))
				}
				for _, raw := range items {
					if !tc.mapItem(raw) {
						b.Fatal("rejected")
					}
				}
			}
		})
	}
}
