// Package pipeline runs a sync: for each selected stream it takes the stream's lease
// and opens its run in sync.runs (Checkpoints.Begin), reads the stored checkpoint, and streams the
// extractor's batches through a small buffered channel to the loader, which commits
// each batch's rows together with its cursor. Streams run concurrently, bounded by
// Config.Concurrency.
//
// Within a stream, batches go to up to Config.LoadWorkers load workers (a partition
// always to the same one, so its batches commit in order). A worker commits every batch
// that waited for it while its previous load ran in ONE Load (a group commit, up to
// Config.GroupRows rows / Config.GroupBatches batches): a stream of many small batches
// (one per chat) pays one transaction per group instead of one per batch, and a
// cursor is still stored only together with the rows it covers. A group still below
// those limits waits up to Config.GroupLinger (10ms) for more batches while the stream
// is producing, so a slow trickle of small batches does not commit a few dozen rows at
// a time.
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
//   - A stream another process is running (it holds the stream's lease) is skipped
//     (status skipped), not failed.
//   - Cancellation (a signal, or a deadline such as --max-duration) stops fetching at
//     once; the batch being loaded gets a short grace period to commit (Config.LoadGrace)
//     and is otherwise rolled back; the run is recorded as cancelled, and the next run
//     continues from the last committed cursor.
//   - Memory is bounded per running stream by Config.QueueRows / Config.QueueBatches
//     (received, not yet committed) plus Config.Buffer batches: nothing holds a whole
//     stream.
package pipeline
