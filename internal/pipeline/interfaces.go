package pipeline

import (
	"context"

	"github.com/crmsync/crmsync/internal/stream"
)

// Extractor is one platform's set of streams (extractors/leeloo, extractors/textrequest).
type Extractor interface {
	// Streams describes every stream the extractor can run.
	Streams() []stream.Desc
	// Extract runs one stream once: it reads the API from req.State (or from scratch
	// when req.FullRefresh) and sends batches on out, in commit order, each carrying
	// its partition's cursor. It returns when the stream is read to its end, or with
	// ctx's error when cancelled. It never closes out.
	Extract(ctx context.Context, req stream.Request, out chan<- stream.Batch) error
}

// Loader writes batches' rows and cursors in one transaction (loaders/postgres).
type Loader interface {
	// Load commits the batches together (a group commit): the effect is that of loading
	// them one after another, in order — a key's latest row wins and each partition
	// stores its last batch's cursor — but all of them commit, or none does.
	Load(ctx context.Context, runID int64, desc stream.Desc, batches ...stream.Batch) (stream.LoadResult, error)
}

// Checkpoints reads stored cursors, keeps the run history and the per-stream leases
// (internal/checkpoint).
type Checkpoints interface {
	// State returns every partition's cursor of a stream.
	State(ctx context.Context, source, streamName string) (stream.State, error)
	// Cursors returns the cursors of the given partitions (those with none left out):
	// how a stream with Desc.CursorsOnDemand reads them as it goes.
	Cursors(ctx context.Context, source, streamName string, partitions []string) (stream.State, error)
	// Begin opens a run of a stream: it takes the stream's lease (so no other process
	// runs it meanwhile) and inserts its sync.runs row with status running. ok is false,
	// with no row, when another process is running the stream.
	Begin(ctx context.Context, rec stream.RunRecord) (runID int64, ok bool, err error)
	// FinishRun writes the run's outcome and counts and gives up its lease. A zero
	// rec.ID records a run that failed before Begin could open it.
	FinishRun(ctx context.Context, rec stream.RunRecord) error
}
