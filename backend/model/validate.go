package model

// Validate methods are implemented in validate_*.go. These stubs keep the
// package compiling until then.

// Validate checks the gateway on its own.
func (g *Gateway) Validate() error { return nil }

// Validate checks the upstream on its own.
func (u *Upstream) Validate() error { return nil }

// Validate checks the route on its own (not whether its upstreams exist).
func (r *Route) Validate() error { return nil }

// Validate checks every object and every reference between them: duplicate
// names, routes naming unknown gateways or upstreams. Paths are prefixed with
// the list and index ("routes[3].then.forward[0].upstream").
func (ws *Workspace) Validate() error { return nil }
