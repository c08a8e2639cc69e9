package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
)

// cmdStreams is `crmsync streams`: every stream of every extractor, enabled or not.
func cmdStreams(ctx context.Context, a *app, args []string) int {
	fs := a.flags("streams", "[--wide] [-o text|json]", "Lists every stream of every source: its sync mode, whether `crmsync run` runs it by\n"+
		"default, when it marks rows of records deleted at the source (DELETIONS: every run, full\n"+
		"sweeps, or not detected), and the tables it fills. --wide adds their primary keys and a description;\n"+
		"-o json prints all of it as JSON. It needs no configuration.", false)
	wide := fs.Bool("wide", false, "more columns: the tables' primary keys and the stream's description")
	output := fs.String("o", "text", "output format: text or json")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if err := noArgs(fs); err != nil {
		return a.usageErr("streams", err)
	}
	if *output != "text" && *output != "json" {
		return a.usageErr("streams", fmt.Errorf("-o: %q: want text or json", *output))
	}
	exs, err := allExtractors()
	if err != nil {
		return a.failure("streams", err, nil)
	}
	type table struct {
		Name string   `json:"name"`
		Key  []string `json:"key"`
	}
	type row struct {
		Stream      string  `json:"stream"`
		Mode        string  `json:"mode"`
		Partitioned bool    `json:"partitioned"`
		Default     bool    `json:"default"`
		Deletions   string  `json:"deletions"`
		Tables      []table `json:"tables"`
		Description string  `json:"description"`
	}
	var rows []row
	for _, ex := range exs {
		for _, d := range ex.Streams() {
			r := row{Stream: d.ID(), Mode: string(d.Mode), Partitioned: d.Partitioned, Default: !d.DefaultOff, Deletions: d.Deletions.Text(), Description: d.Description}
			for _, t := range d.Tables {
				r.Tables = append(r.Tables, table{Name: t.Name, Key: t.Key})
			}
			rows = append(rows, r)
		}
	}
	if *output == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return a.failure("streams", err, nil)
		}
		return exitOK
	}

	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	if *wide {
		fmt.Fprintln(tw, "STREAM\tMODE\tDEFAULT\tDELETIONS\tTABLES (KEY)\tDESCRIPTION")
	} else {
		fmt.Fprintln(tw, "STREAM\tMODE\tDEFAULT\tDELETIONS\tTABLES")
	}
	for _, r := range rows {
		def := "on"
		if !r.Default {
			def = "off"
		}
		mode := r.Mode
		if r.Partitioned {
			mode += ", partitioned"
		}
		for i, t := range r.Tables {
			cols := []string{"", "", "", "", t.Name}
			if i == 0 {
				cols = []string{r.Stream, mode, def, r.Deletions, t.Name}
			}
			if *wide {
				cols[4] += " (" + strings.Join(t.Key, ", ") + ")"
				if i == 0 {
					cols = append(cols, r.Description)
				} else {
					cols = append(cols, "")
				}
			}
			fmt.Fprintln(tw, strings.Join(cols, "\t"))
		}
	}
	_ = tw.Flush()
	return exitOK
}
