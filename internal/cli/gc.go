package cli

import (
	"runtime"
	"runtime/debug"
)

// defaultGCPercent is the Go garbage collector's target when GOGC is not set. A sync
// keeps a small live heap (about 10 MiB: pages in flight, commit groups) and allocates
// a lot through it (decoded pages, rows, COPY buffers: ~400 MB for a scale-10 sync),
// so with Go's default of 100 the collector runs every few MiB, hundreds of times per
// run. BenchmarkFullSync measured the default at about a third of crmsync's CPU and of
// the simulator's: 400 cut crmsync's CPU from 1.76–1.87 s to 1.11–1.22 s and the
// simulator's from 1.26–1.31 s to 0.68–0.72 s, while 800 gained nothing more. The
// price is memory: up to five times the live heap between collections. Peak RSS of a
// first `crmsync run` (migrating an empty database) measured 42–43 MiB at scale 10 and
// 44–45 MiB at scale 30 with 400, 29–30 MiB at both with GOGC=100, once
// releaseMigrationBuffers had gone in (before it: 78–118 MiB with 400). GOGC (and
// GOMEMLIMIT, which the runtime applies on its own) still decide when set;
// deploy/kubernetes sets GOMEMLIMIT under the container's limit.
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless GOGC is set (the runtime has applied it).
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// releaseMigrationBuffers frees what migrating left behind before a sync starts. goose's
// SQL parser scans each migration file with a 4 MiB buffer kept in a sync.Pool, so
// migrating holds ~16 MiB for a while; with defaultGCPercent the collection that finds
// them sets the next heap target at five times that, and `crmsync run` peaked at
// 78–118 MiB RSS at scale 30 against ~45 MiB without migrating. A pooled buffer
// survives one collection (the pool's victim cache), hence two: the second, in
// FreeOSMemory, also returns the pages to the OS.
func releaseMigrationBuffers() {
	runtime.GC()
	debug.FreeOSMemory()
}
