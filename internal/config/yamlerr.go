package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlKeys lists the keys each decoded type accepts, by the type name yaml.v3 prints
// in its "field X not found in type config.T" errors.
var yamlKeys = map[string]reflect.Type{
	"config.Spec": reflect.TypeFor[Spec](),
	"config.Job":  reflect.TypeFor[Job](),
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	wrongType    = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
	syntaxLine   = regexp.MustCompile(`^yaml: line \d+: `)
)

// explainYAML rewrites yaml.v3's decode errors for a person editing the file: every
// problem on its own line, starting with its line number, naming the key and what is
// expected instead of Go type names. A syntax error is reported at the line where the
// document stops parsing, which yaml.v3 often places at the start of the enclosing
// block instead.
func explainYAML(doc []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		if !syntaxLine.MatchString(err.Error()) {
			return err // our own UnmarshalYAML errors already name their line
		}
		msg := syntaxLine.ReplaceAllString(err.Error(), "")
		return fmt.Errorf("line %d: %s (check the indentation: a job's keys line up under its name, indented with spaces, not tabs)",
			firstBadLine(doc), msg)
	}
	out := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		out[i] = explainTypeError(e)
	}
	return errors.New(strings.Join(out, "\n"))
}

func explainTypeError(e string) string {
	if m := unknownField.FindStringSubmatch(e); m != nil {
		t, ok := yamlKeys[m[3]]
		if !ok {
			return fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
		}
		keys := tagNames(t)
		for _, k := range keys {
			if strings.TrimSuffix(k, "s") == strings.TrimSuffix(m[2], "s") || strings.ReplaceAll(m[2], "-", "_") == k {
				return fmt.Sprintf("line %s: unknown key %q; did you mean %q?", m[1], m[2], k)
			}
		}
		return fmt.Sprintf("line %s: unknown key %q; the keys here are %s", m[1], m[2], strings.Join(keys, ", "))
	}
	if m := wrongType.FindStringSubmatch(e); m != nil {
		want := m[4]
		switch {
		case strings.HasPrefix(want, "[]"):
			want = "a list such as [a, b]"
		case want == "bool":
			want = "true or false"
		case strings.HasPrefix(want, "int"):
			want = "a whole number"
		case m[2] == "seq" || m[2] == "map":
			want = "a single value"
		}
		return fmt.Sprintf("line %s: want %s, got %q", m[1], want, m[3])
	}
	return e
}

// tagNames lists the yaml keys of a struct type.
func tagNames(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// firstBadLine is the first line at which the document, read from its start, stops
// being valid YAML (1 when even the first line is not).
func firstBadLine(doc []byte) int {
	lines := strings.SplitAfter(string(doc), "\n")
	var n yaml.Node
	for i := range lines {
		if yaml.Unmarshal([]byte(strings.Join(lines[:i+1], "")), &n) != nil {
			return i + 1
		}
	}
	return len(lines)
}
