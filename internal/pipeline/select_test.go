package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

func TestSelect(t *testing.T) {
	t.Parallel()
	off := desc("leeloo", "account_messages")
	off.DefaultOff = true
	lee := &fakeExtractor{descs: []stream.Desc{desc("leeloo", "people"), desc("leeloo", "messages"), off}}
	tr := &fakeExtractor{descs: []stream.Desc{desc("textrequest", "contacts"), desc("textrequest", "messages")}}
	exs := []Extractor{lee, tr}

	ids := func(jobs []Job) []string {
		var out []string
		for _, j := range jobs {
			out = append(out, j.Desc.ID())
		}
		return out
	}

	for _, tt := range []struct {
		name string
		sel  Selection
		want []string
		err  string
	}{
		{"default skips DefaultOff", Selection{}, []string{"leeloo.people", "leeloo.messages", "textrequest.contacts", "textrequest.messages"}, ""},
		{"one source", Selection{Source: "textrequest"}, []string{"textrequest.contacts", "textrequest.messages"}, ""},
		{"bare name matches every source", Selection{Streams: []string{"messages"}}, []string{"leeloo.messages", "textrequest.messages"}, ""},
		{"bare name within a source", Selection{Source: "leeloo", Streams: []string{"messages"}}, []string{"leeloo.messages"}, ""},
		{"qualified name", Selection{Streams: []string{"textrequest.messages", "leeloo.people"}}, []string{"leeloo.people", "textrequest.messages"}, ""},
		{"DefaultOff when named", Selection{Streams: []string{"account_messages"}}, []string{"leeloo.account_messages"}, ""},
		{"unknown stream", Selection{Streams: []string{"peeple"}}, nil, `unknown stream "peeple"; valid streams: leeloo.people, leeloo.messages, leeloo.account_messages, textrequest.contacts, textrequest.messages`},
		{"stream of another source", Selection{Source: "leeloo", Streams: []string{"contacts"}}, nil, `unknown stream "contacts"`},
		{"unknown source", Selection{Source: "twin"}, nil, `no source "twin" is enabled (enabled: leeloo, textrequest)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jobs, err := Select(exs, tt.sel)
			if tt.err != "" {
				require.ErrorIs(t, err, stream.ErrUnknownStream)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, ids(jobs))
		})
	}

	require.Equal(t, map[string][]string{
		"leeloo":      {"people", "messages", "account_messages"},
		"textrequest": {"contacts", "messages"},
	}, Known(exs))
}
