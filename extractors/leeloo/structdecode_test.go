package leeloo

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/apiclient"
)

// stdDecodeItem is decodeItem as it was before structPlan: encoding/json, then badField.
func stdDecodeItem(raw json.RawMessage, dst any) error {
	if err := json.Unmarshal(raw, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return &fieldTypeError{msg: "field " + te.Field + ": cannot decode JSON " + te.Value + " as " + te.Type.String()}
		}
		return err
	}
	if name := badField(reflect.ValueOf(dst), ""); name != "" {
		return &fieldTypeError{msg: "field " + name + ": value of an unexpected type"}
	}
	return nil
}

// TestStructPlanMatchesEncodingJSON decodes every object of the recorded pages, and
// variants with case-changed, repeated, null and wrongly typed fields, into every DTO
// both ways and requires the same value and the same error.
func TestStructPlanMatchesEncodingJSON(t *testing.T) {
	t.Parallel()

	objects := testObjects(t)
	types := []reflect.Type{
		reflect.TypeFor[Person](), reflect.TypeFor[PersonAccount](), reflect.TypeFor[Channel](),
		reflect.TypeFor[Message](), reflect.TypeFor[Order](), reflect.TypeFor[Tunnel](),
		reflect.TypeFor[Leadgentool](), reflect.TypeFor[TrafficSource](), reflect.TypeFor[TunnelStat](),
		reflect.TypeFor[Revenue](), reflect.TypeFor[User](), reflect.TypeFor[Tag](),
		reflect.TypeFor[Connection](), reflect.TypeFor[TemplateCategory](), reflect.TypeFor[Template](),
		reflect.TypeFor[AccountFields](), reflect.TypeFor[Subscription](),
	}
	planned := 0
	for _, typ := range types {
		if planFor(typ) != nil {
			planned++
		}
		for _, obj := range objects {
			got, want := reflect.New(typ), reflect.New(typ)
			gotErr := decodeItem(obj, got.Interface())
			wantErr := stdDecodeItem(obj, want.Interface())
			if wantErr != nil {
				require.Error(t, gotErr, "%s %s", typ, obj)
				require.Equal(t, wantErr.Error(), gotErr.Error(), "%s %s", typ, obj)
				continue
			}
			require.NoError(t, gotErr, "%s %s", typ, obj)
			require.Equal(t, want.Interface(), got.Interface(), "%s %s", typ, obj)
		}
	}
	require.Greater(t, planned, len(types)/2, "most DTOs decode through a plan")
}

// testObjects is every object of the recorded pages, and variants with case-changed,
// repeated, null and wrongly typed fields.
func testObjects(t *testing.T) []json.RawMessage {
	var objects []json.RawMessage
	var collect func(v []byte)
	collect = func(v []byte) {
		switch {
		case len(v) > 0 && v[0] == '{':
			objects = append(objects, v)
			require.NoError(t, apiclient.EachMember(v, func(_, val []byte) error { collect(val); return nil }))
		case len(v) > 0 && v[0] == '[':
			require.NoError(t, apiclient.EachElement(v, func(val []byte) error { collect(val); return nil }))
		}
	}
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		collect(b)
	}
	objects = append(objects,
		[]byte(`{"ID":"upper","Name":"x","id":"lower"}`),
		[]byte(`{"id":"a","id":"b","tags":["x"],"tags":null}`),
		[]byte(`{"id":"a","accounts":"nope"}`),
		[]byte(`{"id":"a","accounts":[{"account_id":1},null],"custom_fields":{"k":[1]}}`),
		[]byte(`{"id":"a","links":{"orders":"x"}}`),
		[]byte(`{"id":"a","links":{"orders":[{"id":7,"type":{"x":1}}]}}`),
		[]byte(`{"id":"a","utm":"x","subscribeHistory":{}}`),
		[]byte(`{"id":"a","createdAt":{"x":1},"tags":[{}]}`),
		[]byte(`{"i\u0064":"escaped","NAME":"caps","\u00e9":1}`),
		[]byte(`{"id":null,"lastMessageTime":null,"accounts":null,"utm":null}`),
		[]byte(`{"id":"m","links":{"createdBy":{"type":"user","id":5}}}`),
		[]byte(`{"id":"m","links":{"createdBy":"x"}}`),
		[]byte(`{"id":"m","links":{"createdBy":{"id":[1]}}}`),
		[]byte(`{"id":"m","links":"x"}`),
		[]byte(`{"id":"m","links":[1]}`),
		[]byte(`{"id":"m","links":null}`),
		[]byte(`{"id":"m","links":{"CreatedBy":{"ID":"u","type":"t"}},"links":{"createdBy":null,"leadgentools":[{"id":"l"}]}}`),
		[]byte(`{"id":"m","links":{"createdBy":{"id":"u"}},"links":{"createdBy":{"type":"t"}}}`),
		[]byte(`{"utm_source":"a","UTM_Medium":1,"utm_campaign":{"x":1},"utm_term":null,"Bad":true}`),
		[]byte(`{"utm_source":"a","utm_source":"b","utm_content":["x"]}`),
		[]byte(`{"limit":"10","Offset":2.0,"filteredCount":null,"totalCount":"x","totalcount":7}`),
		[]byte(`{"totalCount":{"a":1},"limit":[1],"offset":true}`),
	)
	return objects
}

// TestMetaAndUTMMatchEncodingJSON: meta.decode and UTM.UnmarshalJSON read what
// json.Unmarshal into the plain structs reads, and fail where it fails.
func TestMetaAndUTMMatchEncodingJSON(t *testing.T) {
	t.Parallel()

	objects := append(testObjects(t), []byte(`"x"`), []byte(`[1]`), []byte(`12`), []byte(`null`))
	for _, obj := range objects {
		var got, want meta
		gotErr, wantErr := got.decode(obj), json.Unmarshal(obj, &want)
		require.Equal(t, wantErr, gotErr, "%s", obj)
		require.Equal(t, want, got, "%s", obj)

		type plain UTM
		var p plain
		wantU := UTM{Bad: true}
		if b := bytes.TrimSpace(obj); string(b) == "null" {
			wantU = UTM{}
		} else if b[0] == '{' && json.Unmarshal(b, &p) == nil {
			wantU = UTM(p)
		}
		var gotU UTM
		require.NoError(t, gotU.UnmarshalJSON(obj))
		require.Equal(t, wantU, gotU, "%s", obj)
	}
}
