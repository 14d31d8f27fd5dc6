// Package events carries routedeck's change notifications in process: the
// store says what it committed (draft changes, published versions, saved
// settings), discovery says which upstreams' endpoints moved, and the
// services that derive something from those (the xDS publisher, the
// endpoint feed, the sandbox, lint) react instead of polling.
//
// A Topic fans each event out to every subscriber. Publishing never
// blocks: each subscriber has its own queue and takes everything queued at
// once, so a slow subscriber sees a batch rather than holding up the
// store's writer. Run drives a subscriber, recovering and counting panics
// so that one bad event cannot stop the others from being handled.
package events

import (
	"slices"

	"github.com/routedeck/routedeck/backend/model"
)

// DraftChanged is one committed write to the draft.
type DraftChanged struct {
	// Generation is the draft generation the write produced.
	Generation int64
	// Changed are the objects created or updated, as stored (read-only).
	Changed []model.Object
	// Deleted are the objects the write removed, as they were.
	Deleted []model.Object
}

// Gateways are the gateways the change touches: changed or deleted
// gateways, and the gateways of changed or deleted routes. all is true
// when an upstream or a secret changed, which any gateway may use.
func (e DraftChanged) Gateways() (names map[string]bool, all bool) {
	names = map[string]bool{}
	for _, obj := range append(slices.Clip(e.Changed), e.Deleted...) {
		switch o := obj.(type) {
		case *model.Gateway:
			names[o.Name] = true
		case *model.Route:
			names[o.Gateway] = true
		default:
			all = true
		}
	}
	return names, all
}

// Published is a gateway version the store recorded (a publish or a
// rollback).
type Published struct {
	Gateway string
	Version int64
	// Workspace is what the version is made of (read-only).
	Workspace model.Workspace
}

// SettingChanged is a saved setting (targets, sandbox engine, ...).
type SettingChanged struct {
	Key string
}

// EndpointsChanged says discovery reports a new endpoint list for an
// upstream. Endpoints nil means discovery no longer knows the upstream.
type EndpointsChanged struct {
	Upstream  string
	Endpoints []model.Endpoint
}

// AlertsChanged says alert rules or notifiers were written.
type AlertsChanged struct{}

// Bus is the set of topics routedeck's services share.
type Bus struct {
	Draft     Topic[DraftChanged]
	Published Topic[Published]
	Settings  Topic[SettingChanged]
	Endpoints Topic[EndpointsChanged]
	Alerts    Topic[AlertsChanged]
}

// NewBus returns a bus whose topics have no subscribers yet.
func NewBus() *Bus { return &Bus{} }
