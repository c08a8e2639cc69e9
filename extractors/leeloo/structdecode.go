package leeloo

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/crmsync/crmsync/internal/apiclient"
)

// Every list item is decoded into a DTO whose fields are nearly all flexible types
// (json.Unmarshaler). encoding/json would check the whole item, then walk it again to
// decode, skipping each field's value once more before handing it to UnmarshalJSON;
// decodeFields does the same work in one pass (apiclient.EachMember) with the field
// table of structPlan. Fields of other kinds (nested structs, []ref) still go through
// encoding/json, one field at a time.

// fieldKind says how decodeFields stores a field.
type fieldKind int

const (
	kindUnmarshaler fieldKind = iota // *T implements json.Unmarshaler: call it
	kindRaw                          // json.RawMessage: keep the value's bytes
	kindRawList                      // []json.RawMessage: split the array
	kindStruct                       // a struct with a plan of its own (links): decodeFields
	kindOther                        // anything else: encoding/json on the value
)

type fieldPlan struct {
	name   string // the JSON key
	index  int
	kind   fieldKind
	marker bool        // *T implements badMarker
	sub    *structPlan // kindStruct's plan
}

// structPlan is the field table of one DTO type, in declaration order.
type structPlan struct {
	fields []fieldPlan
	byName map[string]int
}

var (
	plans           sync.Map // reflect.Type → *structPlan (nil: use encoding/json)
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	badMarkerType   = reflect.TypeFor[badMarker]()
	rawType         = reflect.TypeFor[json.RawMessage]()
	rawListType     = reflect.TypeFor[[]json.RawMessage]()
)

// planFor returns t's plan, or nil for a type decodeFields does not handle the way
// encoding/json would (embedded fields, tag options, not a struct): those use
// encoding/json.
func planFor(t reflect.Type) *structPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*structPlan)
	}
	p := buildPlan(t)
	plans.Store(t, p)
	return p
}

func buildPlan(t reflect.Type) *structPlan {
	if t.Kind() != reflect.Struct {
		return nil
	}
	p := &structPlan{byName: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil // promotion rules: leave them to encoding/json
		}
		if !f.IsExported() {
			continue
		}
		tag, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" && opts == "" {
			continue
		}
		if strings.Contains(opts, "string") {
			return nil
		}
		name := tag
		if name == "" {
			name = f.Name
		}
		if _, dup := p.byName[name]; dup {
			return nil // encoding/json's conflict rules
		}
		fp := fieldPlan{name: name, index: i, kind: kindOther, marker: reflect.PointerTo(f.Type).Implements(badMarkerType)}
		switch {
		case f.Type == rawType:
			fp.kind = kindRaw
		case f.Type == rawListType:
			fp.kind = kindRawList
		case reflect.PointerTo(f.Type).Implements(unmarshalerType):
			fp.kind = kindUnmarshaler
		case f.Type.Kind() == reflect.Struct:
			if fp.sub = planFor(f.Type); fp.sub != nil {
				fp.kind = kindStruct
			}
		}
		p.byName[name] = len(p.fields)
		p.fields = append(p.fields, fp)
	}
	return p
}

// lookup finds the field a raw key literal names: the exact name first, else ignoring
// case, as encoding/json matches.
func (p *structPlan) lookup(key []byte) *fieldPlan {
	if n := len(key); n >= 2 {
		if i, ok := p.byName[string(key[1:n-1])]; ok {
			return &p.fields[i]
		}
	}
	name, err := apiclient.Unquote(key)
	if err != nil {
		return nil
	}
	if i, ok := p.byName[name]; ok {
		return &p.fields[i]
	}
	for i := range p.fields {
		if strings.EqualFold(p.fields[i].name, name) {
			return &p.fields[i]
		}
	}
	return nil
}

// decodeFields decodes the JSON object item into the struct v (addressable) by plan p,
// with encoding/json's results: unknown keys ignored, a repeated key's last value kept,
// a value of the wrong kind for a plain field reported naming the field's path, any other
// failure as "decode item: …".
func decodeFields(item []byte, v reflect.Value, p *structPlan) error {
	err := apiclient.EachMember(item, func(k, val []byte) error {
		f := p.lookup(k)
		if f == nil {
			return nil
		}
		fv := v.Field(f.index)
		switch f.kind {
		case kindUnmarshaler:
			return fv.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(val)
		case kindRaw:
			fv.SetBytes(val) // a sub-slice of the item, like the item itself
			return nil
		case kindRawList:
			if string(val) == "null" {
				fv.SetZero()
				return nil
			}
			if len(val) > 0 && val[0] == '[' {
				items, err := apiclient.SplitArray(val)
				if err != nil {
					return err
				}
				fv.Set(reflect.ValueOf(items))
				return nil
			}
		case kindStruct:
			if string(val) == "null" {
				return nil // encoding/json leaves a struct as it is
			}
			// A well-formed object decodes as encoding/json would; anything that fails
			// is decoded again by encoding/json below, for its error text (the item is
			// rejected, so what was stored meanwhile does not matter).
			if len(val) > 0 && val[0] == '{' && decodeFields(val, fv, f.sub) == nil {
				return nil
			}
		}
		err := json.Unmarshal(val, fv.Addr().Interface())
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			path := f.name
			if te.Field != "" {
				path += "." + te.Field
			}
			return &fieldTypeError{msg: fmt.Sprintf("field %s: cannot decode JSON %s as %s", path, te.Value, te.Type)}
		}
		return err
	})
	var fe *fieldTypeError
	if err != nil && !errors.As(err, &fe) {
		return fmt.Errorf("decode item: %w", err)
	}
	return err
}

// fieldTypeError is a field's value of a kind its type cannot take.
type fieldTypeError struct{ msg string }

func (e *fieldTypeError) Error() string { return e.msg }

// planBadField is badField for a struct with a plan, without reflect's boxing of each
// flexible field.
func planBadField(v reflect.Value, p *structPlan) string {
	for i := range p.fields {
		f := &p.fields[i]
		fv := v.Field(f.index)
		if f.marker {
			if fv.Addr().Interface().(badMarker).isBad() {
				return f.name
			}
			continue
		}
		if got := badField(fv, f.name); got != "" {
			return got
		}
	}
	return ""
}
