package release

// RoundsWaitingForTest counts the publish rounds of gateway waiting for
// the one running, and the callers merged into them.
func (s *Service) RoundsWaitingForTest(gateway string) (rounds, callers int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[gateway]
	if q == nil {
		return 0, 0
	}
	for _, rd := range q.next {
		callers += rd.callers
	}
	return len(q.next), callers
}
