package api

import (
	"context"
	"net"
	"net/http"
)

// ServerInfo is what a client learns about the server it talks to: how
// proxies reach its ADS. The CLI's bootstrap and manifests and the
// dashboard's publish hints take the address from here rather than
// guessing the default.
type ServerInfo struct {
	ADS ADSInfo `json:"ads"`
}

// ADSInfo describes the server's ADS endpoint.
type ADSInfo struct {
	// Listen is the address ADS is bound to, with the port it got.
	Listen string `json:"listen"`
	// Address is what a proxy dials: Listen, or, when Listen's host is a
	// wildcard (0.0.0.0, ::), the first extra server name or else loopback
	// with the same port.
	Address string `json:"address"`
	// Plaintext is true when ADS serves without TLS (development only);
	// otherwise proxies need a client certificate of the server's CA.
	Plaintext bool `json:"plaintext"`
	// SandboxOnly is true when the server was started without an ADS
	// address: ADS then runs on a loopback port chosen at start for the
	// sandbox, which changes with every restart.
	SandboxOnly bool `json:"sandboxOnly"`
	// ServerNames are the names and addresses the ADS certificate is
	// valid for (empty in plaintext).
	ServerNames []string `json:"serverNames"`
	// VHDS is true when ADS sends routes to delta streams as virtual
	// hosts of their own (serve --ads-vhds): proxies' bootstraps then use
	// delta ADS.
	VHDS bool `json:"vhds"`
	// CA is the PEM trust bundle proxies check the ADS server with (the
	// ca.crt of a proxy; empty in plaintext). Certificates are public.
	CA string `json:"ca,omitempty"`
}

// ServerInfoSource reports the server's ServerInfo; the CA bundle changes
// when it is rotated, so it is asked per request.
type ServerInfoSource interface {
	ServerInfo(ctx context.Context) (ServerInfo, error)
}

// DialAddress is the address a proxy dials for an ADS server bound to
// listen: a wildcard host is no address to dial, so the first of names (a
// name proxies know the server by) or loopback takes its place.
func DialAddress(listen net.Addr, names []string) string {
	host, port, err := net.SplitHostPort(listen.String())
	if err != nil {
		return listen.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if len(names) > 0 {
			host = names[0]
		}
	}
	return net.JoinHostPort(host, port)
}

func (s *server) serverInfo(w http.ResponseWriter, r *http.Request) {
	if err := onlyQuery(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.Info == nil {
		s.writeError(w, r, notWired("server information"))
		return
	}
	info, err := s.Info.ServerInfo(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if info.ADS.ServerNames == nil {
		info.ADS.ServerNames = []string{}
	}
	writeJSON(w, http.StatusOK, info)
}
