package calltouch

import "github.com/crmsync/crmsync/internal/stream"

// Source is the source name of every Calltouch stream (sync.state, sync.runs, logs).
const Source = "calltouch"

// Stream and table names (migrations/00007_create_calltouch.sql).
const (
	StreamCalls    = "calls"
	StreamRequests = "requests"
	tblCalls       = "calltouch.calls"
	tblRequests    = "calltouch.requests"
)

func col(name, typ string) stream.Column { return stream.Column{Name: name, Type: typ} }

var callsTable = stream.Table{
	Name: tblCalls,
	Key:  []string{"site_id", "call_id"},
	Columns: []stream.Column{
		col("site_id", "bigint"), col("call_id", "bigint"), col("call_date", "date"), col("called_at", "timestamptz"),
		col("duration", "integer"), col("waiting_connect", "integer"),
		col("caller_number", "text"), col("phone_digits", "text"), col("phone_e164", "text"),
		col("tracking_number", "text"), col("redirect_number", "text"),
		col("successful", "boolean"), col("unique_call", "boolean"), col("target_call", "boolean"),
		col("uniq_target_call", "boolean"), col("callback_call", "boolean"),
		col("manager", "text"), col("city", "text"), col("source", "text"), col("medium", "text"),
		col("keyword", "text"), col("url", "text"), col("call_url", "text"), col("ref", "text"), col("hostname", "text"),
		col("utm_source", "text"), col("utm_medium", "text"), col("utm_campaign", "text"), col("utm_content", "text"), col("utm_term", "text"),
		col("session_id", "bigint"), col("call_phase", "text"), col("attribution", "integer"),
		col("ct_caller_id", "text"), col("client_id", "text"), col("ya_client_id", "text"), col("ct_client_id", "text"),
		col("ct_global_id", "text"), col("sip_call_id", "text"), col("call_reference_id", "text"),
		col("sub_pool_name", "text"), col("status_details", "text"),
		col("tags", "text[]"), col("comments", "text[]"), col("order_numbers", "text[]"),
		col("raw", "jsonb"),
	},
}

var requestsTable = stream.Table{
	Name: tblRequests,
	Key:  []string{"site_id", "request_id"},
	Columns: []stream.Column{
		col("site_id", "bigint"), col("request_id", "bigint"), col("request_number", "text"),
		col("request_date", "date"), col("created_at", "timestamptz"), col("subject", "text"),
		col("unique_request", "boolean"), col("target_request", "boolean"), col("uniq_target_request", "boolean"),
		col("manager", "text"), col("client_id", "bigint"), col("client_name", "text"),
		col("phone", "text"), col("phone_digits", "text"), col("phone_e164", "text"),
		col("phones", "text[]"), col("phones_e164", "text[]"), col("email", "text"), col("emails", "text[]"),
		col("session_id", "bigint"), col("source", "text"), col("medium", "text"), col("keywords", "text"),
		col("city", "text"), col("ip", "text"), col("ref", "text"), col("url", "text"),
		col("utm_source", "text"), col("utm_medium", "text"), col("utm_campaign", "text"), col("utm_content", "text"), col("utm_term", "text"),
		col("gua_client_id", "text"), col("ya_client_id", "text"), col("attribution", "integer"),
		col("ct_client_id", "text"), col("ct_global_id", "text"),
		col("tags", "text[]"), col("comments", "text[]"),
		col("raw", "jsonb"),
	},
}

// descs describes the two streams.
func descs() []stream.Desc {
	return []stream.Desc{
		{
			Source: Source, Name: StreamCalls, Mode: stream.ModeIncremental, Deletions: stream.DeletionsEveryRun,
			Description: "calls journal by day windows from CALLTOUCH_START_DATE, re-reading CALLTOUCH_LOOKBACK for late tags, comments and deals; a call missing from a re-read day is marked deleted",
			Tables:      []stream.Table{callsTable},
		},
		{
			Source: Source, Name: StreamRequests, Mode: stream.ModeIncremental, Deletions: stream.DeletionsEveryRun,
			Description: "requests (leads) journal by day windows, re-reading CALLTOUCH_LOOKBACK; a request missing from a re-read day is marked deleted",
			Tables:      []stream.Table{requestsTable},
		},
	}
}
