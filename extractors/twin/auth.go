package twin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// AuthConfig configures an Auth.
type AuthConfig struct {
	// IAMURL is the IAM API root (TWIN_IAM_URL), e.g. https://iam.twin24.ai/api/v1.
	IAMURL string
	// Email and Password are the TWIN user's login (TWIN_EMAIL, TWIN_PASSWORD). Never
	// logged.
	Email, Password string
	// CompanyID picks the company of a user of several (TWIN_COMPANY_ID; 0 = the
	// user's default).
	CompanyID int64
	// TTL is the token lifetime asked for (default 24h; TWIN's own default is a week:
	// a shorter one limits what a leaked token is worth).
	TTL time.Duration
	// HTTPClient sends the login and refresh requests (default: a client with a 30 s
	// timeout).
	HTTPClient *http.Client
	// Logger receives a debug line per login and refresh (never a token).
	Logger *slog.Logger
}

// Auth keeps TWIN's bearer token in memory: it logs in on first use, refreshes the
// token before it expires (at 80% of its lifetime, read from the JWT's exp claim) with
// the rotating refresh token, and logs in again when a refresh fails. Nothing is
// stored anywhere: a run starts with a login. Safe for concurrent use; concurrent
// callers share one login or refresh.
type Auth struct {
	cfg  AuthConfig
	http *http.Client
	log  *slog.Logger

	mu      sync.Mutex
	token   string
	refresh string
	issued  time.Time
	exp     time.Time // zero when the token's exp could not be read
	gen     uint64    // bumped by every new token
	stale   bool      // the API said the current token expired

	logins, refreshes int
}

// NewAuth checks cfg and returns an Auth; it makes no request.
func NewAuth(cfg AuthConfig) (*Auth, error) {
	u, err := url.Parse(cfg.IAMURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("IAM URL %q: want an absolute http(s) URL", cfg.IAMURL)
	}
	if cfg.Email == "" || cfg.Password == "" {
		return nil, errors.New("both an e-mail and a password are required")
	}
	cfg.TTL = cmp.Or(cfg.TTL, 24*time.Hour)
	a := &Auth{cfg: cfg, http: cmp.Or(cfg.HTTPClient, &http.Client{Timeout: 30 * time.Second})}
	a.log = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)).With("source", Source)
	return a, nil
}

// SetHeader puts the current token on r (apiclient.Config.Auth). Token must have been
// called first.
func (a *Auth) SetHeader(r *http.Request) {
	a.mu.Lock()
	tok := a.token
	a.mu.Unlock()
	r.Header.Set("Authorization", "Bearer "+tok)
}

// Token makes sure a usable token is held and returns its generation, to hand back to
// Expired if the API refuses it.
func (a *Auth) Token(ctx context.Context) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if a.token != "" && !a.stale && (a.exp.IsZero() || now.Before(a.issued.Add(a.exp.Sub(a.issued)*4/5))) {
		return a.gen, nil
	}
	if a.refresh != "" {
		err := a.call(ctx, "/auth/refresh", map[string]any{"refreshToken": a.refresh, "ttl": int(a.cfg.TTL.Seconds())}, true)
		if err == nil {
			a.refreshes++
			return a.gen, nil
		}
		if ctx.Err() != nil {
			return 0, err
		}
		a.log.DebugContext(ctx, "twin token refresh failed, logging in again", "err", err)
	}
	body := map[string]any{"email": a.cfg.Email, "password": a.cfg.Password, "ttl": int(a.cfg.TTL.Seconds())}
	if a.cfg.CompanyID != 0 {
		body["companyId"] = a.cfg.CompanyID
	}
	if err := a.call(ctx, "/auth/login", body, false); err != nil {
		return 0, err
	}
	a.logins++
	return a.gen, nil
}

// Expired tells Auth that the API refused the token of generation gen (401): the next
// Token call refreshes it, unless a newer token is already held.
func (a *Auth) Expired(gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if gen == a.gen {
		a.stale = true
	}
}

// Counts returns the logins and refreshes made so far.
func (a *Auth) Counts() (logins, refreshes int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logins, a.refreshes
}

// errAuthRejected marks an answer that retrying the same credentials cannot change.
var errAuthRejected = errors.New("rejected")

// call POSTs body to the IAM and takes the token pair from the answer, trying a
// transport failure or a 5xx/429 up to three times. Callers hold a.mu. Errors name
// the path and the IAM's status and error text, never a credential or a token.
func (a *Auth) call(ctx context.Context, path string, body map[string]any, withToken bool) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("twin %s: encode body: %w", path, err)
	}
	var last error
	for attempt := 1; attempt <= 3; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(time.Duration(attempt-1) * time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("twin POST %s: %w", path, ctx.Err())
			case <-t.C:
			}
		}
		last = a.post(ctx, path, payload, withToken)
		if last == nil || errors.Is(last, errAuthRejected) || ctx.Err() != nil {
			break
		}
	}
	if last != nil {
		return a.scrub(last)
	}
	return nil
}

func (a *Auth) post(ctx context.Context, path string, payload []byte, withToken bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(a.cfg.IAMURL, "/")+path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("twin POST %s: build request: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if withToken && a.token != "" {
		req.Header.Set("Authorization", a.token) // as TWIN's SDK sends it: no Bearer prefix
	}
	resp, err := a.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is known; keep the cause
		}
		return fmt.Errorf("twin POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("twin POST %s: read answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		msg := fmt.Sprintf("twin POST %s: HTTP %d", path, resp.StatusCode)
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg += " (" + truncate(e.Error, 200) + ")"
		}
		if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			if path == "/auth/login" {
				msg += ": check TWIN_EMAIL, TWIN_PASSWORD and TWIN_COMPANY_ID"
			}
			return fmt.Errorf("%s: %w", msg, errAuthRejected)
		}
		return errors.New(msg)
	}
	var pair struct {
		Token        string `json:"token"`
		RefreshToken string `json:"refreshToken"`
	}
	if err := json.Unmarshal(b, &pair); err != nil || pair.Token == "" {
		return fmt.Errorf("twin POST %s: the answer has no token: %w", path, errAuthRejected)
	}
	now := time.Now()
	a.token, a.refresh, a.issued, a.exp, a.stale = pair.Token, pair.RefreshToken, now, jwtExp(pair.Token), false
	a.gen++
	a.log.DebugContext(ctx, "twin token obtained", "path", path, "expires", a.exp)
	return nil
}

// scrub removes the credentials and tokens from an error's text (an IAM that echoes
// them back must not put them into logs or sync.runs).
func (a *Auth) scrub(err error) error {
	msg := err.Error()
	clean := msg
	for _, s := range []string{a.cfg.Password, a.token, a.refresh} {
		if len(s) >= 4 {
			clean = strings.ReplaceAll(clean, s, "[REDACTED]")
		}
	}
	if clean == msg {
		return err
	}
	if errors.Is(err, errAuthRejected) {
		return fmt.Errorf("%s: %w", strings.TrimSuffix(clean, ": "+errAuthRejected.Error()), errAuthRejected)
	}
	return errors.New(clean)
}

// jwtExp reads the exp claim of a JWT without verifying it (only the issuer can); zero
// when the token is not a readable JWT.
func jwtExp(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return time.Time{}
	}
	f, err := c.Exp.Float64()
	if err != nil || f <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(f), 0)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
