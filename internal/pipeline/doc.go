// Package pipeline runs a sync: for each selected stream it takes the stream's advisory
// lock, opens a run in sync.runs, reads the stored checkpoint, and streams the
// extractor's batches through a small buffered channel to the loader, which commits
// each batch's rows together with its cursor. Streams run concurrently, bounded by
// Config.Concurrency.
//
// The package contains no SQL and no HTTP: it consumes the three seams declared in
// interfaces.go (Extractor, Loader, Checkpoints), so it is tested with small fakes and
// composed with the real parts in internal/cli.
//
// Guarantees a caller can rely on:
//
//   - A stream failing never stops the other streams. Run returns a Result listing every
//     stream's outcome and, when some failed, a *PartialError that unwraps to each
//     failed stream's cause.
//   - A stream whose lock another process holds is skipped (status skipped), not failed.
//   - Cancellation (a signal, or a deadline such as --max-duration) stops fetching at
//     once; the batch being loaded gets a short grace period to commit (Config.LoadGrace)
//     and is otherwise rolled back; the run is recorded as cancelled, and the next run
//     continues from the last committed cursor.
//   - Memory is bounded by Config.Buffer batches per running stream: nothing holds a
//     whole stream.
package pipeline
