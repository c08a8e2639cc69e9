package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crmsync/crmsync/extractors/platform"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/stream"
)

// selectionHint turns an unknown-stream error of --source/--stream into a message
// that names the flag at fault and says what to do: a misspelt source or stream gets
// the name it most likely meant; a stream of a known but disabled platform says which
// variable enables it.
func selectionHint(err error, sel pipeline.Selection, env Env) error {
	if !errors.Is(err, stream.ErrUnknownStream) {
		return err
	}
	if sel.Source != "" {
		p, known := platformNamed(sel.Source)
		if !known {
			names := make([]string, len(platforms))
			for i, p := range platforms {
				names[i] = p.Name
			}
			return fmt.Errorf("--source %s: unknown source%s; sources: %s", sel.Source, didYouMean(sel.Source, names), strings.Join(names, ", "))
		}
		if _, on := env.enabledSource(p.Name); !on {
			return fmt.Errorf("--source %s: %s is not enabled: set %s", p.Name, p.Title, p.Enable)
		}
	}
	var all []string // every stream of every platform, source.name
	for _, p := range platforms {
		for _, d := range p.Streams() {
			all = append(all, d.ID())
		}
	}
	for _, name := range sel.Streams {
		name = strings.TrimSpace(name)
		for _, p := range platforms {
			if _, on := env.enabledSource(p.Name); on || (sel.Source != "" && sel.Source != p.Name) {
				continue
			}
			for _, d := range p.Streams() {
				if name == d.ID() || name == d.Name {
					return fmt.Errorf("--stream %s: %s is a %s stream, and %s is not enabled: set %s", name, d.ID(), p.Title, p.Title, p.Enable)
				}
			}
		}
		if !slices.ContainsFunc(all, func(id string) bool { return id == name || strings.HasSuffix(id, "."+name) }) {
			return fmt.Errorf("--stream %s: unknown stream%s; `crmsync streams` lists them", name, didYouMean(name, all))
		}
	}
	return fmt.Errorf("--stream: %w", err)
}

// platformNamed finds a registered platform by name.
func platformNamed(name string) (platform.Platform, bool) {
	for _, p := range platforms {
		if p.Name == name {
			return p, true
		}
	}
	return platform.Platform{}, false
}

// didYouMean returns `; did you mean "x"?` for the candidate closest to s (by edit
// distance, comparing a bare name with the part after the source), or "" when none is
// close.
func didYouMean(s string, candidates []string) string {
	best, bestD := "", 3 // more than two edits away is no longer a typo
	for _, c := range candidates {
		d := editDistance(s, c)
		if _, name, ok := strings.Cut(c, "."); ok && !strings.Contains(s, ".") {
			d = min(d, editDistance(s, name))
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance of two short names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
