package leeloo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/internal/apiclient"
)

// APIError is a Leeloo answer with "status": 0, which Leeloo may send with HTTP 200 (§3:
// the ETL must check both the HTTP status and the body's status).
type APIError struct {
	// Path is the endpoint, without the query.
	Path string
	// Code is the API's error code (error.code), e.g. FORMAT_ERROR, UNAUTHORIZED.
	Code string
	// Fields is error.fields as sent (which request fields were wrong), if any.
	Fields string
}

func (e *APIError) Error() string {
	msg := "leeloo GET " + e.Path + ": status 0"
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Fields != "" {
		msg += " fields " + e.Fields
	}
	return msg
}

// ErrorCode extracts Leeloo's error code from an error body ({"status":0,"error":{"code":
// "FORMAT_ERROR"}}; a bare {"error":"CODE"} or {"code":"CODE"} also works). It returns ""
// when the body has none. The CLI sets it as apiclient.Config.ErrorCode.
func ErrorCode(body []byte) string {
	var env struct {
		Error json.RawMessage `json:"error"`
		Code  FlexString      `json:"code"`
	}
	if json.Unmarshal(body, &env) != nil {
		return ""
	}
	var e struct {
		Code FlexString `json:"code"`
	}
	switch t := bytes.TrimSpace(env.Error); {
	case len(t) > 0 && t[0] == '{':
		if json.Unmarshal(t, &e) == nil && e.Code.Text() != "" {
			return e.Code.Text()
		}
	case len(t) > 0 && t[0] == '"':
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s
		}
	}
	return env.Code.Text()
}

// envelope is Leeloo's answer: {"data", "meta", "included", "status", "error"}.
type envelope struct {
	Status   json.RawMessage `json:"status"`
	Data     json.RawMessage `json:"data"`
	Meta     *meta           `json:"meta"`
	Included json.RawMessage `json:"included"`
	Error    json.RawMessage `json:"error"`
}

// meta is a list's meta block; totalCount counts every record matching the filter.
type meta struct {
	Limit         lenient.Int `json:"limit"`
	Offset        lenient.Int `json:"offset"`
	FilteredCount lenient.Int `json:"filteredCount"`
	TotalCount    lenient.Int `json:"totalCount"`
}

// get fetches path and returns its envelope, checking the body's status.
func (e *Extractor) get(ctx context.Context, c *apiclient.Counter, path string, q url.Values) (*envelope, error) {
	env, _, err := e.getBody(ctx, c, path, q)
	return env, err
}

// getBody is get also returning the body. A body cut short is retried by the client like
// a 5xx; a well-formed one of the wrong shape or with status 0 is an error of this
// package.
func (e *Extractor) getBody(ctx context.Context, c *apiclient.Counter, path string, q url.Values) (*envelope, json.RawMessage, error) {
	var (
		env     *envelope
		body    json.RawMessage
		bodyErr error
	)
	_, err := e.cfg.Client.GetDecode(ctx, c, path, q, func(r *apiclient.Response) error {
		body = r.Body
		env, bodyErr = e.decodeEnvelope(path, r.Body)
		if errors.Is(bodyErr, apiclient.ErrMalformed) {
			return bodyErr
		}
		return nil
	})
	if err != nil {
		return nil, nil, withCode(err)
	}
	if bodyErr != nil {
		return nil, nil, bodyErr
	}
	return env, body, nil
}

// decodeEnvelope reads an answer's envelope and checks its status; an error wrapping
// apiclient.ErrMalformed means body is not well-formed JSON (cut short).
func (e *Extractor) decodeEnvelope(path string, body json.RawMessage) (*envelope, error) {
	env := &envelope{}
	t := bytes.TrimSpace(body)
	if len(t) == 0 { // 204
		return env, nil
	}
	if t[0] != '{' {
		var v json.RawMessage
		if err := lenient.Body(t, &v); err != nil {
			return nil, fmt.Errorf("leeloo GET %s: %w", path, err)
		}
		if t[0] != '[' {
			return nil, fmt.Errorf("leeloo GET %s: answer is not a JSON object", path)
		}
		env.Data = t // a bare list (tolerated for list endpoints)
		return env, nil
	}
	if err := lenient.Body(t, env); err != nil {
		return nil, fmt.Errorf("leeloo GET %s: decode envelope: %w", path, err)
	}
	if statusFailed(env.Status) || (len(env.Status) == 0 && !lenient.IsNull(env.Error)) {
		ae := &APIError{Path: path, Code: ErrorCode(t)}
		var ef struct {
			Fields json.RawMessage `json:"fields"`
		}
		if json.Unmarshal(env.Error, &ef) == nil && !lenient.IsNull(ef.Fields) {
			ae.Fields = string(ef.Fields)
		}
		return nil, ae
	}
	return env, nil
}

// statusFailed reports whether the body's status says failure (0, "0" or false).
func statusFailed(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "0", `"0"`, "false", `"error"`:
		return true
	}
	return false
}

// withCode fills a StatusError's Code from its body excerpt when the client was built
// without Config.ErrorCode, so errors always name Leeloo's code.
func withCode(err error) error {
	var se *apiclient.StatusError
	if errors.As(err, &se) && se.Code == "" {
		se.Code = ErrorCode([]byte(se.Body))
	}
	return err
}

// listItems returns the records of a list answer's data: an array, or an object wrapping
// one ({"data":{"categories":[...]}}, §3); key names the wrapped list when known.
func listItems(data json.RawMessage, key string) ([]json.RawMessage, error) {
	t := bytes.TrimSpace(data)
	if lenient.IsNull(t) {
		return nil, nil
	}
	if t[0] == '[' {
		items := []json.RawMessage{}
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, fmt.Errorf("decode data: %w", err)
		}
		return items, nil
	}
	if t[0] != '{' {
		return nil, fmt.Errorf("data is neither a list nor an object")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(t, &members); err != nil {
		return nil, fmt.Errorf("decode data: %w", err)
	}
	if v, ok := members[key]; ok && key != "" {
		return listItems(v, "")
	}
	// The only array in the object is the list ({"data":{"people":[...]}} guard).
	var found json.RawMessage
	for _, v := range members {
		if len(v) > 0 && v[0] == '[' {
			if found != nil {
				return nil, fmt.Errorf("data object holds several lists")
			}
			found = v
		}
	}
	if found == nil {
		return nil, fmt.Errorf("data is an object without a list")
	}
	return listItems(found, "")
}

// listFetch returns an apiclient.OffsetFetch for a Leeloo list endpoint. Lists without a
// meta block (tags, connections: no pagination documented) report an unknown total (-1),
// so the scan ends on a short or empty page; a server that ignores offset and repeats the
// same page is caught by comparing first items.
func (e *Extractor) listFetch(c *apiclient.Counter, path string, q url.Values, key string) apiclient.OffsetFetch {
	var (
		mu        sync.Mutex
		prevFirst []byte
	)
	return func(ctx context.Context, offset, limit int) ([]json.RawMessage, int, error) {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set("limit", strconv.Itoa(limit))
		qq.Set("offset", strconv.Itoa(offset))
		env, err := e.get(ctx, c, path, qq)
		if err != nil {
			return nil, 0, err
		}
		items, err := listItems(env.Data, key)
		if err != nil {
			return nil, 0, fmt.Errorf("leeloo GET %s: %w", path, err)
		}
		if env.Meta != nil && env.Meta.TotalCount.Valid {
			return items, int(env.Meta.TotalCount.V), nil
		}
		mu.Lock()
		defer mu.Unlock()
		if offset > 0 && len(items) > 0 && bytes.Equal(items[0], prevFirst) {
			return nil, -1, nil // offset ignored: the same page again
		}
		if len(items) > 0 {
			prevFirst = items[0]
		}
		return items, -1, nil
	}
}
