package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/stream"
)

// progressView shows a run's progress. On a terminal it keeps one status line at the
// bottom of stderr, redrawn a few times a second, and log lines written through it
// (it is the logger's writer) appear above that line. Elsewhere (a CronJob, a pipe)
// it prints a plain progress line every plainEvery, and the per-stream log lines say
// the rest.
type progressView struct {
	w   io.Writer
	tty bool

	mu      sync.Mutex
	total   int
	started time.Time
	streams map[string]pipeline.StreamResult
	drawn   bool // a status line is on screen

	cancel context.CancelFunc
	done   chan struct{}

	// logger, when set, carries the periodic progress line off a terminal, so that it
	// is a record in the run's log format (JSON for a CronJob) rather than plain text
	// between JSON lines.
	logger *slog.Logger
}

const (
	ttyEvery   = 250 * time.Millisecond
	plainEvery = 30 * time.Second
)

func newProgressView(w io.Writer, tty bool) *progressView {
	return &progressView{w: w, tty: tty, streams: map[string]pipeline.StreamResult{}}
}

// Write passes a log line through, keeping the status line below it.
func (p *progressView) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	n, err := p.w.Write(b)
	p.drawLocked()
	return n, err
}

// update records a stream's progress (pipeline.Config.OnProgress).
func (p *progressView) update(r pipeline.StreamResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.streams[r.ID()] = r
}

// start begins redrawing until stop.
func (p *progressView) start(ctx context.Context, total int) {
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	p.mu.Lock()
	p.total, p.started = total, time.Now()
	p.mu.Unlock()
	every := plainEvery
	if p.tty {
		every = ttyEvery
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.tick()
			}
		}
	}()
}

// stop ends the redraws and removes the status line.
func (p *progressView) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.tty = false // nothing more to draw
}

func (p *progressView) tick() {
	p.mu.Lock()
	if p.tty {
		p.clearLocked()
		p.drawLocked()
		p.mu.Unlock()
		return
	}
	line := p.lineLocked(0)
	p.mu.Unlock()
	// The logger writes through p (Write), so it is called without p.mu held.
	if p.logger != nil {
		p.logger.Info("progress", "status", line)
		return
	}
	fmt.Fprintln(p.w, "progress: "+line)
}

func (p *progressView) clearLocked() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *progressView) drawLocked() {
	if !p.tty || p.total == 0 {
		return
	}
	width := 120
	if f, ok := p.w.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			width = w
		}
	}
	fmt.Fprint(p.w, p.lineLocked(width-1))
	p.drawn = true
}

// lineLocked is e.g. "7/20 streams done, 3 running: leeloo.messages 1234 rows, … | 45678 rows, 912 requests, 12s".
func (p *progressView) lineLocked(max int) string {
	done, rows, reqs := 0, 0, 0
	var running []string
	for id, r := range p.streams {
		rows += r.Read
		reqs += r.Requests
		if r.Status == stream.RunRunning {
			running = append(running, fmt.Sprintf("%s %d rows", id, r.Read))
		} else {
			done++
		}
	}
	slices.Sort(running)
	s := fmt.Sprintf("%d/%d streams done | %d rows, %d requests, %s", done, p.total, rows, reqs,
		time.Since(p.started).Round(time.Second))
	if len(running) > 0 {
		s += " | running: " + strings.Join(running, ", ")
	}
	if max > 0 && len(s) > max {
		s = s[:max-1] + "…"
	}
	return s
}
