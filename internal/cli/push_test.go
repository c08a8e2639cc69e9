package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/simulator"
)

// pushBundle is a simulator, a migrated database with a table of lead notes (one per
// Calltouch call) and wanted TWIN values, and a schedules file with their pushes.
type pushBundle struct {
	*testBundle
	config string
	keys   int
}

func setupPush(t *testing.T, extra string) *pushBundle {
	t.Helper()
	tb := setup(t, simulator.Options{})
	tb.env = with(tb.env,
		"CALLTOUCH_BASE_URL", tb.srv.URL, "CALLTOUCH_API_TOKEN", "demo-calltouch-token",
		"CALLTOUCH_SITE_ID", fmt.Sprint(tb.sim.CalltouchSiteID()), "CALLTOUCH_RATE_LIMIT", "off",
		"TWIN_IAM_URL", tb.srv.URL+simulator.TwinIAMPath, "TWIN_CHAT_URL", tb.srv.URL+simulator.TwinChatPath,
		"TWIN_EMAIL", simulator.DefaultTwinEmail, "TWIN_PASSWORD", simulator.DefaultTwinPassword, "TWIN_RATE_LIMIT", "off")
	ctx := context.Background()
	r := cliRun(ctx, t, tb.env, "migrate", "up")
	require.Equal(t, exitOK, r.code, r.stderr)
	_, err := tb.pool.Exec(ctx, `create table lead_notes (key text, comment text, call_id bigint);
		create table wanted (client_id text, attribute text, value text)`)
	require.NoError(t, err)
	calls := tb.sim.CalltouchTruth().Calls
	for _, c := range calls {
		_, err := tb.pool.Exec(ctx, `insert into lead_notes values ($1, $2, $3)`, fmt.Sprintf("call-%d", c.CallID),
			fmt.Sprintf("[call-%d] replied by SMS", c.CallID), c.CallID)
		require.NoError(t, err)
	}
	truth := tb.sim.TwinTruth()
	for _, c := range truth.ClientIDs[:5] {
		_, err := tb.pool.Exec(ctx, `insert into wanted values ($1, $2, 'paid')`, c, truth.Attributes[0].Name)
		require.NoError(t, err)
	}
	path := filepath.Join(t.TempDir(), "schedules.yaml")
	body := "jobs:\n  - name: users\n    schedule: '@daily'\n    source: leeloo\n    streams: [users]\n" +
		"pushes:\n" +
		"  - name: lead-notes\n    destination: calltouch-lead-comments\n    query: select key, comment, call_id from lead_notes\n" +
		"  - name: twin-status\n    destination: twin-client-attributes\n    query: select client_id, attribute, value from wanted\n" + extra
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return &pushBundle{testBundle: tb, config: path, keys: len(calls)}
}

// comments counts the comments the simulator received, by text.
func (pb *pushBundle) comments() map[string]int {
	out := map[string]int{}
	for _, texts := range pb.sim.CalltouchLeadComments() {
		for _, s := range texts {
			out[s]++
		}
	}
	return out
}

func TestPushCommand(t *testing.T) {
	t.Parallel()
	pb := setupPush(t, "  - name: broken\n    destination: calltouch-lead-comments\n    query: select key, comment as text from lead_notes\n")
	ctx := context.Background()

	r := cliRun(ctx, t, pb.env, "push", "nope", "--config", pb.config)
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, `push "nope": not in`)
	require.Contains(t, r.stderr, "defined: lead-notes, twin-status, broken")

	r = cliRun(ctx, t, pb.env, "push", "broken", "--config", pb.config)
	require.Equal(t, exitUsage, r.code, r.stderr)
	require.Contains(t, r.stderr, `push "broken" (line 13): query: column comment: missing (want text)`)

	r = cliRun(ctx, t, with(pb.env, "CALLTOUCH_SITE_ID", ""), "push", "lead-notes", "--config", pb.config)
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "CALLTOUCH_SITE_ID")

	// A dry run sends and writes nothing.
	runs := pb.count(t, "sync.runs")
	r = cliRun(ctx, t, pb.env, "push", "lead-notes", "twin-status", "--dry-run", "--config", pb.config)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, fmt.Sprintf("push lead-notes (calltouch-lead-comments), dry run: %d rows read\n  would send %d new", pb.keys, pb.keys))
	require.Contains(t, r.stdout, "push twin-status (twin-client-attributes), dry run: 5 rows read")
	require.Regexp(t, `send +call-\d+ +\{"matching":\[\{"type":"call"`, r.stdout)
	require.Empty(t, pb.comments())
	require.Zero(t, pb.count(t, "sync.pushes"))
	require.Equal(t, runs, pb.count(t, "sync.runs"))

	_, err := pb.pool.Exec(ctx, `insert into wanted select client_id, attribute, 'again' from wanted limit 1`)
	require.NoError(t, err)
	r = cliRun(ctx, t, pb.env, "push", "lead-notes", "twin-status", "--config", pb.config)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Regexp(t, `twin-status: [^:]+: key "[^"]+" is repeated in the query result \(2 rows\); none of them is sent`, r.stdout)
	require.Regexp(t, fmt.Sprintf(`lead-notes +calltouch-lead-comments +succeeded +%d +%d +0 +0 +0 +0 +%d `, pb.keys, pb.keys, (pb.keys+99)/100), r.stdout)
	require.Regexp(t, `twin-status +twin-client-attributes +succeeded +6 +4 +1 `, r.stdout)
	require.Len(t, pb.comments(), pb.keys)

	r = cliRun(ctx, t, pb.env, "status")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Regexp(t, fmt.Sprintf(`lead-notes +\S+ \S+ +succeeded +%d +%d +0 +0 +0 +%d `, pb.keys, pb.keys, pb.keys), r.stdout)
}

func TestSchedulePush(t *testing.T) {
	t.Parallel()
	pb := setupPush(t, "")
	require.NoError(t, os.WriteFile(pb.config, []byte(strings.Replace(mustRead(t, pb.config),
		"destination: twin-client-attributes\n", "destination: twin-client-attributes\n    schedule: '@every 1s'\n", 1)), 0o600))
	sch := startSchedule(t, pb.env, "--config", pb.config, "--http", "127.0.0.1:0")
	sch.waitForMetric(t, `crmsync_push_rows_total{outcome="sent",push="twin-status"} 5`, 60*time.Second)
	sch.stop(t)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// TestPushKill9 kills `crmsync push` (a child process) at random points of a push of
// comments, 20 times, with every comment's text changed before each trial so each trial
// has a push's worth to send. No comment text may reach the simulator twice, and once a
// last push completes, every row is sent or unknown (its request went out when the
// process died), and a row recorded sent or failed says what the simulator saw.
func TestPushKill9(t *testing.T) {
	t.Parallel()
	pb := setupPush(t, "")
	ctx := context.Background()
	// Requests take a while, so kills land before, during and after them.
	pb.sim.SetFaults(simulator.Faults{Latency: 250 * time.Millisecond})
	env := os.Environ()
	for k, v := range pb.env {
		env = append(env, k+"="+v)
	}
	// 300 rows: three requests a push.
	_, err := pb.pool.Exec(ctx, `delete from lead_notes where key not in (select key from lead_notes order by key limit 300)`)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	// One uncut push (trial 0) says how long a push takes on this machine; the kills of
	// the others land anywhere from the process start to a bit past that.
	var full time.Duration
	killed, inFlight := 0, 0
	for trial := range 21 {
		_, err := pb.pool.Exec(ctx, `update lead_notes set comment = '[' || key || '] trial ' || $1::text`, fmt.Sprint(trial))
		require.NoError(t, err)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(env, envCLIChild+"=push lead-notes --no-migrate --log-format json --config "+pb.config)
		cmd.Stderr = io.Discard
		start := time.Now()
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if trial == 0 {
			require.NoError(t, <-exited)
			full = time.Since(start)
			continue
		}
		select {
		case <-time.After(time.Duration(rng.Int64N(int64(full + full/5)))):
			_ = cmd.Process.Kill()
			<-exited
			killed++
		case <-exited: // finished before the kill
		}
		var sending int
		require.NoError(t, pb.pool.QueryRow(ctx, `select count(*) from sync.pushes where status = 'sending'`).Scan(&sending))
		if sending > 0 {
			inFlight++
		}
	}
	t.Logf("a push took %s; %d of 20 trials killed mid-push, %d of them with a request in flight", full, killed, inFlight)
	pb.sim.SetFaults(simulator.Faults{})
	r := cliRun(ctx, t, pb.env, "push", "lead-notes", "--config", pb.config)
	require.NotEqual(t, exitUsage, r.code, r.stderr)

	got := pb.comments()
	for text, n := range got {
		require.Equal(t, 1, n, "comment %q received %d times", text, n)
	}
	rows, err := pb.pool.Query(ctx, `select l.key, l.comment, p.status from lead_notes l left join sync.pushes p on p.push = 'lead-notes' and p.key = l.key`)
	require.NoError(t, err)
	statuses := map[string]int{}
	for rows.Next() {
		var key, comment string
		var status *string
		require.NoError(t, rows.Scan(&key, &comment, &status))
		require.NotNil(t, status, "row %s has no outcome", key)
		statuses[*status]++
		switch *status {
		case "sent":
			require.Equal(t, 1, got[comment], "row %s recorded sent, but its comment never arrived", key)
		case "unknown":
		default:
			t.Fatalf("row %s ended %s", key, *status)
		}
	}
	require.NoError(t, rows.Err())
	t.Logf("final statuses: %v", statuses)
	trialTexts := regexp.MustCompile(`trial (\d+)$`)
	perTrial := map[string]int{}
	for text := range got {
		if m := trialTexts.FindStringSubmatch(text); m != nil {
			perTrial[m[1]]++
		}
	}
	t.Logf("comments received per trial: %v", perTrial)
}
