package leeloo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
)

// pathEscape escapes an id for a path segment (ids are hex, but an odd one must not be
// able to change the path).
func pathEscape(id string) string { return url.PathEscape(id) }

// isNotFound reports whether err is an HTTP 404 answer.
func isNotFound(err error) bool {
	var se *apiclient.StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound
}

// tunnelsCursorVersion is the version of the tunnels stream's cursor. Version 1 was a
// scanCursor; it is read as "nothing remembered": one full pass.
const tunnelsCursorVersion = 2

// tunnelsCursor is the checkpoint of the tunnels stream:
//
//	{"v":2,"done":"…","sweep":"…","seen":{"<tunnel id>":"<fingerprint>",…},
//	 "pass":{"full":false,"started":"…","offset":50,"seen":{…}}}
//
// seen holds, for each tunnel of the last completed pass whose detail is committed, a
// fingerprint (FNV-1a, hex) of its list item exactly as sent. done is when that pass
// started, sweep when the last full pass started; pass is an unfinished pass (its offset
// and the fingerprints of its committed pages).
type tunnelsCursor struct {
	V     int               `json:"v"`
	Done  *time.Time        `json:"done,omitempty"`
	Sweep *time.Time        `json:"sweep,omitempty"`
	Seen  map[string]string `json:"seen,omitempty"`
	Pass  *tunnelsPass      `json:"pass,omitempty"`
}

type tunnelsPass struct {
	Full    bool              `json:"full"`
	Started time.Time         `json:"started"`
	Offset  int               `json:"offset"`
	Total   int               `json:"total,omitempty"` // the list's total as of Offset
	Seen    map[string]string `json:"seen,omitempty"`
}

// fingerprint identifies a list item's exact bytes.
func fingerprint(raw []byte) string {
	h := fnv.New64a()
	_, _ = h.Write(raw)
	return strconv.FormatUint(h.Sum64(), 16)
}

// tunnels reads /api/v2/tunnels in full and, for each tunnel, its detail with
// include=leadgentools (§6.7) into leeloo.leadgentools and leeloo.traffic_sources, both
// replaced per tunnel. A tunnel whose detail answers 404 (deleted since the list) keeps its
// row and loses its tools.
//
// Details are read only for tunnels whose list item changed since the last pass (any
// byte: updatedAt, name, status, links.leadgentools) or that are new to us; an unchanged
// tunnel gets no row at all (its row alone would drop its tools). A full pass (the first
// run, a full refresh, a sweep every FullSweepEvery) reads every detail: it catches edits
// of a tool or a traffic source that leave the tunnel's list item as it was (the
// reference does not say whether they move the tunnel's updatedAt).
func (r *run) tunnels(ctx context.Context) error {
	cfg := r.e.cfg
	now := r.req.Started
	var cur tunnelsCursor
	if raw, ok := r.req.State[""]; ok && len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &cur); err != nil || (cur.V != tunnelsCursorVersion && cur.V != 1) {
			r.log.Warn("ignoring unreadable cursor; reading from scratch", "partition", "", "cursor", string(raw))
			cur = tunnelsCursor{}
		} else if cur.V == 1 {
			cur = tunnelsCursor{} // a version 1 scanCursor remembers no tunnel: one full pass
		}
	}
	var pass tunnelsPass
	switch {
	case r.req.FullRefresh || (cur.Done == nil && cur.Pass == nil):
		pass = tunnelsPass{Full: true, Started: now}
	case cur.Pass != nil:
		pass = *cur.Pass
		r.log.Info("resuming an unfinished pass", "offset", pass.Offset, "full", pass.Full)
	case cfg.FullSweepEvery > 0 && (cur.Sweep == nil || now.Sub(*cur.Sweep) >= cfg.FullSweepEvery):
		pass = tunnelsPass{Full: true, Started: now}
		r.log.Info("full sweep due", "last_sweep", cur.Sweep)
	default:
		pass = tunnelsPass{Started: now}
	}
	if pass.Seen == nil {
		pass.Seen = map[string]string{}
	}
	// A full pass loads every tunnel: a pass over the complete list (an incremental
	// one loads only the changed ones).
	lp := &listPass{table: tabTunnels, on: pass.Full, start: pass.Full && (cur.Pass == nil || r.req.FullRefresh)}
	final := func() json.RawMessage {
		c := tunnelsCursor{V: tunnelsCursorVersion, Done: &pass.Started, Sweep: cur.Sweep, Seen: pass.Seen}
		if pass.Full {
			c.Sweep = &pass.Started
		}
		return mustJSON(c)
	}
	finalSent := false
	err := apiclient.OffsetPages(ctx, apiclient.OffsetConfig{Limit: cfg.PageSize, Start: pass.Offset, StartTotal: pass.Total, Ahead: cfg.Ahead},
		r.e.listFetch(r.counter, "/api/v2/tunnels", nil, "tunnels"),
		func(p apiclient.Page) error {
			b := newBatch()
			var tunnels []*Tunnel
			var fps []string
			for _, raw := range p.Items {
				fp := fingerprint(raw)
				var id struct {
					ID FlexString `json:"id"`
				}
				if !pass.Full && json.Unmarshal(raw, &id) == nil && id.ID.Text() != "" && cur.Seen[id.ID.Text()] == fp {
					pass.Seen[strings.Clone(id.ID.Text())] = fp // unchanged: no row, no detail
					continue
				}
				if t := addRecord(b, raw, "id", &tunnelsTable, func(t *Tunnel) { t.raw = raw }); t != nil {
					tunnels, fps = append(tunnels, t), append(fps, fp)
				}
			}
			per := make([]*batch, len(tunnels))
			ok := make([]bool, len(tunnels))
			err := forEach(ctx, len(tunnels), cfg.Concurrency, func(ctx context.Context, i int) error {
				pb, found, err := r.tunnelTools(ctx, tunnels[i].ID.Text())
				per[i], ok[i] = pb, found
				return err
			})
			if err != nil {
				return err
			}
			for i, pb := range per {
				b.merge(pb)
				if ok[i] {
					pass.Seen[strings.Clone(tunnels[i].ID.Text())] = fps[i]
				}
			}
			pass.Offset, pass.Total = p.Offset+len(p.Items), max(p.Total, 0)
			var c json.RawMessage
			if p.Last {
				c, finalSent = final(), true
			} else {
				cp := pass
				c = mustJSON(tunnelsCursor{V: tunnelsCursorVersion, Done: cur.Done, Sweep: cur.Sweep, Seen: cur.Seen, Pass: &cp})
			}
			lp.at(p.Last)
			return r.send(ctx, lp.tag(b.done("", c, r.counter)))
		})
	if err != nil {
		return err
	}
	if !finalSent {
		lp.at(true)
		return r.send(ctx, lp.tag(newBatch().done("", final(), r.counter)))
	}
	return nil
}

// tunnelTools reads one tunnel's lead generation tools and their traffic sources; found
// is false when the tunnel is gone (404).
func (r *run) tunnelTools(ctx context.Context, tunnelID string) (_ *batch, found bool, _ error) {
	b := newBatch()
	q := url.Values{"include": {"leadgentools"}}
	path := "/api/v2/tunnels/" + pathEscape(tunnelID)
	env, err := r.e.get(ctx, r.counter, path, q)
	if isNotFound(err) {
		r.log.Warn("tunnel disappeared between list and detail", "tunnel_id", tunnelID)
		return b, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read tunnel %s: %w", tunnelID, err)
	}
	var inc struct {
		Leadgentools json.RawMessage `json:"leadgentools"`
	}
	if t := trimmed(env.Included); len(t) > 0 && t[0] == '{' {
		if err := json.Unmarshal(t, &inc); err != nil {
			return nil, false, fmt.Errorf("read tunnel %s: decode included: %w", tunnelID, err)
		}
	}
	tools, err := listItems(inc.Leadgentools, "")
	if err != nil {
		return nil, false, fmt.Errorf("read tunnel %s: included.leadgentools: %w", tunnelID, err)
	}
	for _, raw := range tools {
		l, err := decode[Leadgentool](raw, "id")
		if err != nil {
			b.reject(tabLeadgentools, raw, fmt.Errorf("tunnel %s: %w", tunnelID, err))
			continue
		}
		l.raw, l.tunnelID = raw, tunnelID
		b.add(tabLeadgentools, leadgentoolsTable.row(l))
		for i, sraw := range l.TrafficSources {
			s := &TrafficSource{leadgentoolID: l.ID.Text(), tunnelID: tunnelID, raw: sraw}
			if err := decodeItem(sraw, s); err != nil {
				b.reject(tabTrafficSources, sraw, fmt.Errorf("leadgentool %s trafficSources[%d]: %w", l.ID.Text(), i, err))
				continue
			}
			if s.key() == nil {
				b.reject(tabTrafficSources, sraw, fmt.Errorf("leadgentool %s trafficSources[%d]: fields id and name: both missing (the record's key)", l.ID.Text(), i))
				continue
			}
			b.add(tabTrafficSources, trafficSourcesTable.row(s))
		}
	}
	return b, true, nil
}

// tunnelStats takes one snapshot of every tunnel's statistics, stamped with the run's
// start (captured_at): from /api/v2/tunnels/stats, or, when that endpoint fails (404 or
// any error after retries), from /api/v2/tunnels/{id}/stats for each listed tunnel.
// Cursor: {"v":1,"captured_at":"…"}, the last snapshot taken (informational: every run
// takes a new one).
func (r *run) tunnelStats(ctx context.Context) error {
	at := r.req.Started
	cursor := mustJSON(struct {
		V          int    `json:"v"`
		CapturedAt string `json:"captured_at"`
	}{cursorVersion, at.Format(filterLayout)})

	env, err := r.e.get(ctx, r.counter, "/api/v2/tunnels/stats", nil)
	if err == nil {
		items, lerr := listItems(env.Data, "stats")
		if lerr == nil {
			b := newBatch()
			for _, raw := range items {
				r.addStat(b, raw, "")
			}
			return r.send(ctx, b.done("", cursor, r.counter))
		}
		err = lerr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.log.Warn("all-tunnels stats failed; reading each tunnel's stats", "error", err)

	fetch := r.e.listFetch(r.counter, "/api/v2/tunnels", nil, "tunnels")
	return apiclient.OffsetPages(ctx, apiclient.OffsetConfig{Limit: r.e.cfg.PageSize, Ahead: r.e.cfg.Ahead}, fetch, func(p apiclient.Page) error {
		var ids []string
		for _, raw := range p.Items {
			var t Tunnel
			if decodeItem(raw, &t) == nil && t.ID.Text() != "" {
				ids = append(ids, t.ID.Text())
			}
		}
		per := make([]*batch, len(ids))
		err := forEach(ctx, len(ids), r.e.cfg.Concurrency, func(ctx context.Context, i int) error {
			path := "/api/v2/tunnels/" + pathEscape(ids[i]) + "/stats"
			env, err := r.e.get(ctx, r.counter, path, nil)
			if isNotFound(err) {
				per[i] = newBatch()
				return nil
			}
			if err != nil {
				return fmt.Errorf("read stats of tunnel %s: %w", ids[i], err)
			}
			pb := newBatch()
			if t := trimmed(env.Data); len(t) > 0 && t[0] == '{' {
				r.addStat(pb, t, ids[i])
			} else if len(t) > 0 && t[0] == '[' { // an array of one, tolerated
				items, _ := listItems(t, "")
				for _, raw := range items {
					r.addStat(pb, raw, ids[i])
				}
			}
			per[i] = pb
			return nil
		})
		if err != nil {
			return err
		}
		b := newBatch()
		for _, pb := range per {
			b.merge(pb)
		}
		return r.send(ctx, b.done("", cursor, r.counter))
	})
}

// addStat decodes one statistics object; tunnelID fills a missing tunnelId when the object
// came from the per-tunnel endpoint.
func (r *run) addStat(b *batch, raw json.RawMessage, tunnelID string) {
	s := &TunnelStat{}
	if err := decodeItem(raw, s); err != nil {
		b.reject(tabTunnelStats, raw, err)
		return
	}
	if s.TunnelID.Text() == "" {
		if tunnelID == "" {
			b.reject(tabTunnelStats, raw, errors.New("field tunnelId: missing or empty (the record's key)"))
			return
		}
		s.TunnelID = text(tunnelID)
	}
	s.raw, s.capturedAt = raw, r.req.Started
	b.add(tabTunnelStats, tunnelStatsTable.row(s))
	revs, err := listItems(s.Revenue, "")
	if err != nil {
		b.reject(tabStatsRevenue, s.Revenue, fmt.Errorf("tunnel %s field revenue: %w", s.TunnelID.Text(), err))
		return
	}
	for i, rraw := range revs {
		rr := &revenueRow{tunnelID: s.TunnelID.Text(), capturedAt: s.capturedAt, ordinal: int32(i), raw: rraw}
		if err := decodeItem(rraw, &rr.Revenue); err != nil {
			b.reject(tabStatsRevenue, rraw, fmt.Errorf("tunnel %s revenue[%d]: %w", s.TunnelID.Text(), i, err))
			continue
		}
		b.add(tabStatsRevenue, statsRevenueTable.row(rr))
	}
}

func trimmed(b json.RawMessage) json.RawMessage {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
