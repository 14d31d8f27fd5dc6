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

func TestThrottleBoundsItsMemory(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	th := &Throttle{Free: 0, Base: time.Minute, MaxDelay: time.Minute, Forget: time.Hour, MaxKeys: 100, Now: c.now}
	for i := range 1000 {
		c.t = c.t.Add(time.Millisecond)
		th.Fail(fmt.Sprintf("addr-%d", i))
	}
	if n := len(th.keys); n != 100 {
		t.Fatalf("remembered %d keys, want the bound 100", n)
	}
	// The newest keys stay locked; the oldest were dropped.
	if th.Wait("addr-999") == 0 || th.Wait("addr-0") != 0 {
		t.Fatalf("eviction kept the wrong keys: newest wait %v, oldest wait %v", th.Wait("addr-999"), th.Wait("addr-0"))
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
