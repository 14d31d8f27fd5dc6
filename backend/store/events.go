package store

import (
	"github.com/routedeck/routedeck/backend/events"
	"github.com/routedeck/routedeck/backend/model"
)

// Events is the bus the store announces its committed changes on: every
// draft write (with the objects it changed), every recorded version and
// every saved setting, each after its transaction committed. Discovery's
// endpoint changes travel on the same bus.
func (s *Store) Events() *events.Bus { return s.events }

// announceDraft publishes one committed draft write: changes maps keys to
// their new objects, nil for a delete, whose old object base holds.
func (s *Store) announceDraft(gen int64, base *draftCache, changes map[objKey]model.Object) {
	ev := events.DraftChanged{Generation: gen}
	for k, obj := range changes {
		if obj != nil {
			ev.Changed = append(ev.Changed, obj)
		} else if old := base.objs[k]; old != nil {
			ev.Deleted = append(ev.Deleted, old)
		}
	}
	s.events.Draft.Publish(ev)
}

func (s *Store) announcePublished(p Published) {
	s.events.Published.Publish(events.Published{Gateway: p.Gateway, Version: p.Version, Workspace: p.Workspace})
}
