package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/internal/demo"
	"github.com/crmsync/crmsync/internal/simulator"
)

// cmdDemo is `crmsync demo` (what `make demo` runs): simulators in-process, a database
// found or started, then this same binary run as `crmsync run` twice around a change
// of the simulated data. See package internal/demo.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: crmsync demo [--scale N] [--seed N] [--local-url DSN]

Syncs from local simulators of the Leeloo, Text Request and TWIN APIs into PostgreSQL: a full
sync, changes in the simulators, an incremental sync, analyst queries and status. It runs
this program as a subprocess (crmsync migrate, run, status), as a user would.
Database: DATABASE_URL if set, used as given; else the server of --local-url if it answers
(database crmsync_demo, dropped and recreated); else a private server started from the
installed PostgreSQL binaries in a temporary folder, removed at the end.

Flags:
`)
		fs.PrintDefaults()
	}
	scale := fs.Int("scale", 1, "simulated data size (1: ~200 Leeloo people, 450 Text Request contacts)")
	seed := fs.Int64("seed", 1, "simulated data set")
	localURL := fs.String("local-url", demo.DefaultLocalURL, "admin DSN of the local PostgreSQL tried when DATABASE_URL is unset")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "crmsync demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *scale < 1 {
		fmt.Fprintln(stderr, "crmsync demo: --scale must be at least 1")
		return exitUsage
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "crmsync demo: find this program: %v\n", err)
		return exitFailed
	}
	// The simulated "present" is an hour ago, so the changes made between the syncs
	// (stamped just now) are newer than the first sync's data and older than the
	// second sync's start, as they would be on a real account.
	now := time.Now().UTC().Truncate(time.Second)
	opts := simulator.Options{Seed: *seed, Scale: *scale, Now: now.Add(-time.Hour)}
	sim := simulator.New(opts)
	m := simulator.Mutation{
		NewPeople: 12 * *scale, NewMessages: 80 * *scale, EditedOrders: 6 * *scale, NewOrders: 5 * *scale,
		NewContacts: 9 * *scale, NewTRMessages: 40 * *scale, NewPayments: 7 * *scale,
		PaymentStatusChanges: 4 * *scale, ArchivedConversations: 3 * *scale, EditedContacts: 5 * *scale,
		Twin: simulator.TwinMutation{NewSessions: 4 * *scale, NewMessages: 15 * *scale, TouchedSessions: 5 * *scale,
			NewAttributes: 1, RenamedAttrs: 1},
		DeletedOrders: 3 * *scale, DeletedGroups: 1,
		NewCalls: 20 * *scale, EditedCalls: 6 * *scale, DeletedCalls: 2 * *scale, NewRequests: 5 * *scale, EditedRequests: 3 * *scale,
	}
	err = demo.Run(ctx, demo.Config{
		Stdout: stdout, Stderr: stderr,
		Executable:     exe,
		API:            sim.Handler(),
		LeelooToken:    "demo-leeloo-token",
		TextRequestKey: "demo-textrequest-key",
		DatabaseURL:    os.Getenv("DATABASE_URL"),
		DB:             demo.DBOptions{LocalURL: *localURL},
		MoreSources: func(base string) (map[string]string, []string) {
			return map[string]string{
					"TWIN_IAM_URL":         base + simulator.TwinIAMPath,
					"TWIN_CHAT_URL":        base + simulator.TwinChatPath,
					"TWIN_EMAIL":           simulator.DefaultTwinEmail,
					"TWIN_PASSWORD":        simulator.DefaultTwinPassword,
					"TWIN_RATE_LIMIT":      "off",
					"CALLTOUCH_BASE_URL":   base,
					"CALLTOUCH_API_TOKEN":  "demo-calltouch-token",
					"CALLTOUCH_RATE_LIMIT": "off",
					"CALLTOUCH_SITE_ID":    strconv.FormatInt(sim.CalltouchSiteID(), 10),
					"CALLTOUCH_START_DATE": opts.Now.AddDate(0, 0, -180).Format(time.DateOnly),
				}, []string{
					fmt.Sprintf("TWIN         %s%s (login at %s%s)", base, simulator.TwinChatPath, base, simulator.TwinIAMPath),
					fmt.Sprintf("Calltouch    %s/calls-service/RestAPI", base),
				}
		},
		Mutate: func() []string {
			m.At = time.Now().UTC().Add(-time.Minute)
			sim.Mutate(m)
			return []string{
				fmt.Sprintf("Leeloo: %d new people, %d new chat messages, %d new orders, %d orders edited (status, price)", m.NewPeople, m.NewMessages, m.NewOrders, m.EditedOrders),
				fmt.Sprintf("Text Request: %d new contacts, %d contacts edited, %d new messages", m.NewContacts, m.EditedContacts, m.NewTRMessages),
				fmt.Sprintf("Text Request: %d new payment requests, %d payments changed status, %d conversations archived", m.NewPayments, m.PaymentStatusChanges, m.ArchivedConversations),
				fmt.Sprintf("TWIN: %d sessions of new clients, %d new messages, %d sessions closed or re-tagged, an attribute created and one renamed",
					m.Twin.NewSessions, m.Twin.NewMessages, m.Twin.TouchedSessions),
				fmt.Sprintf("Deleted: %d Leeloo orders, %d Text Request contact group (the next sync marks them: deleted_at)", m.DeletedOrders, m.DeletedGroups),
				fmt.Sprintf("Calltouch: %d new calls, %d calls given tags, comments or deals, %d calls deleted, %d new requests, %d requests edited", m.NewCalls, m.EditedCalls, m.DeletedCalls, m.NewRequests, m.EditedRequests),
			}
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "crmsync demo: %v\n", err)
		if errors.Is(err, demo.ErrNotEmpty) {
			return exitUsage
		}
		return exitFailed
	}
	return exitOK
}
