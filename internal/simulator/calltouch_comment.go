package simulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The lead-comment endpoint (the seed, calltouch-api.md §5.1).

type ctCommentBody struct {
	Comments *[]ctLeadItem `json:"comments"`
}

type ctLeadItem struct {
	Matching   *[]ctRule `json:"matching"`
	AddComment *string   `json:"addComment"`
}

type ctRule struct {
	Type                 string           `json:"type"`
	CallParams           *ctIDParams      `json:"callParams"`
	RequestParams        *ctIDParams      `json:"requestParams"`
	CallContactParams    *ctContactParams `json:"callContactParams"`
	RequestContactParams *ctContactParams `json:"requestContactParams"`
}

type ctIDParams struct {
	CallID    json.RawMessage `json:"callId"`
	RequestID json.RawMessage `json:"requestId"`
	Tags      []string        `json:"tags"`
	TagsLogic string          `json:"tagsLogic"`
}

type ctContactParams struct {
	Phones             []string `json:"phones"`
	Emails             []string `json:"emails"`
	Date               *string  `json:"date"`
	CallTypeToMatch    *string  `json:"callTypeToMatch"`
	RequestTypeToMatch *string  `json:"requestTypeToMatch"`
	SearchDepth        *int     `json:"searchDepth"`
	Tags               []string `json:"tags"`
	TagsLogic          string   `json:"tagsLogic"`
}

type ctViolation struct {
	FieldPath string `json:"fieldPath"`
	Message   string `json:"message"`
}

// ctTypesToMatch are the accepted callTypeToMatch/requestTypeToMatch values: the seed's
// examples and sibling methods' "nearest" (the full list is unknown).
var ctTypesToMatch = map[string]bool{"nearest": true, "nearestUniq": true, "nearestUniqLead": true, "nearestTarget": true, "nearestUniqTarget": true}

// ctDateLayout is the matching rules' date: the seed's "01-10-2020 12:00:00", read as
// dd-mm-yyyy in cabinet time.
const ctDateLayout = "02-01-2006 15:04:05"

func ctValidationError(vs []ctViolation) response {
	return jsonResp(http.StatusBadRequest, map[string]any{"meta": []any{}, "data": map[string]any{
		"type": "validationError", "apiErrorData": nil, "validationErrorData": map[string]any{"violations": vs}}})
}

// ctID reads a callId/requestId given as a number or a string of digits.
func ctID(raw json.RawMessage) (int64, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		return n, err == nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		v, err := n.Int64()
		return v, err == nil
	}
	return 0, false
}

// validate checks the whole request as the seed describes; any violation rejects it.
func (b *ctCommentBody) validate() []ctViolation {
	var vs []ctViolation
	add := func(path, msg string) { vs = append(vs, ctViolation{FieldPath: path, Message: msg}) }
	if b.Comments == nil || len(*b.Comments) == 0 {
		add("comments", "This collection should contain 1 element or more.")
		return vs
	}
	if len(*b.Comments) > ctMaxLeads {
		add("comments", fmt.Sprintf("This collection should contain %d elements or less.", ctMaxLeads))
		return vs
	}
	for i, it := range *b.Comments {
		p := fmt.Sprintf("comments[%d]", i)
		if it.AddComment == nil || strings.TrimSpace(*it.AddComment) == "" {
			add(p+".addComment", "This value should not be blank.")
		}
		if it.Matching == nil || len(*it.Matching) == 0 {
			add(p+".matching", "This collection should contain 1 element or more.")
			continue
		}
		if len(*it.Matching) > ctMaxRules {
			add(p+".matching", fmt.Sprintf("This collection should contain %d elements or less.", ctMaxRules))
			continue
		}
		for j, rule := range *it.Matching {
			rp := fmt.Sprintf("%s.matching[%d]", p, j)
			tags := func(pp string, tags []string, logic string) {
				if len(tags) > 1 && logic == "" {
					add(pp+".tagsLogic", "This value should not be blank.")
				} else if logic != "" && logic != "and" && logic != "or" {
					add(pp+".tagsLogic", "The value you selected is not a valid choice.")
				}
			}
			switch rule.Type {
			case "call", "request":
				prm, name, idName := rule.CallParams, "callParams", "callId"
				if rule.Type == "request" {
					prm, name, idName = rule.RequestParams, "requestParams", "requestId"
				}
				if prm == nil {
					add(rp+"."+name, "This value should not be null.")
					continue
				}
				id := prm.CallID
				if rule.Type == "request" {
					id = prm.RequestID
				}
				if _, ok := ctID(id); !ok {
					add(rp+"."+name+"."+idName, "This value should not be blank.")
				}
				tags(rp+"."+name, prm.Tags, prm.TagsLogic)
			case "callContact", "requestContact":
				prm, name, typ := rule.CallContactParams, "callContactParams", "callTypeToMatch"
				if rule.Type == "requestContact" {
					prm, name, typ = rule.RequestContactParams, "requestContactParams", "requestTypeToMatch"
				}
				if prm == nil {
					add(rp+"."+name, "This value should not be null.")
					continue
				}
				pp := rp + "." + name
				if rule.Type == "callContact" && len(prm.Phones) == 0 {
					add(pp+".phones", "This value should not be blank.")
				}
				if rule.Type == "requestContact" && len(prm.Phones) == 0 && len(prm.Emails) == 0 {
					add(pp+".phones", "At least one of phones or emails should be given.")
				}
				if prm.Date == nil {
					add(pp+".date", "This value should not be blank.")
				} else if _, err := time.ParseInLocation(ctDateLayout, *prm.Date, calltouchZone); err != nil {
					add(pp+".date", "This value is not a valid datetime.")
				}
				tm := prm.CallTypeToMatch
				if rule.Type == "requestContact" {
					tm = prm.RequestTypeToMatch
				}
				if tm == nil || !ctTypesToMatch[*tm] {
					add(pp+"."+typ, "The value you selected is not a valid choice.")
				}
				if prm.SearchDepth == nil || *prm.SearchDepth < 1 || *prm.SearchDepth > ctMaxDepth {
					add(pp+".searchDepth", fmt.Sprintf("This value should be between 1 and %d.", ctMaxDepth))
				}
				tags(pp, prm.Tags, prm.TagsLogic)
			default:
				add(rp+".type", "The value you selected is not a valid choice.")
			}
		}
	}
	return vs
}

// ctComment serves POST /lead-service/v1/api/comment/lead/add.
func (s *Sim) ctComment(r *http.Request) response {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return ctMessage(http.StatusBadRequest, "cannot read the body")
	}
	var body ctCommentBody
	if err := json.Unmarshal(raw, &body); err != nil {
		return ctValidationError([]ctViolation{{FieldPath: "", Message: "This value should be valid JSON."}})
	}
	if vs := body.validate(); len(vs) > 0 {
		return ctValidationError(vs)
	}
	s.mu.Lock()
	d := s.calltouch()
	results := make([]map[string]any, 0, len(*body.Comments))
	for _, it := range *body.Comments {
		results = append(results, s.ctCommentLead(d, *it.Matching, *it.AddComment))
	}
	s.mu.Unlock()
	f := s.Faults()
	if f.CalltouchLostAnswerRate > 0 {
		u := hash3(s.seed, kindCTFault, 2, s.st.nextFaultN())
		if float64(u>>11)/float64(1<<53) < f.CalltouchLostAnswerRate {
			// The comments are added; the answer is lost on the way back.
			return response{status: http.StatusBadGateway, body: []byte("<html><body><h1>502 Bad Gateway</h1></body></html>"),
				header: map[string]string{"Content-Type": "text/html"}}
		}
	}
	return jsonResp(http.StatusOK, map[string]any{"meta": []any{}, "data": map[string]any{"comments": results}})
}

// ctCommentLead applies one lead's rules in order: the first rule that finds a lead (with
// its tags, when the rule names some) gets the comment. Callers hold s.mu for writing.
func (s *Sim) ctCommentLead(d *ctData, rules []ctRule, text string) map[string]any {
	res := map[string]any{"callInfo": nil, "requestInfo": nil, "commented": false}
	for _, rule := range rules {
		var call *ctCall
		var req *ctRequest
		switch rule.Type {
		case "call":
			id, _ := ctID(rule.CallParams.CallID)
			if c := d.callByID[id]; c != nil && hasTags(c.Tags, rule.CallParams.Tags, rule.CallParams.TagsLogic) {
				call = c
			}
		case "request":
			id, _ := ctID(rule.RequestParams.RequestID)
			if q := d.reqByID[id]; q != nil && hasTags(q.Tags, rule.RequestParams.Tags, rule.RequestParams.TagsLogic) {
				req = q
			}
		case "callContact":
			call = d.nearestCall(rule.CallContactParams)
		case "requestContact":
			req = d.nearestRequest(rule.RequestContactParams)
		}
		now := time.UnixMilli(s.now).UTC()
		switch {
		case call != nil:
			call.Comments = append(call.Comments, CTComment{CommentID: d.newID(), Comment: text, PartyName: "API", Date: now})
			d.comments[CalltouchLead{"call", call.CallID}] = append(d.comments[CalltouchLead{"call", call.CallID}], text)
			res["callInfo"] = map[string]any{"callId": call.CallID, "callReferenceId": call.CallReferenceID, "sipCallId": call.SipCallID}
		case req != nil:
			req.Comments = append(req.Comments, CTComment{CommentID: d.newID(), Comment: text, PartyName: "API", Date: now})
			d.comments[CalltouchLead{"request", req.RequestID}] = append(d.comments[CalltouchLead{"request", req.RequestID}], text)
			res["requestInfo"] = map[string]any{"requestId": req.RequestID, "requestNumber": req.RequestNumber}
		default:
			continue
		}
		res["commented"] = true
		res["error"] = nil
		return res
	}
	res["error"] = "Лид для комментирования не найден"
	return res
}

// ctAround reads a contact rule's date and depth: leads within depth minutes of the
// date, before or after it, qualify; the nearest wins.
func ctAround(p *ctContactParams) (at time.Time, depth time.Duration) {
	at, _ = time.ParseInLocation(ctDateLayout, *p.Date, calltouchZone)
	return at, time.Duration(*p.SearchDepth) * time.Minute
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func ctWanted(p *ctContactParams) map[string]bool {
	want := map[string]bool{}
	for _, ph := range p.Phones {
		if n := ctNormPhone(ph); n != "" {
			want[n] = true
		}
	}
	return want
}

func (d *ctData) nearestCall(p *ctContactParams) *ctCall {
	at, depth := ctAround(p)
	want := ctWanted(p)
	var best *ctCall
	for _, c := range d.calls {
		if c.deleted || !want[ctNormPhone(c.CallerNumber)] || absDur(c.Date.Sub(at)) > depth {
			continue
		}
		if !ctTypeOK(*p.CallTypeToMatch, c.UniqueCall, c.TargetCall) || !hasTags(c.Tags, p.Tags, p.TagsLogic) {
			continue
		}
		if best == nil || absDur(c.Date.Sub(at)) < absDur(best.Date.Sub(at)) {
			best = c
		}
	}
	return best
}

// nearestRequest looks for the phones first, then for the e-mails (the seed's order).
func (d *ctData) nearestRequest(p *ctContactParams) *ctRequest {
	at, depth := ctAround(p)
	find := func(match func(*ctRequest) bool) *ctRequest {
		var best *ctRequest
		for _, q := range d.requests {
			if !match(q) || absDur(q.Date.Sub(at)) > depth {
				continue
			}
			if !ctTypeOK(*p.RequestTypeToMatch, q.UniqueRequest, q.TargetRequest) || !hasTags(q.Tags, p.Tags, p.TagsLogic) {
				continue
			}
			if best == nil || absDur(q.Date.Sub(at)) < absDur(best.Date.Sub(at)) {
				best = q
			}
		}
		return best
	}
	want := ctWanted(p)
	if len(want) > 0 {
		if q := find(func(q *ctRequest) bool {
			for _, ph := range q.Phones {
				if want[ctNormPhone(ph.PhoneNumber)] {
					return true
				}
			}
			return false
		}); q != nil {
			return q
		}
	}
	if len(p.Emails) > 0 {
		return find(func(q *ctRequest) bool {
			for _, e := range q.Emails {
				for _, w := range p.Emails {
					if strings.EqualFold(strings.TrimSpace(w), e) {
						return true
					}
				}
			}
			return false
		})
	}
	return nil
}

// ctTypeOK applies *TypeToMatch: "nearest" takes any lead, the Uniq variants unique
// ones, the Target variants target ones.
func ctTypeOK(typ string, unique, target bool) bool {
	if strings.Contains(typ, "Uniq") && !unique {
		return false
	}
	if strings.Contains(typ, "Target") && !target {
		return false
	}
	return true
}
