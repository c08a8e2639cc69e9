// Package twinauth keeps a TWIN bearer token (twin-api.md §2): it logs in with e-mail
// and password (POST {iam}/auth/login), refreshes with the rotating refresh token (POST
// {iam}/auth/refresh) when the token is about to lapse or the API answered 401, and logs
// in again when the refresh is refused. Nothing is persisted: a login per process is
// cheap, and the credentials are all it needs.
//
// It lives outside extractors/ so that the TWIN push writer (loaders/twin), which may
// not import an extractor, shares it.
package twinauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
)

// renewBefore is how long before its exp a token is renewed rather than used (a fifth
// of its lifetime for short-lived tokens).
const renewBefore = 30 * time.Second

// Config configures a Source.
type Config struct {
	// IAM is a client of the IAM API root (TWIN_IAM_URL).
	IAM *apiclient.Client
	// Email and Password are the TWIN user's login.
	Email, Password string
	// CompanyID picks the company for users of several (0: the user's default).
	CompanyID int64
}

// Source hands out bearer tokens; safe for concurrent use (one login or refresh at a
// time, shared by every caller).
type Source struct {
	cfg Config

	mu      sync.Mutex
	token   string
	refresh string
	exp     time.Time // from the JWT's exp claim; zero when unreadable
	margin  time.Duration
}

// New returns a Source; it logs in on the first Token.
func New(cfg Config) (*Source, error) {
	if cfg.IAM == nil || cfg.Email == "" || cfg.Password == "" {
		return nil, errors.New("twinauth: IAM client, Email and Password are required")
	}
	return &Source{cfg: cfg}, nil
}

// Token returns a token that is not about to lapse, logging in or refreshing first when
// needed; c counts the IAM requests that costs (see apiclient.Counter).
func (s *Source) Token(ctx context.Context, c *apiclient.Counter) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && (s.exp.IsZero() || time.Until(s.exp) > s.margin) {
		return s.token, nil
	}
	return s.renewLocked(ctx, c)
}

// Renew replaces refused (a token the API answered 401 to) and returns the new token.
// When another caller has already replaced it, that token is returned.
func (s *Source) Renew(ctx context.Context, c *apiclient.Counter, refused string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.token != refused {
		return s.token, nil
	}
	return s.renewLocked(ctx, c)
}

// renewLocked refreshes when it has a refresh token, and logs in when it has none or
// the refresh is refused.
func (s *Source) renewLocked(ctx context.Context, c *apiclient.Counter) (string, error) {
	if s.refresh != "" {
		body, _ := json.Marshal(map[string]string{"refreshToken": s.refresh})
		err := s.call(ctx, c, "/auth/refresh", body, s.token)
		if err == nil {
			return s.token, nil
		}
		if ctx.Err() != nil {
			return "", err
		}
		s.refresh = "" // used or refused: refresh tokens are good once
	}
	login := map[string]any{"email": s.cfg.Email, "password": s.cfg.Password}
	if s.cfg.CompanyID != 0 {
		login["companyId"] = s.cfg.CompanyID
	}
	body, _ := json.Marshal(login)
	// A login answer cut short is asked again (a new login harms nothing); a refresh's
	// is not: its refresh token is spent, and the login above replaces it.
	for try := 1; ; try++ {
		err := s.call(ctx, c, "/auth/login", body, "")
		if err == nil {
			return s.token, nil
		}
		if !errors.Is(err, errCutShort) || try == loginTries {
			return "", fmt.Errorf("twin login: %w", err)
		}
	}
}

// loginTries bounds the logins tried after answers cut short.
const loginTries = 3

// errCutShort is a 2xx answer that is not whole JSON.
var errCutShort = errors.New("the answer is cut short")

// call posts body to path and keeps the token pair of the answer.
func (s *Source) call(ctx context.Context, c *apiclient.Counter, path string, body []byte, current string) error {
	req := apiclient.Request{Method: http.MethodPost, Path: path, Body: body, Idempotent: true}
	if current != "" {
		// The SDK sends the current token without "Bearer " on refresh.
		req.Header = http.Header{"Authorization": {current}}
	}
	resp, err := s.cfg.IAM.Send(ctx, c, req)
	if err != nil {
		return err
	}
	var pair struct {
		Token        string `json:"token"`
		RefreshToken string `json:"refreshToken"`
	}
	err = json.Unmarshal(resp.Body, &pair)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("POST %s: %w", path, errCutShort)
	}
	if err != nil || pair.Token == "" {
		return fmt.Errorf("POST %s: the answer has no token", path)
	}
	s.token, s.refresh, s.exp = pair.Token, pair.RefreshToken, expiry(pair.Token)
	s.margin = min(renewBefore, time.Until(s.exp)/5)
	return nil
}

// expiry reads a JWT's exp claim without verifying it (zero when unreadable).
func expiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(c.Exp, 0)
}
