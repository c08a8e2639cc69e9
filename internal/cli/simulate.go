package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/internal/simulator"
)

// cmdSimulate is `crmsync simulate`: serve both simulators until SIGINT/SIGTERM.
func cmdSimulate(ctx context.Context, a *app, args []string) int {
	fs := a.flags("simulate", "[--addr 127.0.0.1:8900] [--seed N] [--scale N] [fault flags]",
		"Serves deterministic stand-ins for the Leeloo v1/v2, Text Request v3, TWIN and Calltouch APIs\n"+
			"on one address (Leeloo under /api/v1 and /api/v2, Text Request under /api/v3, TWIN under\n"+
			"/twin/iam/api/v1 and /twin/chat/api/v1, Calltouch under /calls-service and /lead-service)\n"+
			"and prints the environment\n"+
			"that points crmsync at them. Stops on SIGINT or SIGTERM.", false)
	addr := fs.String("addr", "127.0.0.1:8900", "listen address")
	var opts simulator.Options
	opts.RegisterFlags(fs)
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if err := noArgs(fs); err != nil {
		return a.usageErr("simulate", err)
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return a.usageErr("simulate", fmt.Errorf("--addr: %q is not HOST:PORT", *addr))
	}
	if opts.Scale < 1 {
		return a.usageErr("simulate", fmt.Errorf("--scale: %d must be at least 1", opts.Scale))
	}

	sim := simulator.New(opts)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return a.failure("simulate", fmt.Errorf("listen on %s: %w", *addr, err), nil)
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	base := "http://" + reachable(ln.Addr().String())
	f := opts.Faults
	fmt.Fprintf(a.stdout, "Simulated Leeloo, Text Request, TWIN and Calltouch APIs on %s (seed %d, scale %d). Point crmsync at them with:\n\n", base, opts.Seed, opts.Scale)
	fmt.Fprintf(a.stdout, "export LEELOO_BASE_URL=%s\n", base)
	fmt.Fprintf(a.stdout, "export LEELOO_AUTH_TOKEN=%s\n", cmp.Or(opts.LeelooToken, "demo-leeloo-token"))
	fmt.Fprintf(a.stdout, "export LEELOO_RATE_LIMIT=%s\n", simLimit(f.LeelooRateLimit, f.RateWindow))
	fmt.Fprintf(a.stdout, "export TEXTREQUEST_BASE_URL=%s/api/v3\n", base)
	fmt.Fprintf(a.stdout, "export TEXTREQUEST_API_KEY=%s\n", cmp.Or(opts.TextRequestKey, "demo-textrequest-key"))
	fmt.Fprintf(a.stdout, "export TEXTREQUEST_RATE_LIMIT=%s\n", simLimit(f.TextRequestRateLimit, f.RateWindow))
	fmt.Fprintf(a.stdout, "export TWIN_IAM_URL=%s%s\n", base, simulator.TwinIAMPath)
	fmt.Fprintf(a.stdout, "export TWIN_CHAT_URL=%s%s\n", base, simulator.TwinChatPath)
	fmt.Fprintf(a.stdout, "export TWIN_EMAIL=%s\n", cmp.Or(opts.TwinEmail, simulator.DefaultTwinEmail))
	fmt.Fprintf(a.stdout, "export TWIN_PASSWORD=%s\n", cmp.Or(opts.TwinPassword, simulator.DefaultTwinPassword))
	fmt.Fprintf(a.stdout, "export TWIN_RATE_LIMIT=%s\n", simLimit(f.TwinRateLimit, f.RateWindow))
	fmt.Fprintf(a.stdout, "export CALLTOUCH_BASE_URL=%s\n", base)
	fmt.Fprintf(a.stdout, "export CALLTOUCH_API_TOKEN=%s\n", cmp.Or(opts.CalltouchToken, "demo-calltouch-token"))
	fmt.Fprintf(a.stdout, "export CALLTOUCH_SITE_ID=%d\n", cmp.Or(opts.CalltouchSiteID, 51234))
	fmt.Fprintf(a.stdout, "export CALLTOUCH_RATE_LIMIT=%s\n", simLimit(f.CalltouchRateLimit, time.Second))
	if f.LeelooRateLimit == 0 && f.TextRequestRateLimit == 0 && f.TwinRateLimit == 0 && f.CalltouchRateLimit == 0 {
		fmt.Fprintln(a.stdout, "\nThe simulators run without the real APIs' rate limits (see --rate-limit-textrequest).")
	}
	fmt.Fprintln(a.stdout, "\nStop with Ctrl-C.")
	if a.ready != nil {
		a.ready(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		return a.failure("simulate", fmt.Errorf("serve %s: %w", *addr, err), nil)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return a.failure("simulate", fmt.Errorf("shut down: %w", err), nil)
	}
	return exitOK
}

// simLimit is the client budget matching a simulated limit: the same count per window.
func simLimit(n int, window time.Duration) string {
	if n == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/%s", n, cmp.Or(window, time.Minute))
}

// reachable turns a wildcard listen address into one a client on this host can dial.
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
