package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestReplayRequestChecks: what the API itself checks before a replay
// runs: the caller, the body (strictly, every problem at once), a body
// limit that fits a HAR or log file, and a server without a replayer.
func TestReplayRequestChecks(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	const path = "/api/v1/gateways/public/replay"
	a.do(t, "", "POST", path, `{"source":{"tests":true}}`).must(t, http.StatusUnauthorized)

	fields := a.do(t, "viewer", "POST", path, `{"source":{"since":"1h","tests":true},"from":"v0","examples":99}`).
		must(t, http.StatusBadRequest).problemFields(t)
	for _, f := range []string{"source", "from", "examples"} {
		if fields[f] == "" {
			t.Errorf("no problem for %s: %v", f, fields)
		}
	}
	fields = a.do(t, "viewer", "POST", path, `{"source":{"tests":true},"form":"live"}`).must(t, http.StatusBadRequest).problemFields(t)
	if fields["form"] == "" {
		t.Errorf("unknown field not named: %v", fields)
	}

	// A file beyond the API's usual 4 MiB reaches the replay.
	big := `{"source":{"log":"` + strings.Repeat("x", 5<<20) + `"}}`
	a.do(t, "viewer", "POST", path, big).must(t, http.StatusNotImplemented)
	a.do(t, "viewer", "POST", path, `{"source":{"tests":true}}`).must(t, http.StatusNotImplemented)
	// Other endpoints keep the usual limit.
	a.do(t, "editor", "POST", "/api/v1/validate", `{"x":"`+strings.Repeat("x", 5<<20)+`"}`).must(t, http.StatusRequestEntityTooLarge)
}
