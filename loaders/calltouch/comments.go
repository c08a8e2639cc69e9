// Package calltouch is the writer of the calltouch-lead-comments push (DESIGN.md,
// "Pushes"; calltouch-api.md §5.1): each row of the push's query becomes a comment on a
// Calltouch lead, sent with POST /lead-service/v1/api/comment/lead/add, up to 100 leads a
// request.
//
// Matching rules are built from the row's columns in DESIGN.md's priority order (the
// first that finds a lead wins): call by call_id, request by request_id, call by phones
// near lead_at (callContact), request by phones or e-mails near lead_at
// (requestContact); every rule carries the row's tags. The contact rules use the seed's
// examples for the type to match (nearestUniqLead for calls, nearestUniq for requests),
// search_depth_minutes (default 1440, one day) and lead_at written as dd-mm-yyyy
// hh:mm:ss in Moscow time (the cabinet's clock; the reference marks both [UNK]).
//
// Calltouch adds a comment on every call and echoes no key, so the writer is
// AtMostOnce: the engine commits the rows as 'sending' first, and only answers that
// prove nothing was processed lead to a retry. A 429 or a connection refused before the
// request was written is retried (by apiclient, within the shared CALLTOUCH_RATE_LIMIT
// budget); a validation error rejects the whole request, so the rows it names fail and
// the others are sent again at once; a 5xx, a timeout or a broken answer after the
// request went out leaves the rows 'unknown'. Per-lead results are read by position:
// commented → sent (the call or request it landed on kept as the row's result), not
// commented with no lead found → unmatched (tried again on later runs), otherwise failed.
package calltouch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/push"
)

// CommentPath is the lead-comment endpoint, under the API root (CALLTOUCH_BASE_URL).
const CommentPath = "/lead-service/v1/api/comment/lead/add"

// Limits of the endpoint and of our rows.
const (
	// MaxLeads is the most comments one request takes (documented).
	MaxLeads = 100
	// MaxRules is the most matching rules a lead takes (documented).
	MaxRules = 20
	// MaxSearchDepth is the largest search depth, in minutes (one year, documented).
	MaxSearchDepth = 525600
	// DefaultSearchDepth is the search depth of contact rules when the row gives none.
	DefaultSearchDepth = 1440
	// MaxCommentLength caps a comment, in characters. Calltouch documents no limit; a
	// comment longer than a screen is more likely a query bug than a note for a manager.
	MaxCommentLength = 4000
)

// dateLayout is the matching rules' date ("01-10-2020 12:00:00" in the seed).
const dateLayout = "02-01-2006 15:04:05"

// cabinetZone is the clock of Calltouch dates (Moscow, UTC+3, no DST since 2014).
var cabinetZone = time.FixedZone("MSK", 3*3600)

// Config configures a Writer.
type Config struct {
	// Client talks to the Calltouch API root; the Calltouch streams share it, and so
	// its rate budget (CALLTOUCH_RATE_LIMIT).
	Client *apiclient.Client
	// Token is sent as Access-Token, SiteID as SiteId.
	Token  string
	SiteID int64
}

// Writer sends lead comments.
type Writer struct {
	cfg    Config
	header http.Header
}

var _ push.Writer = (*Writer)(nil)

// New returns a Writer.
func New(cfg Config) (*Writer, error) {
	if cfg.Client == nil || cfg.Token == "" || cfg.SiteID == 0 {
		return nil, errors.New("calltouch comments: Client, Token and SiteID are required")
	}
	return &Writer{cfg: cfg, header: http.Header{
		"Access-Token": {cfg.Token},
		"Siteid":       {strconv.FormatInt(cfg.SiteID, 10)},
	}}, nil
}

// Columns are DESIGN.md's columns of the destination.
func (w *Writer) Columns() []push.Column {
	return []push.Column{
		{Name: "key", Kind: push.Text, Required: true},
		{Name: "comment", Kind: push.Text, Required: true},
		{Name: "call_id", Kind: push.Int},
		{Name: "request_id", Kind: push.Int},
		{Name: "phones", Kind: push.TextArray},
		{Name: "emails", Kind: push.TextArray},
		{Name: "lead_at", Kind: push.Time},
		{Name: "search_depth_minutes", Kind: push.Int},
		{Name: "tags", Kind: push.TextArray},
	}
}

// BatchSize is MaxLeads.
func (w *Writer) BatchSize() int { return MaxLeads }

// AtMostOnce is true: a repeated request adds the comment again.
func (w *Writer) AtMostOnce() bool { return true }

// Lead is one element of the request's comments array: the payload of a row.
type Lead struct {
	Matching   []Rule `json:"matching"`
	AddComment string `json:"addComment"`
}

// Rule is one matching rule.
type Rule struct {
	Type                 string         `json:"type"`
	CallParams           *IDParams      `json:"callParams,omitempty"`
	RequestParams        *IDParams      `json:"requestParams,omitempty"`
	CallContactParams    *ContactParams `json:"callContactParams,omitempty"`
	RequestContactParams *ContactParams `json:"requestContactParams,omitempty"`
}

// IDParams find a call or a request by its id.
type IDParams struct {
	CallID    int64    `json:"callId,omitempty"`
	RequestID int64    `json:"requestId,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	TagsLogic string   `json:"tagsLogic,omitempty"`
}

// ContactParams find a call or a request by phone (or e-mail) near a date.
type ContactParams struct {
	Phones             []string `json:"phones,omitempty"`
	Emails             []string `json:"emails,omitempty"`
	Date               string   `json:"date"`
	CallTypeToMatch    string   `json:"callTypeToMatch,omitempty"`
	RequestTypeToMatch string   `json:"requestTypeToMatch,omitempty"`
	SearchDepth        int64    `json:"searchDepth"`
	Tags               []string `json:"tags,omitempty"`
	TagsLogic          string   `json:"tagsLogic,omitempty"`
}

// Prepare builds a row's lead: its comment and its matching rules.
func (w *Writer) Prepare(r push.Row) (push.Item, error) {
	key, _ := r.String("key")
	key = strings.TrimSpace(key)
	item := push.Item{Key: key}
	if key == "" {
		return item, errors.New("key: empty or NULL")
	}
	text, _ := r.String("comment")
	switch n := utf8.RuneCountInString(text); {
	case strings.TrimSpace(text) == "":
		return item, errors.New("comment: empty or NULL")
	case n > MaxCommentLength:
		return item, fmt.Errorf("comment: %d characters, at most %d", n, MaxCommentLength)
	}
	tags := nonEmpty(r.Strings("tags"))
	logic := ""
	if len(tags) > 1 {
		logic = "and"
	}
	var rules []Rule
	if id, ok := r.Int("call_id"); ok {
		if id <= 0 {
			return item, fmt.Errorf("call_id: %d is not a Calltouch id", id)
		}
		rules = append(rules, Rule{Type: "call", CallParams: &IDParams{CallID: id, Tags: tags, TagsLogic: logic}})
	}
	if id, ok := r.Int("request_id"); ok {
		if id <= 0 {
			return item, fmt.Errorf("request_id: %d is not a Calltouch id", id)
		}
		rules = append(rules, Rule{Type: "request", RequestParams: &IDParams{RequestID: id, Tags: tags, TagsLogic: logic}})
	}
	phones, emails := nonEmpty(r.Strings("phones")), nonEmpty(r.Strings("emails"))
	at, hasDate := r.Time("lead_at")
	if (len(phones) > 0 || len(emails) > 0) && !hasDate {
		if len(rules) == 0 {
			return item, errors.New("lead_at: NULL, but matching by phones or emails needs the lead's date")
		}
	}
	depth := int64(DefaultSearchDepth)
	if d, ok := r.Int("search_depth_minutes"); ok {
		if d < 1 || d > MaxSearchDepth {
			return item, fmt.Errorf("search_depth_minutes: %d is not between 1 and %d", d, MaxSearchDepth)
		}
		depth = d
	}
	if hasDate {
		date := at.In(cabinetZone).Format(dateLayout)
		if len(phones) > 0 {
			rules = append(rules, Rule{Type: "callContact", CallContactParams: &ContactParams{
				Phones: phones, Date: date, CallTypeToMatch: "nearestUniqLead", SearchDepth: depth, Tags: tags, TagsLogic: logic}})
		}
		if len(phones) > 0 || len(emails) > 0 {
			rules = append(rules, Rule{Type: "requestContact", RequestContactParams: &ContactParams{
				Phones: phones, Emails: emails, Date: date, RequestTypeToMatch: "nearestUniq", SearchDepth: depth, Tags: tags, TagsLogic: logic}})
		}
	}
	if len(rules) == 0 {
		return item, errors.New("no matching rule: set call_id, request_id, or phones/emails with lead_at")
	}
	if len(rules) > MaxRules {
		return item, fmt.Errorf("%d matching rules, at most %d", len(rules), MaxRules)
	}
	item.Payload = Lead{Matching: rules, AddComment: text}
	return item, nil
}

func nonEmpty(ss []string, _ bool) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Send sends items (at most MaxLeads) as one request and reads the per-lead results.
func (w *Writer) Send(ctx context.Context, n *apiclient.Counter, items []push.Item) ([]push.Outcome, error) {
	outs := make([]push.Outcome, len(items))
	pending := make([]int, len(items)) // indexes of items still to send
	for i := range items {
		pending[i] = i
	}
	// A validation error rejects the whole request: the rows it names fail, the rest
	// go again. Each round removes at least one row, so this ends.
	for len(pending) > 0 {
		leads := make([]any, len(pending))
		for j, i := range pending {
			leads[j] = items[i].Payload
		}
		body, _ := json.Marshal(map[string]any{"comments": leads})
		resp, err := w.cfg.Client.Send(ctx, n, apiclient.Request{Method: http.MethodPost, Path: CommentPath, Body: body, Header: w.header, OwnAuth: true})
		results, rejected, fatal := w.read(resp, err, len(pending))
		if rejected == nil {
			for j, i := range pending {
				outs[i] = results[j]
			}
			return outs, fatal
		}
		var rest []int
		for j, i := range pending {
			if msg, bad := rejected[j]; bad {
				outs[i] = push.Outcome{Status: push.Failed, Error: "rejected by Calltouch: " + msg}
			} else {
				rest = append(rest, i)
			}
		}
		pending = rest
	}
	return outs, nil
}

// read maps one request's answer to outcomes. rejected, when not nil, lists the leads a
// validation error named (by position): nothing was processed and the rest may go
// again. fatal stops the push (credentials refused, API unreachable).
func (w *Writer) read(resp *apiclient.Response, err error, n int) (outs []push.Outcome, rejected map[int]string, fatal error) {
	all := func(st push.Status, msg string) []push.Outcome {
		o := make([]push.Outcome, n)
		for i := range o {
			o[i] = push.Outcome{Status: st, Error: msg}
		}
		return o
	}
	var se *apiclient.StatusError
	switch {
	case err != nil && apiclient.Unsent(err):
		return all(push.Failed, "not sent: "+err.Error()), nil, err
	case err != nil && !errors.As(err, &se):
		// A timeout or a connection broken after the request was written.
		return all(push.Unknown, "the request went out but its answer was lost ("+err.Error()+"); Calltouch may have added the comment"), nil, nil
	case se != nil && se.Status >= 500:
		return all(push.Unknown, fmt.Sprintf("Calltouch answered HTTP %d after the request was sent; it may have added the comment", se.Status)), nil, nil
	case se != nil && se.Status == http.StatusTooManyRequests:
		return all(push.Failed, "not sent: "+err.Error()), nil, err
	}

	var body answer
	if resp == nil || json.Unmarshal(resp.Body, &body) != nil {
		if se != nil {
			return all(push.Failed, err.Error()), nil, err
		}
		return all(push.Unknown, "Calltouch's answer is not JSON; it may have added the comment"), nil, nil
	}
	if v := body.Data.ValidationErrorData; body.Data.Type == "validationError" && v != nil {
		rejected = map[int]string{}
		var general []string
		for _, viol := range v.Violations {
			m := leadIndex.FindStringSubmatch(viol.FieldPath)
			i, _ := strconv.Atoi(m0(m))
			if m == nil || i >= n {
				general = append(general, strings.TrimSpace(viol.FieldPath+" "+viol.Message))
				continue
			}
			rejected[i] = strings.TrimSpace(rejected[i] + "; " + strings.TrimPrefix(viol.FieldPath, "comments["+m[1]+"].") + ": " + viol.Message)
			rejected[i] = strings.TrimPrefix(rejected[i], "; ")
		}
		if len(general) > 0 || len(rejected) == 0 {
			// Not about one lead: the whole request is wrong, and will be next time.
			msg := "rejected by Calltouch: " + strings.Join(general, "; ")
			return all(push.Failed, msg), nil, errors.New("calltouch: " + msg)
		}
		return nil, rejected, nil
	}
	if se != nil || body.Data.Comments == nil {
		msg := cmpOr(body.Data.Message, body.Message)
		if se == nil && msg == "" {
			return all(push.Unknown, "Calltouch's answer has no results; it may have added the comment"), nil, nil
		}
		// Refused (bad token, no access) or a client error: nothing was commented.
		text := "refused by Calltouch"
		if se != nil {
			text = err.Error()
		}
		if msg != "" {
			text += ": " + msg
		}
		return all(push.Failed, text), nil, errors.New("calltouch: " + text)
	}
	got := *body.Data.Comments
	if len(got) != n {
		return all(push.Unknown, fmt.Sprintf("Calltouch answered %d results for %d comments; which were added is unknown", len(got), n)), nil, nil
	}
	outs = make([]push.Outcome, n)
	for i, r := range got {
		outs[i] = r.outcome()
	}
	return outs, nil, nil
}

var leadIndex = regexp.MustCompile(`^comments\[(\d+)\]`)

func m0(m []string) string {
	if len(m) < 2 {
		return ""
	}
	return m[1]
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// answer is the endpoint's body: results, a validation error or a message.
type answer struct {
	Message string `json:"message"`
	Data    struct {
		Comments            *[]leadResult `json:"comments"`
		Message             string        `json:"message"`
		Type                string        `json:"type"`
		ValidationErrorData *struct {
			Violations []struct {
				FieldPath string `json:"fieldPath"`
				Message   string `json:"message"`
			} `json:"violations"`
		} `json:"validationErrorData"`
	} `json:"data"`
}

// leadResult is one lead's result. Fields are kept raw: callId is documented as a
// string and shown as a number, and commented may come quoted.
type leadResult struct {
	Commented   json.RawMessage `json:"commented"`
	CallInfo    json.RawMessage `json:"callInfo"`
	RequestInfo json.RawMessage `json:"requestInfo"`
	Error       json.RawMessage `json:"error"`
}

func (r leadResult) outcome() push.Outcome {
	result := map[string]json.RawMessage{}
	if isSet(r.CallInfo) {
		result["callInfo"] = r.CallInfo
	}
	if isSet(r.RequestInfo) {
		result["requestInfo"] = r.RequestInfo
	}
	var errText string
	if isSet(r.Error) && json.Unmarshal(r.Error, &errText) != nil {
		errText = string(r.Error)
	}
	switch strings.Trim(string(r.Commented), `"`) {
	case "true":
		return push.Outcome{Status: push.Sent, Result: result}
	case "false":
		if len(result) == 0 {
			return push.Outcome{Status: push.Unmatched, Error: cmpOr(errText, "no lead found")}
		}
		return push.Outcome{Status: push.Failed, Error: cmpOr(errText, "not commented"), Result: result}
	}
	return push.Outcome{Status: push.Unknown, Error: "Calltouch's result for this lead does not say whether it was commented"}
}

func isSet(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null"
}
