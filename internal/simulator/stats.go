package simulator

import (
	"maps"
	"sync"
	"time"
)

// Stats counts what the simulator served since New or the last ResetStats.
type Stats struct {
	// Requests is the number of requests per API (APILeeloo, APITextRequest).
	Requests map[string]int
	// Status is the number of answers per API and HTTP status code.
	Status map[string]map[int]int
	// Routes is the number of requests per route pattern ("leeloo GET /api/v2/people").
	Routes map[string]int
	// MaxInWindow is, per API, the largest number of authenticated requests that
	// arrived within any one RateWindow for one key (rejected ones included), so a test
	// can assert that a client never exceeded the limit.
	MaxInWindow map[string]int
	// RateLimited is the number of 429 answers per API.
	RateLimited map[string]int
	// Truncated is the number of bodies cut by Faults.TruncateRate.
	Truncated int
}

// Total is the number of requests to both APIs.
func (st Stats) Total() int {
	n := 0
	for _, v := range st.Requests {
		n += v
	}
	return n
}

type arrival struct {
	t        time.Time
	accepted bool
}

// arrivals is one key's requests within the current window, oldest first, with the
// number of them that were accepted kept up to date, so that admitting a request costs
// the same however many arrived in the window (a full sync sends thousands a second).
type arrivals struct {
	list     []arrival
	accepted int
}

type statsState struct {
	mu       sync.Mutex
	s        Stats
	arrivals map[string]*arrivals // per api+key
	faultN   uint64
}

func (st *statsState) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s = Stats{
		Requests:    map[string]int{},
		Status:      map[string]map[int]int{},
		Routes:      map[string]int{},
		MaxInWindow: map[string]int{},
		RateLimited: map[string]int{},
	}
	st.arrivals = map[string]*arrivals{}
}

func (st *statsState) record(api, route string, status int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Requests[api]++
	if st.s.Status[api] == nil {
		st.s.Status[api] = map[int]int{}
	}
	st.s.Status[api][status]++
	st.s.Routes[api+" "+route]++
	if status == 429 {
		st.s.RateLimited[api]++
	}
}

// admit applies the rolling-window limit for one key and records the arrival. It
// returns how long until a slot frees when the request is refused. limit 0 admits all
// (arrivals are still counted for MaxInWindow).
func (st *statsState) admit(api, key string, limit int, window time.Duration, now time.Time) (time.Duration, bool) {
	if key == "" {
		return 0, true
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	k := api + "\x00" + key
	w := st.arrivals[k]
	if w == nil {
		w = &arrivals{}
		st.arrivals[k] = w
	}
	cut := 0
	for cut < len(w.list) && now.Sub(w.list[cut].t) >= window {
		if w.list[cut].accepted {
			w.accepted--
		}
		cut++
	}
	w.list = w.list[cut:]
	ok := limit <= 0 || w.accepted < limit
	var oldest time.Time
	if !ok {
		for _, a := range w.list {
			if a.accepted {
				oldest = a.t
				break
			}
		}
	}
	w.list = append(w.list, arrival{t: now, accepted: ok})
	if ok {
		w.accepted++
	}
	if len(w.list) > st.s.MaxInWindow[api] {
		st.s.MaxInWindow[api] = len(w.list)
	}
	if ok {
		return 0, true
	}
	return window - now.Sub(oldest), false
}

func (st *statsState) nextFaultN() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.faultN++
	return st.faultN
}

func (st *statsState) addTruncated() {
	st.mu.Lock()
	st.s.Truncated++
	st.mu.Unlock()
}

func (st *statsState) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := Stats{
		Requests:    maps.Clone(st.s.Requests),
		Status:      map[string]map[int]int{},
		Routes:      maps.Clone(st.s.Routes),
		MaxInWindow: maps.Clone(st.s.MaxInWindow),
		RateLimited: maps.Clone(st.s.RateLimited),
		Truncated:   st.s.Truncated,
	}
	for k, v := range st.s.Status {
		out.Status[k] = maps.Clone(v)
	}
	return out
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats { return s.st.snapshot() }

// ResetStats zeroes the counters and forgets the rate-limit windows.
func (s *Sim) ResetStats() { s.st.reset() }
