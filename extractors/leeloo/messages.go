package leeloo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmsync/crmsync/internal/apiclient"
)

// chatCursor is the checkpoint of one chat (partition = channel or account id) of the
// messages and account_messages streams:
//
//	{"v":1,"wm":"2026-10-31T08:00:00.000Z"}                               chat read up to wm
//	{"v":1,"wm":"…","scan":{"offset":100,"max":"2026-11-01T…"}}          a scan is under way
//
// wm (watermark) is the newest createdAt committed for the chat (or its lastMessageTime
// when that is newer, so a chat whose list lags is not re-read every run). scan is an
// unfinished newest-first scan: how many messages are committed and the newest createdAt
// seen so far; a killed run resumes at offset (new messages at the front meanwhile make it
// re-read a few: harmless).
type chatCursor struct {
	V    int        `json:"v"`
	WM   *time.Time `json:"wm,omitempty"`
	Scan *chatScan  `json:"scan,omitempty"`
}

func (c *chatCursor) version() int { return c.V }

type chatScan struct {
	Offset int        `json:"offset"`
	Max    *time.Time `json:"max,omitempty"`
}

// chatRef is a chat to consider: its id, the lastMessageTime the listing showed and,
// once looked up, its stored cursor.
type chatRef struct {
	id     string
	last   FlexTime
	cursor json.RawMessage
}

// chats holds what one run of a messages stream knows about its chats.
type chats struct {
	r        *run
	pathFmt  string // chat-messages path with %s for the chat id
	mu       sync.Mutex
	synced   chatSet // chats read in this run (guarded by mu)
	dupWarns int
}

// chatSet is the set of chats read in a run, each with the lastMessageTime it was
// listed with. A chat is remembered by a 64-bit hash of its id (16 bytes an entry, the
// id's text not kept): two ids with the same hash would make the second chat look read
// already, and it would then be read by the next run, its watermark not having moved
// (a chance of about n²/2⁶⁵ for n chats in the set, 10⁻¹³ for a full window).
//
// It must not grow with the account. The v2 listing reads last-message windows
// forward: forgetBefore drops the chats listed before the window being read, which are
// listed again only if a new message moved them, and then reading them again is right;
// the set holds one window and its overlap with the one before. The v1 account listing
// has no such order (paged): nextPage keeps the chats of the current and the previous
// listing page only, which is where a list shifted by new accounts lists one again; one
// listed again further on is read twice (harmless upserts).
type chatSet struct {
	seed      maphash.Seed
	cur, prev map[uint64]int64 // hash of the id → listed lastMessageTime (Unix ns; 0: none)
	prunedTo  int64            // cur holds no listed time before this
}

func newChatSet() chatSet {
	return chatSet{seed: maphash.MakeSeed(), cur: map[uint64]int64{}}
}

// add records id, listed with last, and reports whether it was there already.
func (s *chatSet) add(id string, last FlexTime) (seen bool) {
	h := maphash.String(s.seed, id)
	if _, ok := s.cur[h]; ok {
		return true
	}
	if _, ok := s.prev[h]; ok {
		return true
	}
	var ns int64
	if last.Valid {
		ns = last.T.UnixNano()
	}
	s.cur[h] = ns
	return false
}

// forgetBefore drops the chats listed with a lastMessageTime before from (v2 windows).
func (s *chatSet) forgetBefore(from time.Time) {
	at := from.UnixNano()
	if at <= s.prunedTo {
		return
	}
	for h, last := range s.cur {
		if last != 0 && last < at {
			delete(s.cur, h)
		}
	}
	s.prunedTo = at
}

// nextPage forgets the chats of the page before the one just listed (v1 pages).
func (s *chatSet) nextPage() {
	s.prev, s.cur = s.cur, make(map[uint64]int64, len(s.cur))
}

func (c *chats) forgetBefore(from time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced.forgetBefore(from)
}

func (c *chats) nextPage() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced.nextPage()
}

// messages reads the chats of every communication channel (partition = channel id).
// The channels are listed with the same last-message windows as communication_channels
// (partition "" holds that listing's windowCursor, advanced only after the chats of a
// listing page are committed). First sync (or full refresh): every chat in full.
// Afterwards only chats whose lastMessageTime is newer than their watermark are read,
// newest-first, until a whole page is older than the watermark minus Lookback.
func (r *run) messages(ctx context.Context) error {
	c := &chats{r: r, pathFmt: "/api/v2/communication-channels/%s/chat-messages", synced: newChatSet()}
	p := c.newPool(ctx)
	return p.wait(r.walkWindows(p.ctx, "/api/v2/communication-channels", "channels", false, func(ctx context.Context, items []json.RawMessage, cursor json.RawMessage) error {
		c.forgetBefore(r.windowFrom)
		refs := make([]chatRef, 0, len(items))
		for _, raw := range items {
			var ch Channel
			if decodeItem(raw, &ch) != nil || ch.ID.Text() == "" {
				continue // the communication_channels stream rejects it
			}
			refs = append(refs, chatRef{id: strings.Clone(ch.ID.Text()), last: ch.LastMessageTime})
		}
		return p.syncPage(refs, cursor)
	}))
}

// accountMessages is messages through the v1 API: accounts are listed in full (v1 has no
// last-message filter; partition "" holds a scanCursor) and each account's chat is read
// from /api/v1/accounts/{id}/chat-messages with the same watermarks, into leeloo.messages
// (the account id is the channel id).
func (r *run) accountMessages(ctx context.Context) error {
	c := &chats{r: r, pathFmt: "/api/v1/accounts/%s/chat-messages", synced: newChatSet()}
	p := c.newPool(ctx)
	return p.wait(r.walkScan(p.ctx, "/api/v1/accounts", nil, "accounts", func(ctx context.Context, items []json.RawMessage, cursor json.RawMessage) error {
		c.nextPage()
		refs := make([]chatRef, 0, len(items))
		for _, raw := range items {
			var a AccountFields
			if decodeItem(raw, &a) != nil || a.ID.Text() == "" {
				continue // the accounts stream rejects it
			}
			refs = append(refs, chatRef{id: strings.Clone(a.ID.Text()), last: a.LastMessageTime})
		}
		return p.syncPage(refs, cursor)
	}))
}

// chatPool reads the chats of consecutive listing pages with at most Config.Concurrency
// chats at a time, sliding across pages: the next listing page is fetched and its chats
// started while the previous page's last chats are still being read (waiting for a
// page's slowest chat would leave the other workers idle). A listing page's cursor
// (partition "") is sent only once every chat of that page and of every earlier page has
// sent its batches, in page order, so it never moves past a chat not yet handed on.
type chatPool struct {
	c     *chats
	g     *errgroup.Group
	ctx   context.Context // cancelled when a chat fails
	mu    sync.Mutex      // guards pages and their left counts
	emit  sync.Mutex      // held while sending cursors, so they go out in page order
	pages []*listingPage  // pages whose cursor is not sent yet, in order
}

// listingPage is a listing page's cursor waiting for its chats.
type listingPage struct {
	left   int // chats still being read
	cursor json.RawMessage
}

func (c *chats) newPool(ctx context.Context) *chatPool {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(c.r.e.cfg.Concurrency, 1))
	return &chatPool{c: c, g: g, ctx: gctx}
}

// syncPage starts reading the chats of one listing page that need it; it blocks only
// while every worker is busy. The page's cursors are read here, in one query: the
// stream's cursors are not held whole (one per chat would grow with the account).
func (p *chatPool) syncPage(refs []chatRef, cursor json.RawMessage) error {
	refs = p.c.unsynced(refs)
	if err := p.c.lookup(p.ctx, refs); err != nil {
		return err
	}
	var todo []chatRef
	for _, ref := range refs {
		if p.c.needsSync(ref) {
			todo = append(todo, ref)
		}
	}
	lp := &listingPage{left: len(todo), cursor: cursor}
	p.mu.Lock()
	p.pages = append(p.pages, lp)
	p.mu.Unlock()
	if len(todo) == 0 {
		return p.flush()
	}
	for _, ref := range todo {
		if err := p.ctx.Err(); err != nil {
			return err // a chat failed: its page's cursor (and every later one) stays unsent
		}
		p.g.Go(func() error {
			if err := p.c.syncChat(p.ctx, ref); err != nil {
				return err
			}
			p.mu.Lock()
			lp.left--
			p.mu.Unlock()
			return p.flush()
		})
	}
	return nil
}

// flush sends the cursors of the leading pages whose chats are all handed on.
func (p *chatPool) flush() error {
	p.emit.Lock()
	defer p.emit.Unlock()
	for {
		p.mu.Lock()
		if len(p.pages) == 0 || p.pages[0].left > 0 {
			p.mu.Unlock()
			return nil
		}
		lp := p.pages[0]
		p.pages = p.pages[1:]
		p.mu.Unlock()
		b := newBatch().done("", lp.cursor, p.c.r.counter)
		b.AfterEarlier = true // the listing must not pass a chat whose rows are still loading
		if err := p.c.r.send(p.ctx, b); err != nil {
			return err
		}
	}
}

// wait waits for the chats still being read and returns the first failure: a chat's
// error before the listing's (which is then usually its cancellation).
func (p *chatPool) wait(listErr error) error {
	if err := p.g.Wait(); err != nil {
		return err
	}
	return listErr
}

// unsynced returns the chats of refs not yet read in this run, and records them as read.
func (c *chats) unsynced(refs []chatRef) []chatRef {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := refs[:0]
	for _, ref := range refs {
		if !c.synced.add(ref.id, ref.last) {
			out = append(out, ref)
		}
	}
	return out
}

// lookup reads the stored cursors of refs into them (none on a full refresh).
func (c *chats) lookup(ctx context.Context, refs []chatRef) error {
	if c.r.req.FullRefresh || len(refs) == 0 {
		return nil
	}
	ids := make([]string, len(refs))
	for i, ref := range refs {
		ids[i] = ref.id
	}
	st, err := c.r.req.Lookup(ctx, ids)
	if err != nil {
		return fmt.Errorf("read the cursors of %d chats: %w", len(ids), err)
	}
	for i := range refs {
		refs[i].cursor = st[refs[i].id]
	}
	return nil
}

// needsSync decides whether a listed chat, not yet read in this run, must be read.
func (c *chats) needsSync(ref chatRef) bool {
	if c.r.req.FullRefresh {
		return true
	}
	var cur chatCursor
	if !c.r.parseRaw(ref.id, ref.cursor, &cur) || cur.WM == nil || cur.Scan != nil || !ref.last.Valid {
		return true
	}
	return ref.last.T.After(*cur.WM)
}

// errEnough stops a chat scan once its pages are older than the watermark.
var errEnough = errors.New("reached the watermark")

// syncChat reads one chat newest-first; each page is a batch of its partition.
func (c *chats) syncChat(ctx context.Context, ref chatRef) error {
	r := c.r
	counter := r.counter.Sub() // this chat's requests, for its batches
	defer func() { r.unreported.Add(int64(counter.Take())) }()
	var cur chatCursor
	if r.req.FullRefresh || !r.parseRaw(ref.id, ref.cursor, &cur) {
		cur = chatCursor{V: cursorVersion}
	}
	full := cur.WM == nil
	var stopBefore time.Time
	if !full {
		stopBefore = cur.WM.Add(-r.e.cfg.Lookback)
	}
	start, maxSeen := 0, cur.WM
	if cur.Scan != nil {
		start = cur.Scan.Offset
		maxSeen = laterOf(maxSeen, cur.Scan.Max)
	}
	final := func() json.RawMessage {
		wm := maxSeen
		if ref.last.Valid {
			wm = laterOf(wm, &ref.last.T)
		}
		return mustJSON(chatCursor{V: cursorVersion, WM: wm})
	}

	path := fmt.Sprintf(c.pathFmt, pathEscape(ref.id))
	channelID := any(ref.id) // boxed once for every message row of the chat
	finalSent := false
	err := apiclient.OffsetPages(ctx, apiclient.OffsetConfig{Limit: r.e.cfg.PageSize, Start: start, Ahead: r.e.cfg.Ahead},
		r.e.listFetch(counter, path, nil, "messages"),
		func(p apiclient.Page) error {
			b := newBatch()
			allOld := len(p.Items) > 0
			seen := make(map[string]bool, len(p.Items))
			for _, raw := range p.Items {
				m, err := decode[Message](raw, "id")
				if err != nil {
					b.reject(tabMessages, raw, fmt.Errorf("chat %s: %w", ref.id, err))
					allOld = false
					continue
				}
				m.raw, m.channelID = raw, channelID
				if seen[m.ID.Text()] {
					c.warnDuplicate(ref.id, m.ID.Text())
				}
				seen[m.ID.Text()] = true
				b.add(tabMessages, messagesTable.row(m))
				if m.CreatedAt.Valid {
					t := m.CreatedAt.T
					maxSeen = laterOf(maxSeen, &t)
					if !t.Before(stopBefore) {
						allOld = false
					}
				} else {
					allOld = false
				}
			}
			stop := !full && allOld
			var cursor json.RawMessage
			if p.Last || stop {
				cursor, finalSent = final(), true
			} else {
				cursor = mustJSON(chatCursor{V: cursorVersion, WM: cur.WM, Scan: &chatScan{Offset: p.Offset + len(p.Items), Max: maxSeen}})
			}
			if err := r.send(ctx, b.done(ref.id, cursor, counter)); err != nil {
				return err
			}
			if stop {
				return errEnough
			}
			return nil
		})
	if isNotFound(err) && !finalSent {
		// The channel was deleted after it was listed: nothing to read, and no cursor
		// (a channel that comes back is read in full).
		r.log.Warn("chat disappeared between listing and reading", "chat_id", ref.id)
		return nil
	}
	if err != nil && !errors.Is(err, errEnough) {
		return fmt.Errorf("read chat %s: %w", ref.id, err)
	}
	if !finalSent {
		return r.send(ctx, newBatch().done(ref.id, final(), counter))
	}
	return nil
}

// warnDuplicate logs a message id repeated within one chat page: the table keeps one
// row per (channel_id, id), so the API sending two messages under one id loses one (§10.2).
func (c *chats) warnDuplicate(chatID, msgID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dupWarns++
	if c.dupWarns <= 10 {
		c.r.log.Warn("message id repeated within a chat; one of the messages is kept", "chat_id", chatID, "message_id", msgID)
	}
}

// laterOf returns the later of two optional times.
func laterOf(a, b *time.Time) *time.Time {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.After(*a):
		return b
	}
	return a
}
