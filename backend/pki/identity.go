package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// SPIFFE IDs routedeck issues. A gateway's proxies get GatewayID; the
// sandbox's own data planes get SandboxID from a CA that lives only in the
// server's memory; the ADS server presents ServerID.
const (
	trustDomain   = "routedeck"
	gatewayPrefix = "spiffe://" + trustDomain + "/gateway/"
	sandboxPrefix = "spiffe://" + trustDomain + "/sandbox/"
	// ServerID is the URI SAN of the ADS server's certificate; proxies
	// match it, so a gateway's client certificate cannot pose as the
	// server.
	ServerID = "spiffe://" + trustDomain + "/ads"
	// sandboxKeyPrefix is the node.cluster prefix of sandbox data planes.
	sandboxKeyPrefix = "sandbox/"
)

// GatewayID is the URI SAN of gateway's client certificates.
func GatewayID(gateway string) string { return gatewayPrefix + gateway }

// SandboxID is the URI SAN of a sandbox data plane: name is the gateway
// (the data plane of its draft) or "<gateway>/v<N>" (of its published
// version N); see CheckSandboxName.
func SandboxID(name string) string { return sandboxPrefix + name }

// CheckSandboxName accepts what a sandbox data plane may be named: a
// gateway name, or a gateway name and a published version as
// "<gateway>/v<N>", since the sandbox can run any version beside the
// draft and each needs a snapshot, and so an identity, of its own.
func CheckSandboxName(name string) error {
	gateway, version, found := strings.Cut(name, "/v")
	if err := CheckGatewayName(gateway); err != nil || !found {
		return err
	}
	if n, err := strconv.ParseInt(version, 10, 64); err != nil || n <= 0 || strconv.FormatInt(n, 10) != version {
		return fmt.Errorf("sandbox name %q: want <gateway> or <gateway>/v<version>, the version a positive number", name)
	}
	return nil
}

// Identity is who a verified client certificate speaks for.
type Identity struct {
	// Cluster is the node.cluster the holder may ask for: the gateway, or
	// "sandbox/<gateway>" for the sandbox's data plane.
	Cluster string
	// Sandbox marks a sandbox identity, which only the in-memory sandbox
	// CA may vouch for.
	Sandbox bool
}

// identityOf reads the one routedeck SPIFFE ID of a leaf certificate.
func identityOf(leaf *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range leaf.URIs {
		s := u.String()
		switch {
		case strings.HasPrefix(s, gatewayPrefix):
			name := strings.TrimPrefix(s, gatewayPrefix)
			if CheckGatewayName(name) == nil {
				found = append(found, Identity{Cluster: name})
			}
		case strings.HasPrefix(s, sandboxPrefix):
			name := strings.TrimPrefix(s, sandboxPrefix)
			if CheckSandboxName(name) == nil {
				found = append(found, Identity{Cluster: sandboxKeyPrefix + name, Sandbox: true})
			}
		}
	}
	switch len(found) {
	case 0:
		return Identity{}, errors.New("certificate names no routedeck gateway")
	case 1:
		return found[0], nil
	}
	return Identity{}, errors.New("certificate names more than one routedeck identity")
}

func parseURI(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("URI SAN %q: %w", s, err)
	}
	return u, nil
}

func parseIP(s string) net.IP { return net.ParseIP(s) }

// osHostname is os.Hostname, a variable for tests.
var osHostname = os.Hostname
