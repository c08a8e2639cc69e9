package twin

import (
	"os"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/extractortest"
	"github.com/crmsync/crmsync/internal/simulator"
)

func TestMeasureRequests(t *testing.T) {
	if os.Getenv("TWIN_MEASURE") == "" {
		t.Skip()
	}
	for _, scale := range []int{1, 10} {
		b := setup(t, simulator.Options{Seed: 1, Scale: scale}, nil)
		b.sync(t, extractortest.Options{Started: t0})
		full := b.sim.Stats()
		a1 := b.sim.TwinAuthStats()
		b.sim.ResetStats()
		b.sim.Mutate(simulator.Mutation{Twin: simulator.TwinMutation{NewSessions: 3 * scale, NewMessages: 10 * scale, TouchedSessions: 5 * scale, EditedValues: 5 * scale}})
		b.sync(t, extractortest.Options{Started: t0.Add(2 * time.Hour)})
		incr := b.sim.Stats()
		b.sim.ResetStats()
		b.sync(t, extractortest.Options{Started: t0.Add(26 * time.Hour)})
		sweep := b.sim.Stats()
		tr := b.sim.TwinTruth()
		t.Logf("scale %d: %d sessions, %d clients, %d messages; chat requests full %d (iam %d, logins %d), incremental %d (iam %d), sweep run %d; routes full %v; incr %v",
			scale, len(tr.Sessions), len(tr.ClientIDs), len(tr.Messages), full.Requests[simulator.APITwinChat], full.Requests[simulator.APITwinIAM], a1.Logins,
			incr.Requests[simulator.APITwinChat], incr.Requests[simulator.APITwinIAM], sweep.Requests[simulator.APITwinChat], full.Routes, incr.Routes)
	}
}
