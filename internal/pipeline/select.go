package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/crmsync/crmsync/internal/stream"
)

// Selection says which streams a run covers.
type Selection struct {
	// Source limits the run to one source ("" = every given extractor's source).
	Source string
	// Streams names streams as "source.name" or a bare "name" (which matches that
	// name in every selected source). Empty means every stream that is not DefaultOff.
	// A DefaultOff stream runs only when named.
	Streams []string
}

// Select turns a selection into jobs, in the extractors' stream order. An unknown
// source or stream name gives an error wrapping stream.ErrUnknownStream that lists the
// valid names.
func Select(extractors []Extractor, sel Selection) ([]Job, error) {
	var all []Job
	sources := map[string]bool{}
	for _, ex := range extractors {
		for _, d := range ex.Streams() {
			sources[d.Source] = true
			if sel.Source == "" || d.Source == sel.Source {
				all = append(all, Job{Extractor: ex, Desc: d})
			}
		}
	}
	if sel.Source != "" && !sources[sel.Source] {
		names := make([]string, 0, len(sources))
		for s := range sources {
			names = append(names, s)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("%w: no source %q is enabled (enabled: %s)", stream.ErrUnknownStream, sel.Source, orNone(names))
	}

	if len(sel.Streams) == 0 {
		out := make([]Job, 0, len(all))
		for _, j := range all {
			if !j.Desc.DefaultOff {
				out = append(out, j)
			}
		}
		return out, nil
	}

	want := map[string]bool{}
	for _, name := range sel.Streams {
		name = strings.TrimSpace(name)
		matched := false
		for _, j := range all {
			if name == j.Desc.ID() || name == j.Desc.Name {
				want[j.Desc.ID()] = true
				matched = true
			}
		}
		if !matched {
			valid := make([]string, 0, len(all))
			for _, j := range all {
				valid = append(valid, j.Desc.ID())
			}
			return nil, fmt.Errorf("%w %q; valid streams: %s", stream.ErrUnknownStream, name, orNone(valid))
		}
	}
	out := make([]Job, 0, len(want))
	for _, j := range all {
		if want[j.Desc.ID()] {
			out = append(out, j)
		}
	}
	return out, nil
}

// Known returns every stream name per source ("leeloo" → ["people", …]), the set a
// schedules file is validated against.
func Known(extractors []Extractor) map[string][]string {
	known := map[string][]string{}
	for _, ex := range extractors {
		for _, d := range ex.Streams() {
			known[d.Source] = append(known[d.Source], d.Name)
		}
	}
	return known
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
