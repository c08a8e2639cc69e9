package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
)

// cmdStreams is `crmsync streams`: every stream of every extractor, enabled or not.
func cmdStreams(ctx context.Context, a *app, args []string) int {
	fs := a.flags("streams", "", "Lists every stream of every source: its sync mode, whether `crmsync run` runs it by\n"+
		"default, and the tables it fills with their primary keys. It needs no configuration.", false)
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if err := noArgs(fs); err != nil {
		return a.usageErr("streams", err)
	}
	exs, err := allExtractors()
	if err != nil {
		return a.failure("streams", err, nil)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTREAM\tMODE\tDEFAULT\tTABLES (KEY)\tDESCRIPTION")
	for _, ex := range exs {
		for _, d := range ex.Streams() {
			def := "on"
			if d.DefaultOff {
				def = "off"
			}
			mode := string(d.Mode)
			if d.Partitioned {
				mode += ", partitioned"
			}
			for i, t := range d.Tables {
				table := t.Name + " (" + strings.Join(t.Key, ", ") + ")"
				if i == 0 {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Source, d.Name, mode, def, table, d.Description)
				} else {
					fmt.Fprintf(tw, "\t\t\t\t%s\t\n", table)
				}
			}
		}
	}
	_ = tw.Flush()
	return exitOK
}
