package session

import (
	"fmt"
	"net"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/translate"
)

// sandboxHost is where every sandbox listener is bound: a real Envoy must
// not take the gateway's production port (8080, say) or listen on
// 0.0.0.0 on the operator's machine.
const sandboxHost = "127.0.0.1"

// portPicker hands out free loopback ports, keeping each listener's port
// across rebuilds so a running data plane keeps its sockets.
type portPicker struct {
	ports map[string]int // listener name -> port
	free  func() (int, error)
}

func newPortPicker() *portPicker { return &portPicker{ports: map[string]int{}, free: freePort} }

// freePort asks the kernel for a free loopback port. The port is released
// before the data plane binds it; another process could take it in
// between, which the data plane then reports as a listener that fails to
// bind (Envoy NACKs the listener).
func freePort() (int, error) {
	lis, err := net.Listen("tcp", net.JoinHostPort(sandboxHost, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick a sandbox port: %w", err)
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port, nil
}

// remapListeners returns res with every listener bound to a loopback port
// of the sandbox's own, and the address of each listener by name. Nothing
// else changes, so the data plane routes exactly as it would on the
// gateway's real ports. res itself is left alone: translated resources
// are shared read-only.
func (pp *portPicker) remapListeners(res *translate.Resources) (*translate.Resources, map[string]string, error) {
	out := *res
	out.Listeners = make([]*listenerv3.Listener, len(res.Listeners))
	addrs := make(map[string]string, len(res.Listeners))
	keep := make(map[string]int, len(res.Listeners))
	for i, l := range res.Listeners {
		port, ok := pp.ports[l.GetName()]
		if !ok {
			p, err := pp.free()
			if err != nil {
				return nil, nil, err
			}
			port = p
		}
		keep[l.GetName()] = port
		c := proto.Clone(l).(*listenerv3.Listener)
		c.Address = &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Protocol: corev3.SocketAddress_TCP, Address: sandboxHost,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
		}}}
		// Extra addresses would bind the real ports again.
		c.AdditionalAddresses = nil
		out.Listeners[i] = c
		addrs[l.GetName()] = net.JoinHostPort(sandboxHost, strconv.Itoa(port))
	}
	pp.ports = keep
	return &out, addrs, nil
}

// listenerTLS reports whether a listener terminates TLS: a filter chain
// with a transport socket.
func listenerTLS(l *listenerv3.Listener) bool {
	for _, fc := range l.GetFilterChains() {
		if fc.GetTransportSocket() != nil {
			return true
		}
	}
	return false
}

// ownRoutes reports whether l reads a route configuration of its own
// (some rule names it) rather than the gateway's, which holds only the
// rules of every listener.
func ownRoutes(l *listenerv3.Listener, gateway string) bool {
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			hcm := &hcmv3.HttpConnectionManager{}
			if f.GetTypedConfig().UnmarshalTo(hcm) == nil {
				return hcm.GetRds().GetRouteConfigName() != gateway
			}
		}
	}
	return false
}
