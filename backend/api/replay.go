package api

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
)

// Replayer runs replays (POST /gateways/{name}/replay): requests of a
// source against two versions of a gateway, through the reference
// evaluator and the simulated Envoy. sandbox/replay provides it. The
// request reaches it validated; an unknown gateway or version is
// ENOTFOUND, a source that does not parse EINVALID with every problem.
type Replayer interface {
	Replay(ctx context.Context, gateway string, req replay.Request) (replay.Report, error)
}

// maxReplays bounds the replays running at once: each may keep the
// machine's cores busy for a while.
const maxReplays = 2

var replaysRunning atomic.Int64

// replayBodyBytes is the body limit of a replay, which may carry a HAR or
// access-log file of up to replay.MaxUploadBytes (and the JSON escaping
// of its quotes and line breaks).
const replayBodyBytes = replay.MaxUploadBytes + replay.MaxUploadBytes/4

// isReplay reports whether r asks for a replay, which gets a larger body
// limit than other requests.
func isReplay(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/gateways/") && strings.HasSuffix(r.URL.Path, "/replay")
}

// replayRequests replays requests against two versions of the gateway.
func (s *server) replayRequests(w http.ResponseWriter, r *http.Request) {
	var req replay.Request
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := req.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.Replayer == nil {
		s.writeError(w, r, notWired("replay"))
		return
	}
	if replaysRunning.Add(1) > maxReplays {
		replaysRunning.Add(-1)
		s.writeError(w, r, model.Errorf(eTooMany, "at most %d replays run at once; try again when one has finished", maxReplays))
		return
	}
	defer replaysRunning.Add(-1)
	rep, err := s.Replayer.Replay(r.Context(), chi.URLParam(r, "name"), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
