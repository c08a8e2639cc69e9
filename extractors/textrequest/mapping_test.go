package textrequest

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// readPage decodes a testdata page the way the extractor does.
func readPage(t *testing.T, name string) []json.RawMessage {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	items, _, err := decodeList(body)
	require.NoError(t, err)
	return items
}

// rendered is a mapping result in a reviewable form: rows by column name (raw left out:
// it is the input), and rejects.
type rendered struct {
	Rows    map[string][]map[string]any `json:"rows"`
	Rejects []map[string]string         `json:"rejects"`
}

func render(t *testing.T, descTables []stream.Table, b stream.Batch) rendered {
	t.Helper()
	out := rendered{Rows: map[string][]map[string]any{}}
	for _, tbl := range descTables {
		for _, row := range b.Rows[tbl.Name] {
			require.Len(t, row, len(tbl.Columns), "row width of %s", tbl.Name)
			m := map[string]any{}
			for i, c := range tbl.Columns {
				if c.Name == "raw" {
					require.True(t, json.Valid(row[i].(json.RawMessage)))
					continue
				}
				v := row[i]
				if tm, ok := v.(time.Time); ok {
					v = tm.Format(time.RFC3339Nano)
				}
				m[c.Name] = v
			}
			out.Rows[tbl.Name] = append(out.Rows[tbl.Name], m)
		}
	}
	for _, r := range b.Rejects {
		out.Rejects = append(out.Rejects, map[string]string{"table": r.Table, "reason": r.Reason})
	}
	return out
}

// checkGolden compares got with testdata/name.golden.json (rewritten with -update). On a
// mismatch it writes name.golden.json.FAIL beside it for a diff.
func checkGolden(t *testing.T, name string, got rendered) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	b = append(b, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, b, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	if string(want) != string(b) {
		_ = os.WriteFile(path+".FAIL", b, 0o644)
		require.Equal(t, string(want), string(b), "mapping of %s changed; diff %s %s.FAIL", name, path, path)
	}
}

func TestMappingGolden(t *testing.T) {
	t.Parallel()
	const dash = int64(121)
	cases := []struct {
		name   string
		tables []stream.Table
		batch  func(items []json.RawMessage) stream.Batch
	}{
		{"dashboards", []stream.Table{dashboardsTable}, func(items []json.RawMessage) stream.Batch {
			return mapPage(0, items, dashboardsTable, func(_ int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
				row, _, rej := mapDashboard(raw)
				return row, rej
			})
		}},
		{"contacts", []stream.Table{contactsTable, contactTagsTable, contactGroupsTable, contactCustomFieldsTable}, func(items []json.RawMessage) stream.Batch {
			return contactsBatch(dash, items, DefaultPhoneRegion).batch()
		}},
		{"messages", []stream.Table{messagesTable}, func(items []json.RawMessage) stream.Batch {
			return mapPage(dash, items, messagesTable, func(d int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
				rec, rej := mapMessage(d, "+1(555)-123-4567", raw)
				if rej != nil {
					return nil, rej
				}
				return rec.Row, nil
			})
		}},
		{"conversations", []stream.Table{conversationsTable}, func(items []json.RawMessage) stream.Batch {
			return mapPage(dash, items, conversationsTable, func(d int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
				return mapConversation(d, raw, DefaultPhoneRegion)
			})
		}},
		{"payments", []stream.Table{paymentsTable}, func(items []json.RawMessage) stream.Batch {
			return mapPage(dash, items, paymentsTable, func(d int64, raw json.RawMessage) (stream.Row, *stream.Reject) {
				rec, rej := mapPayment(d, raw, DefaultPhoneRegion)
				if rej != nil {
					return nil, rej
				}
				return rec.Row, nil
			})
		}},
		{"groups", []stream.Table{groupsTable}, func(items []json.RawMessage) stream.Batch {
			return mapPage(dash, items, groupsTable, mapGroup)
		}},
		{"tags", []stream.Table{tagsTable}, func(items []json.RawMessage) stream.Batch {
			return mapPage(dash, items, tagsTable, mapTag)
		}},
		{"fields", []stream.Table{customFieldsTable}, func(items []json.RawMessage) stream.Batch {
			return mapPage(dash, items, customFieldsTable, mapCustomField)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			items := readPage(t, tc.name+".json")
			checkGolden(t, tc.name, render(t, tc.tables, tc.batch(items)))
		})
	}
}

func TestMapContact(t *testing.T) {
	t.Parallel()
	items := readPage(t, "contacts.json")
	col := func(row stream.Row, name string) any { return row[columnIndex[tblContacts][name]] }

	t.Run("FullRecord", func(t *testing.T) {
		t.Parallel()
		rec, rej := mapContact(121, items[0], DefaultPhoneRegion)
		require.Nil(t, rej)
		require.Equal(t, "+1(555)-123-4567", rec.Phone)
		require.Equal(t, "15551234567", col(rec.Row, "phone_digits"))
		// With Z, without Z and with fractional seconds all read as UTC.
		require.Equal(t, time.Date(2026, 10, 1, 9, 15, 0, 123e6, time.UTC), col(rec.Row, "first_contact_utc"))
		require.Equal(t, time.Date(2026, 10, 30, 16, 59, 1, 5e8, time.UTC), col(rec.Row, "last_msg_received_utc"))
		require.Equal(t, time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC), col(rec.Row, "date_created_utc"))
		require.Equal(t, int64(7), col(rec.Row, "total_msgs_received"), "a number sent as a string")
		require.Equal(t, "m-100", col(rec.Row, "last_message_id"))
		require.Equal(t, []string{"https://cdn.example/a.png"}, col(rec.Row, "last_message_mms_media"))
		require.Nil(t, col(rec.Row, "suppressed_reason"))
		require.Len(t, rec.Tags, 1, "a repeated tag is linked once")
		require.Len(t, rec.Groups, 2, "a repeated group is linked once")
		require.Equal(t, []stream.Row{
			{int64(121), "+1(555)-123-4567", "1f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "gold"},
			{int64(121), "+1(555)-123-4567", "2f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", nil},
		}, rec.Fields)
		require.JSONEq(t, string(items[0]), string(col(rec.Row, "raw").(json.RawMessage)), "raw keeps unknown fields")
		require.False(t, rec.Silent)
	})
	t.Run("Nulls", func(t *testing.T) {
		t.Parallel()
		rec, rej := mapContact(121, items[1], DefaultPhoneRegion)
		require.Nil(t, rej)
		for _, c := range []string{"first_name", "last_name", "display_name", "note", "first_contact_utc", "last_contact_date_utc", "last_message_id"} {
			require.Nil(t, col(rec.Row, c), c)
		}
		require.Equal(t, true, col(rec.Row, "is_suppressed"), `"true" as a string`)
		require.Equal(t, false, col(rec.Row, "is_archived"), `"False" as a string`)
		require.Equal(t, false, col(rec.Row, "is_blocked"), "0")
		require.Equal(t, time.Date(2026, 10, 2, 8, 0, 0, 0, time.UTC), col(rec.Row, "opted_out_utc"), "offset converted to UTC")
		require.Equal(t, []int64{40472}, col(rec.Row, "groups"))
		require.Equal(t, []string{}, col(rec.Row, "contact_tags"), "an empty list is not NULL")
		require.True(t, rec.Silent, "no traffic at all")
		require.Empty(t, rec.Tags)
	})
	t.Run("BadTypesReject", func(t *testing.T) {
		t.Parallel()
		for i, want := range map[int]string{
			2: "field total_msgs_sent: want an integer",
			3: "field phone_number: missing",
			4: "field last_contact_date_utc: want a timestamp",
			5: "not a JSON object",
		} {
			_, rej := mapContact(121, items[i], DefaultPhoneRegion)
			require.NotNil(t, rej, "item %d", i)
			require.Equal(t, tblContacts, rej.Table)
			require.Contains(t, rej.Reason, want)
			require.Equal(t, []byte(items[i]), rej.Payload)
		}
	})
}

func TestMapMessageDerivedID(t *testing.T) {
	t.Parallel()
	items := readPage(t, "messages.json")
	a, rej := mapMessage(121, "+1(555)-123-4567", items[1])
	require.Nil(t, rej)
	// The derivation is documented on derivedMessageID; pin it so it never changes
	// silently (a change would duplicate every id-less message in the warehouse).
	want := derivedMessageID(121, "15551234567", "2026-10-30T17:00:00Z", "S", "No id here")
	require.Equal(t, want, a.Key)
	require.Len(t, want, len("sha256:")+64)
	b, _ := mapMessage(121, "+1(555)-123-4567", items[1])
	require.Equal(t, a.Key, b.Key, "stable across runs")
	other, _ := mapMessage(122, "+1(555)-123-4567", items[1])
	require.NotEqual(t, a.Key, other.Key, "the dashboard is part of the key")
	require.Equal(t, true, a.Row[columnIndex[tblMessages]["message_id_derived"]])

	n, rej := mapMessage(121, "4239876543", items[2])
	require.Nil(t, rej)
	require.Contains(t, n.Key, "sha256:", "null id is derived too")

	num, rej := mapMessage(121, "4239876543", items[3])
	require.Nil(t, rej)
	require.Equal(t, "12345", num.Key, "a numeric id is kept as text")
	require.Equal(t, false, num.Row[columnIndex[tblMessages]["message_id_derived"]])

	_, rej = mapMessage(121, "4239876543", items[4])
	require.NotNil(t, rej)
	require.Contains(t, rej.Reason, "field body: want a string")
}

func TestDerivedMessageIDFixed(t *testing.T) {
	t.Parallel()
	// sha256("1\x1f15551234567\x1f2026-10-30T17:00:00Z\x1fS\x1fhi")
	got := derivedMessageID(1, "15551234567", "2026-10-30T17:00:00Z", "S", "hi")
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, got)
	require.Equal(t, got, derivedMessageID(1, "15551234567", "2026-10-30T17:00:00Z", "S", "hi"))
	require.NotEqual(t, got, derivedMessageID(1, "15551234567", "2026-10-30T17:00:00.000Z", "S", "hi"),
		"the timestamp is taken as returned")
}

func TestMapPaymentMoney(t *testing.T) {
	t.Parallel()
	items := readPage(t, "payments.json")
	col := func(row stream.Row, name string) any { return row[columnIndex[tblPayments][name]] }
	p, rej := mapPayment(121, items[0], DefaultPhoneRegion)
	require.Nil(t, rej)
	require.Equal(t, "1499.99", col(p.Row, "amount_requested"))
	require.Equal(t, "15551234567", col(p.Row, "customer_phone_digits"))
	p, rej = mapPayment(121, items[1], DefaultPhoneRegion)
	require.Nil(t, rej)
	require.Equal(t, int64(2511), col(p.Row, "payment_id"))
	require.Equal(t, "20.50", col(p.Row, "amount_requested"))
	require.Nil(t, col(p.Row, "recipient"))
	_, rej = mapPayment(121, items[2], DefaultPhoneRegion)
	require.Contains(t, rej.Reason, "field amount_requested")
	_, rej = mapPayment(121, items[3], DefaultPhoneRegion)
	require.Contains(t, rej.Reason, "field is_past_due")
	_, rej = mapPayment(121, items[4], DefaultPhoneRegion)
	require.Contains(t, rej.Reason, "field payment_id: missing")
}

func TestDecodeList(t *testing.T) {
	t.Parallel()
	items, total, err := decodeList([]byte(`{"meta":{"page":0,"page_size":50,"total_items":"3"},"items":[{"a":1}]}`))
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, 3, total, "total sent as a string")

	items, total, err = decodeList([]byte(`{"items":[{"a":1}]}`))
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, unknownTotal, total, "no meta")

	items, _, err = decodeList([]byte(`{"meta":{"total_items":0},"items":null}`))
	require.NoError(t, err)
	require.Empty(t, items)

	items, total, err = decodeList([]byte(`[{"id":"x"}]`))
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, 1, total, "bare array")

	_, _, err = decodeList([]byte(`{"items":{"a":1}}`))
	require.Error(t, err)
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	require.Equal(t, "INVALID_API_KEY", ErrorCode([]byte(`{"status":401,"message":"bad key","errorCode":"INVALID_API_KEY"}`)))
	require.Equal(t, "42", ErrorCode([]byte(`{"errorCode":42}`)))
	require.Empty(t, ErrorCode([]byte(`{"status":500}`)))
	require.Empty(t, ErrorCode([]byte(`<html>`)))
	require.Empty(t, ErrorCode(nil))
}

func TestContactPath(t *testing.T) {
	t.Parallel()
	require.Equal(t, "/dashboards/7/contacts/+1(555)-123-4567", contactPath(7, "+1(555)-123-4567"))
	require.True(t, pathSafe("+1(555)-123-4567"))
	require.False(t, pathSafe("555/123"))
}

func TestDetectOrder(t *testing.T) {
	t.Parallel()
	msg := func(ts ...string) []json.RawMessage {
		var out []json.RawMessage
		for _, s := range ts {
			out = append(out, json.RawMessage(`{"message_timestamp_utc":"`+s+`"}`))
		}
		return out
	}
	require.Equal(t, orderAsc, detectOrder(msg("2026-10-01T00:00:00Z", "2026-10-01T00:00:00", "2026-10-02T00:00:00.5Z")))
	require.Equal(t, orderDesc, detectOrder(msg("2026-10-02T00:00:00Z", "2026-10-01T00:00:00Z")))
	require.Equal(t, orderUnknown, detectOrder(msg("2026-10-02T00:00:00Z")))
	require.Equal(t, orderUnknown, detectOrder(msg("2026-10-02T00:00:00Z", "2026-10-02T00:00:00Z")))
	require.Equal(t, orderUnknown, detectOrder(msg("2026-10-01T00:00:00Z", "2026-10-03T00:00:00Z", "2026-10-02T00:00:00Z")))
	cut := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	require.True(t, olderThan(msg("2026-10-01T00:00:00Z", "2026-10-01T12:00:00"), cut))
	require.False(t, olderThan(msg("2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z"), cut))
	require.False(t, olderThan(append(msg("2026-10-01T00:00:00Z"), json.RawMessage(`{"message_timestamp_utc":null}`)), cut))
}

// TestListContactMatchesMapContact: the messages stream's listContact passes over exactly
// the contacts mapContact rejects, and reads the same record fields, on the recorded
// contacts and on variants with each field (and each last_message and custom_fields
// field) replaced by values of every kind.
func TestListContactMatchesMapContact(t *testing.T) {
	t.Parallel()

	values := []string{`null`, `"x"`, `" "`, `""`, `"a\u00e9\n"`, `1`, `-2.5`, `2147483648`, `"7"`, `true`, `"False"`,
		`{}`, `[]`, `["a",null,2]`, `["a",{}]`, `[1,"2",null]`, `[1.5]`, `"2026-01-01T00:00:00Z"`, `"2026-01-01 10:00"`,
		`"2026-13-01T00:00:00Z"`, `{"body":"b","delivery_status":"Queued","mms_media":["u"]}`, `{"body":{}}`,
		`{"mms_media":[{}]}`, `[{"id":"a","value":"v"},{"id":"a","value":2},null]`, `[{"id":{}}]`, `[{"id":"a","value":[1]}]`, `[1]`}
	var variants []json.RawMessage
	for _, item := range readPage(t, "contacts.json") {
		variants = append(variants, item)
		var m map[string]json.RawMessage
		if json.Unmarshal(item, &m) != nil {
			continue
		}
		keys := []string{"last_message.body", "last_message.mms_media", "last_message.message_timestamp_utc", "custom_fields", "groups", "contact_tags"}
		for k := range m {
			keys = append(keys, k)
		}
		for _, k := range keys {
			for _, v := range values {
				mm := map[string]json.RawMessage{}
				for k2, v2 := range m {
					mm[k2] = v2
				}
				if outer, inner, nested := strings.Cut(k, "."); nested {
					var lm map[string]json.RawMessage
					if json.Unmarshal(m[outer], &lm) != nil || lm == nil {
						lm = map[string]json.RawMessage{}
					}
					lm[inner] = json.RawMessage(v)
					b, err := json.Marshal(lm)
					require.NoError(t, err)
					mm[outer] = b
				} else {
					mm[k] = json.RawMessage(v)
				}
				b, err := json.Marshal(mm)
				require.NoError(t, err)
				variants = append(variants, b)
			}
		}
	}
	rejected := 0
	for _, raw := range variants {
		want, rej := mapContact(121, raw, DefaultPhoneRegion)
		got, ok := listContact(raw)
		require.Equal(t, rej == nil, ok, "%s", raw)
		if !ok {
			rejected++
			continue
		}
		require.Nil(t, got.Row)
		want.Row, want.Tags, want.Groups, want.Fields = nil, nil, nil, nil
		require.Equal(t, want, got, "%s", raw)
	}
	require.Greater(t, rejected, len(variants)/10)
	require.Less(t, rejected, len(variants)*9/10)
}

// keyOf prints key values as fmt.Fprint does.
func TestKeyOfLikeFprint(t *testing.T) {
	t.Parallel()

	for _, tbl := range []stream.Table{contactsTable, messagesTable, tagsTable, groupsTable} {
		for _, v := range []any{"a\x1fb", "", int64(-42), int64(1) << 62, nil, true, 1.5, []string{"x"}} {
			row := make(stream.Row, len(tbl.Columns))
			for i := range row {
				row[i] = v
			}
			var sb strings.Builder
			for i := range tbl.Key {
				if i > 0 {
					sb.WriteByte(0x1f)
				}
				fmt.Fprint(&sb, v)
			}
			require.Equal(t, sb.String(), keyOf(tbl, row), "%s %#v", tbl.Name, v)
		}
	}
}
