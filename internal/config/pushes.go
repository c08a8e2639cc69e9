package config

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Push destinations (DESIGN.md, "Pushes").
const (
	// DestCalltouchComments adds a comment to Calltouch leads.
	DestCalltouchComments = "calltouch-lead-comments"
	// DestTwinAttributes sets TWIN client attributes.
	DestTwinAttributes = "twin-client-attributes"
)

// Destinations lists the valid push destinations.
var Destinations = []string{DestCalltouchComments, DestTwinAttributes}

// DefaultMaxAttempts is how many times a failed or unmatched row is tried before the
// push gives it up, when the push does not say.
const DefaultMaxAttempts = 5

// Push sends the rows of a warehouse query to an API (`crmsync push`), recording each
// row's outcome in sync.pushes:
//
//	pushes:
//	  - name: lead-comments
//	    destination: calltouch-lead-comments   # or twin-client-attributes
//	    schedule: "*/30 * * * *"               # optional: run by `crmsync schedule`
//	    max_attempts: 5                        # tries of a failed or unmatched row
//	    query: |
//	      select key, comment, call_id from my_view
type Push struct {
	// Name identifies the push (in sync.pushes, sync.runs and `crmsync push NAME`):
	// lowercase letters, digits, '-' and '_', unique among jobs and pushes.
	Name string `yaml:"name"`
	// Destination is calltouch-lead-comments or twin-client-attributes.
	Destination string `yaml:"destination"`
	// Query is the SQL whose rows are sent; its columns depend on the destination.
	Query string `yaml:"query"`
	// Schedule, when set, runs the push from `crmsync schedule` (same syntax as a job's).
	Schedule string `yaml:"schedule"`
	// MaxAttempts caps the tries of a row that failed or was unmatched (default 5).
	MaxAttempts int `yaml:"max_attempts"`
	// CreateAttributes lets a TWIN push create an attribute it cannot find by name;
	// without it such rows fail.
	CreateAttributes bool `yaml:"create_attributes"`
	// Line is the line of the push in the file (0 when not read from one); errors name it.
	Line int `yaml:"-"`
}

// label names the push and its line in errors.
func (p Push) label(i int) string {
	name := fmt.Sprintf("%q", p.Name)
	if p.Name == "" {
		name = fmt.Sprintf("#%d", i+1)
	}
	if p.Line > 0 {
		return fmt.Sprintf("line %d: push %s", p.Line, name)
	}
	return "push " + name
}

func (p *Push) setDefaults() {
	p.Name = strings.TrimSpace(p.Name)
	p.Destination = strings.TrimSpace(p.Destination)
	p.Schedule = strings.TrimSpace(p.Schedule)
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
}

// validatePushes checks every push, naming its line and field; names must be unique
// among jobs and pushes (the scheduler knows both by name).
func (s *Spec) validatePushes() []error {
	var errs []error
	seen := map[string]bool{}
	for _, j := range s.Jobs {
		seen[j.Name] = true
	}
	for i, p := range s.Pushes {
		label := p.label(i)
		switch {
		case p.Name == "":
			errs = append(errs, fmt.Errorf("%s: name: required", label))
		case !jobNameRE.MatchString(p.Name):
			errs = append(errs, fmt.Errorf("%s: name: use lowercase letters, digits, '-' and '_'", label))
		case seen[p.Name]:
			errs = append(errs, fmt.Errorf("%s: name: already used by another job or push", label))
		}
		seen[p.Name] = true
		switch p.Destination {
		case "":
			errs = append(errs, fmt.Errorf("%s: destination: required; valid: %s", label, strings.Join(Destinations, ", ")))
		case DestCalltouchComments, DestTwinAttributes:
		default:
			errs = append(errs, fmt.Errorf("%s: destination %q: unknown; valid: %s", label, p.Destination, strings.Join(Destinations, ", ")))
		}
		if strings.TrimSpace(p.Query) == "" {
			errs = append(errs, fmt.Errorf("%s: query: required (SQL returning the destination's columns)", label))
		}
		if p.Schedule != "" {
			if _, err := cron.ParseStandard(p.Schedule); err != nil {
				errs = append(errs, fmt.Errorf("%s: schedule %q: %w", label, p.Schedule, err))
			}
		}
		if p.MaxAttempts < 1 {
			errs = append(errs, fmt.Errorf("%s: max_attempts %d: want at least 1", label, p.MaxAttempts))
		}
		if p.CreateAttributes && p.Destination != DestTwinAttributes {
			errs = append(errs, fmt.Errorf("%s: create_attributes: only for destination %s", label, DestTwinAttributes))
		}
	}
	return errs
}

// Push returns the push with the given name.
func (s *Spec) Push(name string) (Push, bool) {
	for _, p := range s.Pushes {
		if p.Name == name {
			return p, true
		}
	}
	return Push{}, false
}

// notePushLines records each push's line in the document b, so that errors about a
// push (here or when its query runs) can name it. yaml.v3 gives lines only through its
// Node tree, which a custom UnmarshalYAML would have to decode without the strict
// decoder's unknown-key check; a second pass over the tree keeps both.
func (s *Spec) notePushLines(b []byte) error {
	if len(s.Pushes) == 0 {
		return nil
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "pushes" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for k, item := range root.Content[i+1].Content {
			if k < len(s.Pushes) {
				s.Pushes[k].Line = item.Line
			}
		}
	}
	return nil
}
