package api

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
)

// Certs is routedeck's CA as the API offers it: issuing a gateway's ADS
// client certificate and rotating the CA, both recorded in the audit log.
type Certs interface {
	IssueGateway(ctx context.Context, actor, gateway string, lifetime time.Duration) (*pki.Issued, error)
	RotateCA(ctx context.Context, actor string, overlap time.Duration) (pki.CAInfo, error)
	CAs(ctx context.Context) ([]pki.CAInfo, error)
}

// IssueRequest is the body of POST /certs/gateways/{name}.
type IssueRequest struct {
	// Days is the certificate's lifetime; 0 means 90.
	Days int `json:"days,omitempty"`
}

// IssueReply carries the files a proxy needs, PEM encoded, under the names
// it keeps them as.
type IssueReply struct {
	Gateway  string    `json:"gateway"`
	Identity string    `json:"identity"`
	NotAfter time.Time `json:"notAfter"`
	Cert     string    `json:"tls.crt"`
	Key      string    `json:"tls.key"`
	CA       string    `json:"ca.crt"`
}

// RotateCARequest is the body of POST /certs/rotate-ca.
type RotateCARequest struct {
	// OverlapDays is how long the previous CAs stay trusted; 0 means 90.
	OverlapDays int `json:"overlapDays,omitempty"`
}

func (s *server) needCerts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Certs == nil {
			s.writeError(w, r, model.Errorf(model.ENOTFOUND, "this server has no CA"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) issueGatewayCert(w http.ResponseWriter, r *http.Request) {
	var req IssueRequest
	if err := decodeOptional(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Days < 0 {
		s.writeError(w, r, model.Errorf(model.EINVALID, "days must not be negative"))
		return
	}
	name := chi.URLParam(r, "name")
	is, err := s.Certs.IssueGateway(r.Context(), auth.Actor(r.Context()), name, time.Duration(req.Days)*24*time.Hour)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, IssueReply{Gateway: name, Identity: is.Identity, NotAfter: is.NotAfter,
		Cert: string(is.CertPEM), Key: string(is.KeyPEM), CA: string(is.CAPEM)})
}

func (s *server) rotateCA(w http.ResponseWriter, r *http.Request) {
	var req RotateCARequest
	if err := decodeOptional(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.OverlapDays < 0 {
		s.writeError(w, r, model.Errorf(model.EINVALID, "overlapDays must not be negative"))
		return
	}
	info, err := s.Certs.RotateCA(r.Context(), auth.Actor(r.Context()), time.Duration(req.OverlapDays)*24*time.Hour)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, info)
}

func (s *server) listCAs(w http.ResponseWriter, r *http.Request) {
	cas, err := s.Certs.CAs(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": cas})
}
