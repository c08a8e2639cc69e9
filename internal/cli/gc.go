package cli

import "runtime/debug"

// defaultGCPercent is the Go garbage collector's target when GOGC is not set. A sync
// keeps a small live heap (about 10 MiB: pages in flight, commit groups) and allocates
// a lot through it (decoded pages, rows, COPY buffers: ~400 MB for a scale-10 sync),
// so with Go's default of 100 the collector runs every few MiB, hundreds of times per
// run. BenchmarkFullSync measured the default at about a third of crmsync's CPU and of
// the simulator's: 400 cut crmsync's CPU from 1.76–1.87 s to 1.11–1.22 s and the
// simulator's from 1.26–1.31 s to 0.68–0.72 s, while 800 gained nothing more. The
// price is memory: up to five times the live heap between collections. Peak RSS of
// `crmsync run` measured 41 MiB at scale 10 and 51 MiB at scale 30 with GOGC=100,
// 72 and 85 MiB with 400. GOGC (and GOMEMLIMIT, which the runtime applies on its own)
// still decide when set; deploy/kubernetes sets GOMEMLIMIT under the container's limit.
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless GOGC is set (the runtime has applied it).
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
