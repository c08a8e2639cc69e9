package calltouch

import "time"

// day is a day of the cabinet's calendar, held as midnight UTC of that date so days
// compare and count without zone arithmetic.
type day struct{ t time.Time }

func dayOfDate(t time.Time) day {
	return day{time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
}

// dayOfTime is the cabinet-local day of an instant.
func dayOfTime(t time.Time) day { return dayOfDate(t.In(Zone)) }

func parseDay(s string) (day, bool) {
	t, err := time.Parse(time.DateOnly, s)
	return day{t}, err == nil
}

func (d day) String() string              { return d.t.Format(time.DateOnly) }
func (d day) format(layout string) string { return d.t.Format(layout) }
func (d day) add(n int) day               { return day{d.t.AddDate(0, 0, n)} }
func (d day) before(o day) bool           { return d.t.Before(o.t) }

func minDay(a, b day) day {
	if b.before(a) {
		return b
	}
	return a
}

func maxDay(a, b day) day {
	if a.before(b) {
		return b
	}
	return a
}

// daysBetween lists from..to, both included.
func daysBetween(from, to day) []day {
	var out []day
	for d := from; !to.before(d); d = d.add(1) {
		out = append(out, d)
	}
	return out
}
