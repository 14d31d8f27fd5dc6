package auth

import (
	"fmt"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestThrottle(t *testing.T) {
	type step struct {
		advance time.Duration
		fail    string // key that fails; "" for none
		succeed string
		wait    map[string]time.Duration // key -> expected wait after the step
	}
	tests := map[string][]step{
		"free failures do not lock": {
			{fail: "u"}, {fail: "u"},
			{fail: "u", wait: map[string]time.Duration{"u": 0}},
		},
		"the delay doubles past the free ones and is capped": {
			{fail: "u"}, {fail: "u"}, {fail: "u"},
			{fail: "u", wait: map[string]time.Duration{"u": time.Second}},
			{fail: "u", wait: map[string]time.Duration{"u": 2 * time.Second}},
			{fail: "u", wait: map[string]time.Duration{"u": 4 * time.Second}},
			{fail: "u", wait: map[string]time.Duration{"u": 8 * time.Second}},
			{fail: "u", wait: map[string]time.Duration{"u": 10 * time.Second}},
			{fail: "u", wait: map[string]time.Duration{"u": 10 * time.Second}},
		},
		"a lock runs out": {
			{fail: "u"}, {fail: "u"}, {fail: "u"},
			{fail: "u", wait: map[string]time.Duration{"u": time.Second}},
			{advance: 400 * time.Millisecond, wait: map[string]time.Duration{"u": 600 * time.Millisecond}},
			{advance: 600 * time.Millisecond, wait: map[string]time.Duration{"u": 0}},
			// Still counted: the next failure locks again, longer.
			{fail: "u", wait: map[string]time.Duration{"u": 2 * time.Second}},
		},
		"keys are independent": {
			{fail: "u"}, {fail: "u"}, {fail: "u"}, {fail: "u"},
			{wait: map[string]time.Duration{"u": time.Second, "v": 0}},
		},
		"success clears the key": {
			{fail: "u"}, {fail: "u"}, {fail: "u"}, {fail: "u"},
			{succeed: "u", wait: map[string]time.Duration{"u": 0}},
			{fail: "u", wait: map[string]time.Duration{"u": 0}},
		},
		"quiet time forgets failures": {
			{fail: "u"}, {fail: "u"}, {fail: "u"},
			{advance: time.Hour},
			{fail: "u", wait: map[string]time.Duration{"u": 0}},
		},
	}
	for name, steps := range tests {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			th := &Throttle{Free: 3, Base: time.Second, MaxDelay: 10 * time.Second, Forget: time.Hour, Now: c.now}
			for i, s := range steps {
				c.t = c.t.Add(s.advance)
				if s.fail != "" {
					th.Fail(s.fail)
				}
				if s.succeed != "" {
					th.Succeed(s.succeed)
				}
				for k, want := range s.wait {
					if got := th.Wait(k); got != want {
						t.Errorf("step %d: Wait(%q) = %v, want %v", i, k, got, want)
					}
				}
			}
		})
	}
}

func TestThrottleBoundsItsMemoryWithoutForgettingLocks(t *testing.T) {
	const bound = 100
	newThrottle := func(c *clock) *Throttle {
		return &Throttle{Free: 3, Base: time.Minute, MaxDelay: 10 * time.Minute, Forget: time.Hour, MaxKeys: bound, Now: c.now}
	}
	// flood fails n new keys once each, a millisecond apart.
	flood := func(c *clock, th *Throttle, prefix string, n int) {
		for i := range n {
			c.t = c.t.Add(time.Millisecond)
			th.Fail(fmt.Sprintf("%s-%d", prefix, i))
		}
	}
	failN := func(th *Throttle, key string, n int) {
		for range n {
			th.Fail(key)
		}
	}
	tests := map[string]func(t *testing.T, c *clock, th *Throttle){
		"a locked key outlives a flood of other keys": func(t *testing.T, c *clock, th *Throttle) {
			failN(th, "admin", 4)
			flood(c, th, "junk", 50*bound)
			if w := th.Wait("admin"); w == 0 {
				t.Fatal("the flood evicted the locked key")
			}
		},
		"a key guessed at several times outlives one-off keys": func(t *testing.T, c *clock, th *Throttle) {
			failN(th, "admin", 3) // free failures used up, not locked yet
			flood(c, th, "junk", 50*bound)
			th.Fail("admin")
			if w := th.Wait("admin"); w == 0 {
				t.Fatal("the flood reset the key's failures: its next failure did not lock it")
			}
		},
		"one-off keys evict the stalest of their kind": func(t *testing.T, c *clock, th *Throttle) {
			flood(c, th, "old", bound)
			flood(c, th, "new", bound/2)
			failN(th, "new-0", 3)
			failN(th, "old-99", 3)
			th.Fail("old-99") // the newest old key was kept
			if th.Wait("old-99") == 0 {
				t.Fatal("evicted a newer key before the stalest")
			}
		},
		"a table full of locks refuses new keys until the first lock ends": func(t *testing.T, c *clock, th *Throttle) {
			for i := range bound {
				c.t = c.t.Add(100 * time.Millisecond)
				failN(th, fmt.Sprintf("locked-%d", i), 4) // each locked for a minute
			}
			w := th.Wait("newcomer")
			if w <= 0 || w > time.Minute {
				t.Fatalf("Wait(newcomer) = %v, want the time until the first lock ends", w)
			}
			th.Fail("newcomer")
			if th.Len() != bound {
				t.Fatalf("remembered %d keys, want %d", th.Len(), bound)
			}
			for i := range bound {
				if th.Wait(fmt.Sprintf("locked-%d", i)) == 0 {
					t.Fatalf("locked-%d lost its lock to a newcomer", i)
				}
			}
			// The first lock ends: that key may now make room, and only it.
			c.t = c.t.Add(w)
			if w := th.Wait("newcomer"); w != 0 {
				t.Fatalf("after the first lock ended Wait(newcomer) = %v", w)
			}
			th.Fail("newcomer")
			if th.Wait("locked-0") != 0 || th.Wait("locked-1") == 0 {
				t.Fatal("the newcomer should have replaced the key whose lock ended, and only it")
			}
		},
		"a key quiet for Forget makes room first": func(t *testing.T, c *clock, th *Throttle) {
			failN(th, "stale", 4)
			c.t = c.t.Add(2 * time.Hour)
			for i := range bound - 1 {
				failN(th, fmt.Sprintf("locked-%d", i), 4)
			}
			th.Fail("newcomer")
			if th.Len() != bound {
				t.Fatalf("remembered %d keys, want %d", th.Len(), bound)
			}
			if th.Wait("locked-0") == 0 {
				t.Fatal("a locked key was evicted while a forgettable one was there")
			}
		},
		"memory stays bounded": func(t *testing.T, c *clock, th *Throttle) {
			flood(c, th, "junk", 50*bound)
			if th.Len() != bound {
				t.Fatalf("remembered %d keys, want the bound %d", th.Len(), bound)
			}
		},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			test(t, c, newThrottle(c))
		})
	}
}

func TestLoginGuardGivesAddressesMoreRoom(t *testing.T) {
	g := NewLoginGuard()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g.SetClock(c.now)
	// Six wrong passwords for six different users from one address: each
	// user is under its limit and so is the shared address.
	for i := range 6 {
		g.Fail(fmt.Sprintf("user-%d", i), "10.0.0.1")
	}
	if w := g.Wait("user-0", "10.0.0.1"); w != 0 {
		t.Fatalf("one address guessing at several users locked after 6 failures: %v", w)
	}
	for range 5 {
		g.Fail("user-0", "10.0.0.2")
	}
	if w := g.Wait("user-0", "10.0.0.9"); w == 0 {
		t.Fatal("a sixth failure for one user, from any address, should lock the user")
	}
	for i := range 30 {
		g.Fail(fmt.Sprintf("other-%d", i), "10.0.0.1")
	}
	if w := g.Wait("fresh-user", "10.0.0.1"); w == 0 {
		t.Fatal("36 failures from one address should lock the address")
	}
}
