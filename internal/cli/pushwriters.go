package cli

import (
	"fmt"
	"log/slog"
	"strconv"

	ctextract "github.com/crmsync/crmsync/extractors/calltouch"
	twinextract "github.com/crmsync/crmsync/extractors/twin"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/push"
	"github.com/crmsync/crmsync/internal/twinauth"
	"github.com/crmsync/crmsync/loaders/calltouch"
	"github.com/crmsync/crmsync/loaders/twin"
)

// pushTargets builds the writers of a set of pushes, one client per destination API:
// a Calltouch push uses the Calltouch source's client when the streams are enabled in
// the same process (so the writer and the streams spend one CALLTOUCH_RATE_LIMIT),
// otherwise a client of its own under the same variable. The writers read the
// platforms' variables with the platforms' defaults.
type pushTargets struct {
	getenv  func(string) string
	logger  *slog.Logger
	tune    clientTuning
	sources []*source

	clients []*apiclient.Client // built here, closed by close
	ct      *apiclient.Client
	ctCfg   calltouch.Config
	twChat  *apiclient.Client
	twAuth  *twinauth.Source
	secrets []string
}

// writer returns p's writer, or an error naming the variables to set.
func (t *pushTargets) writer(p config.Push) (push.Writer, error) {
	switch p.Destination {
	case config.DestCalltouchComments:
		if err := t.calltouch(); err != nil {
			return nil, fmt.Errorf("push %q (%s): %w", p.Name, p.Destination, err)
		}
		return calltouch.New(t.ctCfg)
	case config.DestTwinAttributes:
		if err := t.twin(); err != nil {
			return nil, fmt.Errorf("push %q (%s): %w", p.Name, p.Destination, err)
		}
		return twin.New(twin.Config{Client: t.twChat, Tokens: t.twAuth, CreateAttributes: p.CreateAttributes})
	}
	return nil, fmt.Errorf("push %q: destination %q: unknown", p.Name, p.Destination)
}

func (t *pushTargets) calltouch() error {
	if t.ct != nil {
		return nil
	}
	r := config.NewEnvReader(t.getenv)
	tok := r.Secret("CALLTOUCH_API_TOKEN")
	site := r.Str("CALLTOUCH_SITE_ID", "")
	base := r.BaseURL("CALLTOUCH_BASE_URL", ctextract.DefaultBaseURL, "/lead-service/v1/api")
	rate := r.Rate("CALLTOUCH_RATE_LIMIT", ctextract.DefaultRateLimit)
	if err := r.Err(); err != nil {
		return err
	}
	siteID, err := strconv.ParseInt(site, 10, 64)
	switch {
	case tok == "":
		return fmt.Errorf("set CALLTOUCH_API_TOKEN (or CALLTOUCH_API_TOKEN_FILE) and CALLTOUCH_SITE_ID")
	case err != nil || siteID <= 0:
		return fmt.Errorf("CALLTOUCH_SITE_ID: %q is not a Calltouch cabinet id (required with CALLTOUCH_API_TOKEN)", site)
	}
	t.secrets = append(t.secrets, tok)
	client := t.sourceClient("calltouch")
	if client == nil {
		if client, err = t.newClient("calltouch", base, rate, tok); err != nil {
			return fmt.Errorf("CALLTOUCH_BASE_URL: %w", err)
		}
	}
	t.ct, t.ctCfg = client, calltouch.Config{Client: client, Token: tok, SiteID: siteID}
	return nil
}

func (t *pushTargets) twin() error {
	if t.twChat != nil {
		return nil
	}
	r := config.NewEnvReader(t.getenv)
	email := r.Secret("TWIN_EMAIL")
	pass := r.Secret("TWIN_PASSWORD")
	company := r.Int("TWIN_COMPANY_ID", 0, 1, 1<<31-1)
	iamURL := r.BaseURL("TWIN_IAM_URL", twinextract.DefaultIAMURL, "/auth")
	chatURL := r.BaseURL("TWIN_CHAT_URL", twinextract.DefaultChatURL, "/clients")
	rate := r.Rate("TWIN_RATE_LIMIT", twinextract.DefaultRateLimit)
	if err := r.Err(); err != nil {
		return err
	}
	if email == "" || pass == "" {
		return fmt.Errorf("set TWIN_EMAIL and TWIN_PASSWORD (or their _FILE variants)")
	}
	t.secrets = append(t.secrets, pass)
	// The writer logs in for a token of its own; its chat requests go through the TWIN
	// streams' client when they run in this process (one budget; that client's Auth
	// adds only the streams' tokens), else through a client of its own.
	iam, err := t.newClient("twin-iam", iamURL, rate, pass)
	if err != nil {
		return fmt.Errorf("TWIN_IAM_URL: %w", err)
	}
	chat := t.sourceClient("twin")
	if chat == nil {
		if chat, err = t.newClient("twin", chatURL, rate, pass); err != nil {
			return fmt.Errorf("TWIN_CHAT_URL: %w", err)
		}
	}
	auth, err := twinauth.New(twinauth.Config{IAM: iam, Email: email, Password: pass, CompanyID: int64(company)})
	if err != nil {
		return err
	}
	t.twChat, t.twAuth = chat, auth
	return nil
}

// sourceClient returns the client of an enabled source of this process, if any.
func (t *pushTargets) sourceClient(name string) *apiclient.Client {
	for _, s := range t.sources {
		if s.name == name {
			return s.client
		}
	}
	return nil
}

func (t *pushTargets) newClient(name, base string, rate config.Rate, secret string) (*apiclient.Client, error) {
	c, err := apiclient.New(t.tune.apply(apiclient.Config{
		Source: name, BaseURL: base, Secrets: []string{secret},
		RateLimit: apiclient.Limit{N: rate.N, Per: rate.Per}, Logger: t.logger,
	}))
	if err != nil {
		return nil, err
	}
	t.clients = append(t.clients, c)
	return c, nil
}

// close closes the clients built here (not the sources').
func (t *pushTargets) close() {
	for _, c := range t.clients {
		c.Close()
	}
}
