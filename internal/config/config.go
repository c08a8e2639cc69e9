// Package config reads crmsync's configuration: the environment (EnvReader, used by
// the CLI for its core variables and by each platform for its own, see
// extractors/platform) and schedules.yaml, which sync jobs the long-running scheduler
// (`crmsync schedule`) runs, and when.
//
// A file looks like this:
//
//	timezone: UTC            # default location of every schedule (IANA name)
//	jobs:
//	  - name: leeloo-frequent
//	    schedule: "*/15 * * * *"        # robfig/cron standard spec; CRON_TZ=… prefix and @every/@daily allowed
//	    source: leeloo                  # empty: every enabled source
//	    streams: [people, communication_channels, messages]   # empty: every default stream of the source
//	    max_duration: 10m               # stop the job after this long; the next run continues from the checkpoint
//	  - name: nightly-sweep
//	    schedule: "CRON_TZ=America/New_York 30 2 * * *"
//	    full_refresh: true
//
// Decoding is strict (unknown keys are errors, so a typo such as `stream:` does not
// silently mean "every stream"), and [Spec.Validate] checks every schedule with
// cron.ParseStandard and every source and stream name against the set the CLI passes in,
// so a bad file fails at startup with an error naming the job and the field, not at
// 3 a.m. The package knows nothing about extractors: the CLI supplies the known names.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// DefaultTimezone is the location of schedules when the file names none.
const DefaultTimezone = "UTC"

// Spec is a decoded schedules.yaml.
type Spec struct {
	// Timezone is the IANA location in which schedules without a CRON_TZ= prefix are
	// read (default UTC).
	Timezone string `yaml:"timezone"`
	// Jobs are the scheduled jobs, each run as one `crmsync run` pass.
	Jobs []Job `yaml:"jobs"`
	// Pushes send the rows of warehouse queries to an API (`crmsync push`); see Push.
	Pushes []Push `yaml:"pushes"`
}

// Job is one scheduled sync: a set of streams run together on a cron schedule.
type Job struct {
	// Name identifies the job in logs and metrics; unique, lowercase letters, digits,
	// '-' and '_'.
	Name string `yaml:"name"`
	// Schedule is a robfig/cron standard spec (5 fields: minute hour day-of-month month
	// day-of-week), a descriptor (@hourly, @daily, @every 15m), optionally prefixed with
	// CRON_TZ=Area/City to override Spec.Timezone.
	Schedule string `yaml:"schedule"`
	// Source limits the job to one source ("leeloo", "textrequest"); empty means every
	// enabled source.
	Source string `yaml:"source"`
	// Streams names the streams to run. With Source set, plain names of that source
	// ("people"); without it, qualified names ("leeloo.people"). Empty means every
	// default stream of the job's source(s).
	Streams []string `yaml:"streams"`
	// FullRefresh ignores the stored cursors and re-reads everything (for a nightly
	// sweep that catches edits incremental reads cannot see).
	FullRefresh bool `yaml:"full_refresh"`
	// MaxDuration stops the job's run after this long (0: no limit). Streams cut off
	// are recorded as cancelled and continue from their checkpoint next time.
	MaxDuration Duration `yaml:"max_duration"`
}

// Duration is a time.Duration written in YAML as a Go duration string ("90s", "1h30m").
type Duration time.Duration

// UnmarshalYAML parses a duration string, naming the line on error.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration: %w", n.Line, err)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("line %d: duration %q: want a Go duration such as 90s or 1h30m", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// LoadSchedules reads, decodes, defaults and validates the schedules file at path.
// known maps each source to its stream names (every stream, default-off ones included);
// a nil known skips the source and stream checks. Errors start with the file's base
// name and name the job and field.
func LoadSchedules(path string, known map[string][]string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	spec, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	spec.SetDefaults()
	if err := spec.Validate(known); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return spec, nil
}

// Parse decodes a schedules document strictly (unknown keys are errors). It neither
// fills defaults nor validates.
func Parse(b []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var spec Spec
	if err := dec.Decode(&spec); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty: want a jobs: list")
		}
		return nil, explainYAML(b, err)
	}
	if err := spec.notePushLines(b); err != nil {
		return nil, err
	}
	return &spec, nil
}

// SetDefaults fills the fields left empty: the timezone, and trims names.
func (s *Spec) SetDefaults() {
	s.Timezone = strings.TrimSpace(s.Timezone)
	if s.Timezone == "" {
		s.Timezone = DefaultTimezone
	}
	for i := range s.Jobs {
		j := &s.Jobs[i]
		j.Name = strings.TrimSpace(j.Name)
		j.Schedule = strings.TrimSpace(j.Schedule)
		j.Source = strings.TrimSpace(j.Source)
		for k := range j.Streams {
			j.Streams[k] = strings.TrimSpace(j.Streams[k])
		}
	}
	for i := range s.Pushes {
		s.Pushes[i].setDefaults()
	}
}

var jobNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Validate checks the whole spec and returns every problem found (errors.Join), each
// naming the job and the field. known maps a source to its stream names; nil skips
// the source and stream checks.
func (s *Spec) Validate(known map[string][]string) error {
	var errs []error
	if _, err := time.LoadLocation(s.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("timezone %q: unknown IANA location", s.Timezone))
	}
	if len(s.Jobs) == 0 && len(s.Pushes) == 0 {
		errs = append(errs, errors.New("jobs: the list is empty; define at least one job (or a push under pushes:)"))
	}
	seen := map[string]bool{}
	for i, j := range s.Jobs {
		label := fmt.Sprintf("job %q", j.Name)
		if j.Name == "" {
			label = fmt.Sprintf("job #%d", i+1)
			errs = append(errs, fmt.Errorf("%s: name: required", label))
		} else if !jobNameRE.MatchString(j.Name) {
			errs = append(errs, fmt.Errorf("%s: name: use lowercase letters, digits, '-' and '_'", label))
		} else if seen[j.Name] {
			errs = append(errs, fmt.Errorf("%s: name: defined twice", label))
		}
		seen[j.Name] = true
		errs = append(errs, j.validate(label, known)...)
	}
	errs = append(errs, s.validatePushes()...)
	return errors.Join(errs...)
}

func (j Job) validate(label string, known map[string][]string) []error {
	var errs []error
	if j.Schedule == "" {
		errs = append(errs, fmt.Errorf("%s: schedule: required (e.g. \"*/15 * * * *\" or \"@hourly\")", label))
	} else if _, err := cron.ParseStandard(j.Schedule); err != nil {
		errs = append(errs, fmt.Errorf("%s: schedule %q: %w", label, j.Schedule, err))
	}
	if j.MaxDuration < 0 {
		errs = append(errs, fmt.Errorf("%s: max_duration %s: must not be negative", label, j.MaxDuration.Std()))
	}
	if known == nil {
		return errs
	}
	if j.Source != "" {
		if _, ok := known[j.Source]; !ok {
			errs = append(errs, fmt.Errorf("%s: source %q: unknown; valid: %s", label, j.Source, strings.Join(sortedKeys(known), ", ")))
			return errs
		}
	}
	dup := map[string]bool{}
	for _, name := range j.Streams {
		src, st := j.Source, name
		if src == "" {
			var ok bool
			src, st, ok = strings.Cut(name, ".")
			if !ok {
				errs = append(errs, fmt.Errorf("%s: streams: %q: without a source: write it as source.stream (e.g. leeloo.people) or set source:", label, name))
				continue
			}
		} else if p, rest, ok := strings.Cut(name, "."); ok && p == j.Source {
			st = rest // "leeloo.people" under source: leeloo is accepted too
		}
		names, ok := known[src]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: streams: %q: unknown source %q; valid: %s", label, name, src, strings.Join(sortedKeys(known), ", ")))
			continue
		}
		if !slices.Contains(names, st) {
			errs = append(errs, fmt.Errorf("%s: streams: %q: unknown %s stream; valid: %s", label, name, src, strings.Join(sorted(names), ", ")))
			continue
		}
		if dup[src+"."+st] {
			errs = append(errs, fmt.Errorf("%s: streams: %q: listed twice", label, name))
		}
		dup[src+"."+st] = true
	}
	return errs
}

// Location returns the spec's timezone (UTC when it cannot be loaded; Validate reports
// that case).
func (s *Spec) Location() *time.Location {
	loc, err := time.LoadLocation(cmp.Or(s.Timezone, DefaultTimezone))
	if err != nil {
		return time.UTC
	}
	return loc
}

// Job returns the job with the given name.
func (s *Spec) Job(name string) (Job, bool) {
	for _, j := range s.Jobs {
		if j.Name == name {
			return j, true
		}
	}
	return Job{}, false
}

// QualifiedStreams returns the job's streams as "source.stream" names (nil when the job
// runs every default stream).
func (j Job) QualifiedStreams() []string {
	var out []string
	for _, name := range j.Streams {
		if j.Source == "" || strings.HasPrefix(name, j.Source+".") {
			out = append(out, name)
			continue
		}
		out = append(out, j.Source+"."+name)
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
