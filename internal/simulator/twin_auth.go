package simulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// twinTokens issues and checks TWIN's JWT access tokens and rotating refresh tokens.
// Access tokens expire by wall clock (their exp claim) and, with
// Faults.TwinTokenRequests, after that many authenticated requests; refresh tokens are
// good for one use.
type twinTokens struct {
	key []byte // HMAC key of the JWT signatures

	mu        sync.Mutex
	n         uint64         // tokens issued
	uses      map[uint64]int // requests made with each access token (by jti)
	refresh   map[string]twinRefresh
	logins    int
	refreshes int
}

type twinRefresh struct {
	email   string
	company int64
	expires time.Time
}

type twinClaims struct {
	Sub       string `json:"sub"`
	CompanyID int64  `json:"companyId"`
	Iat       int64  `json:"iat"`
	Exp       int64  `json:"exp"`
	Jti       uint64 `json:"jti"`
}

func newTwinTokens(seed uint64) *twinTokens {
	var k [8]byte
	putHex(k[:], hash3(seed, kindTwinNew, 77, 0))
	return &twinTokens{key: k[:], uses: map[uint64]int{}, refresh: map[string]twinRefresh{}}
}

// issue makes a new access token valid for ttl and a new refresh token.
func (t *twinTokens) issue(email string, company int64, ttl, refreshTTL time.Duration, now time.Time) (string, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	c := twinClaims{Sub: email, CompanyID: company, Iat: now.Unix(), Exp: now.Add(ttl).Unix(), Jti: t.n}
	payload, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(signing))
	token := signing + "." + enc.EncodeToString(mac.Sum(nil))
	var rb [32]byte
	putHex(rb[:16], hash3(mix64(uint64(now.UnixNano())), kindTwinNew, t.n, 1))
	putHex(rb[16:], hash3(uint64(len(t.refresh)), kindTwinNew, t.n, 2))
	rt := "rt-" + string(rb[:])
	t.refresh[rt] = twinRefresh{email: email, company: company, expires: now.Add(refreshTTL)}
	return token, rt
}

// check validates a bearer token: "" when good, else the error text of the 401.
// Every call counts as one use of the token.
func (t *twinTokens) check(token string, maxUses int, now time.Time) (twinClaims, string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return twinClaims{}, "Unauthorized."
	}
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return twinClaims{}, "Unauthorized."
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c twinClaims
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return twinClaims{}, "Unauthorized."
	}
	if now.Unix() >= c.Exp {
		return c, "Token is expired."
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if maxUses > 0 && t.uses[c.Jti] >= maxUses {
		return c, "Token is expired."
	}
	t.uses[c.Jti]++
	return c, ""
}

// useRefresh consumes a refresh token (they rotate: each is good once).
func (t *twinTokens) useRefresh(rt string, now time.Time) (twinRefresh, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.refresh[rt]
	delete(t.refresh, rt)
	if !ok || now.After(r.expires) {
		return twinRefresh{}, false
	}
	t.refreshes++
	return r, true
}

// TwinAuthStats counts the simulator's TWIN logins and refreshes.
type TwinAuthStats struct {
	Logins, Refreshes int
	// Tokens is the number of access tokens issued.
	Tokens int
}

// TwinAuthStats returns how often clients logged in and refreshed.
func (s *Sim) TwinAuthStats() TwinAuthStats {
	t := s.twTok
	t.mu.Lock()
	defer t.mu.Unlock()
	return TwinAuthStats{Logins: t.logins, Refreshes: t.refreshes, Tokens: int(t.n)}
}

// twinTTL is the lifetime of a new access token: the asked ttl (seconds; default one
// week, at most 30 days), capped by Options.TwinTokenTTL.
func (s *Sim) twinTTL(asked int64) time.Duration {
	ttl := 7 * 24 * time.Hour
	if asked > 0 {
		ttl = min(time.Duration(asked)*time.Second, 30*24*time.Hour)
	}
	if s.opts.TwinTokenTTL > 0 {
		ttl = min(ttl, s.opts.TwinTokenTTL)
	}
	return ttl
}

func twinErr(status int, msg string) response {
	return jsonResp(status, map[string]any{"error": msg})
}

func twinDetails(status int, msg string, details map[string]string) response {
	return jsonResp(status, map[string]any{"error": msg, "details": details})
}

func (s *Sim) twinTokenResp(token, rt string) response {
	resp := jsonResp(200, map[string]string{"token": token, "refreshToken": rt})
	// Scripts that drive the web UI read the same values from cookies (twin-api.md §2.1).
	resp.cookies = []string{"token=" + token + "; Path=/; HttpOnly", "refresh_token=" + rt + "; Path=/; HttpOnly"}
	return resp
}

// twinLogin is POST /auth/login {email, password, ttl?, companyId?}.
func (s *Sim) twinLogin(r *http.Request) response {
	var body struct {
		Email     string          `json:"email"`
		Password  string          `json:"password"`
		TTL       json.Number     `json:"ttl"`
		CompanyID json.RawMessage `json:"companyId"`
	}
	if err := decodeBody(r, &body); err != nil {
		return twinDetails(400, "Invalid request body.", map[string]string{"body": err.Error()})
	}
	if body.Email == "" || body.Password == "" {
		return twinDetails(422, "Validation failed.", map[string]string{"email": "required", "password": "required"})
	}
	if !strings.EqualFold(body.Email, s.opts.TwinEmail) || body.Password != s.opts.TwinPassword {
		return twinErr(401, "Invalid credentials.")
	}
	company := s.opts.TwinCompanyID
	if len(body.CompanyID) > 0 && string(body.CompanyID) != "null" {
		id, err := strconv.ParseInt(strings.Trim(string(body.CompanyID), `"`), 10, 64)
		if err != nil || id != company {
			return twinErr(403, "Access to the company is denied.")
		}
	}
	ttl, _ := body.TTL.Int64()
	t := s.twTok
	token, rt := t.issue(s.opts.TwinEmail, company, s.twinTTL(ttl), s.opts.TwinRefreshTTL, time.Now())
	t.mu.Lock()
	t.logins++
	t.mu.Unlock()
	return s.twinTokenResp(token, rt)
}

// twinRefresh is POST /auth/refresh {refreshToken, ttl?}.
func (s *Sim) twinRefresh(r *http.Request) response {
	var body struct {
		RefreshToken string      `json:"refreshToken"`
		TTL          json.Number `json:"ttl"`
	}
	if err := decodeBody(r, &body); err != nil {
		return twinDetails(400, "Invalid request body.", map[string]string{"body": err.Error()})
	}
	if body.RefreshToken == "" {
		return twinDetails(422, "Validation failed.", map[string]string{"refreshToken": "required"})
	}
	now := time.Now()
	ref, ok := s.twTok.useRefresh(body.RefreshToken, now)
	if !ok {
		return twinErr(401, "Refresh token is invalid or expired.")
	}
	ttl, _ := body.TTL.Int64()
	token, rt := s.twTok.issue(ref.email, ref.company, s.twinTTL(ttl), s.opts.TwinRefreshTTL, now)
	return s.twinTokenResp(token, rt)
}
