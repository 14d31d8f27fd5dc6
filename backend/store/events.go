package store

import (
	"github.com/routedeck/routedeck/backend/events"
)

// Events is the bus the store announces its committed changes on: every
// draft write (with the objects it changed), every recorded version and
// every saved setting, each after its transaction committed. Discovery's
// endpoint changes travel on the same bus.
func (s *Store) Events() *events.Bus { return s.events }

// announceDraft publishes one committed draft write: the objects it
// created or updated, as stored, and those it deleted, as they were.
func (s *Store) announceDraft(gen int64, changes []change) {
	ev := events.DraftChanged{Generation: gen}
	for _, ch := range changes {
		if ch.after != nil {
			ev.Changed = append(ev.Changed, ch.after)
		} else {
			ev.Deleted = append(ev.Deleted, ch.before)
		}
	}
	s.events.Draft.Publish(ev)
}

func (s *Store) announcePublished(p Published) {
	s.events.Published.Publish(events.Published{Gateway: p.Gateway, Version: p.Version, Workspace: p.Workspace})
}
