package simulator

import (
	"flag"
	"time"
)

// RegisterFlags binds the options and every fault to flags on fs, for
// `crmsync simulate`. Defaults are those of New.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed of the generated data (the same seed gives the same data)")
	fs.IntVar(&o.Scale, "scale", o.Scale, "multiply every record count by N (1: ~200 Leeloo people, 3x150 Text Request contacts)")
	fs.StringVar(&o.LeelooToken, "leeloo-token", o.LeelooToken, `accepted X-Leeloo-AuthToken (default "demo-leeloo-token")`)
	fs.StringVar(&o.TextRequestKey, "textrequest-key", o.TextRequestKey, `accepted x-api-key (default "demo-textrequest-key")`)
	fs.StringVar(&o.TwinEmail, "twin-email", o.TwinEmail, `accepted TWIN login e-mail (default "`+DefaultTwinEmail+`")`)
	fs.StringVar(&o.TwinPassword, "twin-password", o.TwinPassword, `accepted TWIN password (default "`+DefaultTwinPassword+`")`)
	fs.DurationVar(&o.TwinTokenTTL, "twin-token-ttl", o.TwinTokenTTL, "cap the lifetime of TWIN access tokens (e.g. 30s), so they lapse during a sync; 0 = as asked (a week by default)")
	fs.StringVar(&o.CalltouchToken, "calltouch-token", o.CalltouchToken, `accepted Calltouch API token (default "demo-calltouch-token")`)
	fs.Int64Var(&o.CalltouchSiteID, "calltouch-site-id", o.CalltouchSiteID, "Calltouch cabinet (site) id served (default 51234)")
	fs.Func("now", "present of the generated data, RFC 3339 (default 2026-11-01T00:00:00Z)", func(v string) error {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return err
		}
		o.Now = t
		return nil
	})
	f := &o.Faults
	fs.DurationVar(&f.Latency, "latency", f.Latency, "latency added to every request")
	fs.IntVar(&f.TextRequestRateLimit, "rate-limit-textrequest", f.TextRequestRateLimit, "Text Request requests per rate window per key, 0 = off (the real connector: 100 per 60s)")
	fs.IntVar(&f.LeelooRateLimit, "rate-limit-leeloo", f.LeelooRateLimit, "Leeloo requests per rate window per token, 0 = off")
	fs.DurationVar(&f.RateWindow, "rate-window", f.RateWindow, "rolling window of the rate limits (default 60s)")
	fs.Float64Var(&f.ErrorRate, "error-rate", f.ErrorRate, "share of requests answered 500/502/503")
	fs.Float64Var(&f.TruncateRate, "truncate-rate", f.TruncateRate, "share of 200 answers whose JSON body is cut short")
	fs.BoolVar(&f.OffsetDrift, "offset-drift", f.OffsetDrift, "insert a new record at the front of a list while it is being paged")
	fs.BoolVar(&f.DuplicateMessageIDs, "duplicate-message-ids", f.DuplicateMessageIDs, "Leeloo: reuse some message ids in a second channel")
	fs.BoolVar(&f.UnknownFields, "unknown-fields", f.UnknownFields, "add undocumented fields to every record")
	fs.BoolVar(&f.NULCharacters, "nul-characters", f.NULCharacters, "put NUL characters into some names and texts")
	fs.BoolVar(&f.EmptyMessageIDs, "empty-message-ids", f.EmptyMessageIDs, `Text Request: serve some messages with message_id ""`)
	fs.BoolVar(&f.OmitTimeZone, "omit-time-zone", f.OmitTimeZone, "Text Request: serve timestamps without the trailing Z")
	fs.IntVar(&f.LeelooPageCap, "leeloo-page-cap", f.LeelooPageCap, "largest Leeloo limit served (default 100)")
	fs.IntVar(&f.TextRequestPageCap, "textrequest-page-cap", f.TextRequestPageCap, "largest Text Request page_size served (default 500)")
	fs.IntVar(&f.TwinRateLimit, "rate-limit-twin", f.TwinRateLimit, "TWIN requests per rate window per user, 0 = off")
	fs.IntVar(&f.TwinPageCap, "twin-page-cap", f.TwinPageCap, "largest TWIN limit served (default 100)")
	fs.Float64Var(&f.TwinLostAnswerRate, "twin-lost-answer-rate", f.TwinLostAnswerRate, "share of TWIN attribute writes applied and then answered 502")
	fs.IntVar(&f.TwinTokenRequests, "twin-token-requests", f.TwinTokenRequests, `TWIN access tokens expire after N requests (401 "Token is expired."), 0 = off`)
	fs.IntVar(&f.CalltouchRateLimit, "rate-limit-calltouch", f.CalltouchRateLimit, "Calltouch requests per second per client IP, 0 = off (the real API: 5)")
	fs.IntVar(&f.CalltouchPageCap, "calltouch-page-cap", f.CalltouchPageCap, "largest Calltouch calls-journal limit served (default 1000)")
	fs.Float64Var(&f.CalltouchLostAnswerRate, "calltouch-lost-answer-rate", f.CalltouchLostAnswerRate, "share of Calltouch lead-comment requests processed and then answered 502")
	fs.BoolVar(&f.DashboardMessagesWithoutPhone, "dashboard-messages-without-phone", f.DashboardMessagesWithoutPhone, "Text Request: serve GET /dashboards/{id}/messages without the contact's phone_number")
	fs.BoolVar(&f.StrictPeopleFilter, "strict-people-filter", f.StrictPeopleFilter, "Leeloo /people requires filter[last_message] as documented")
}
