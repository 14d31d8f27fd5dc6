package auth

import (
	"sync"
	"time"
)

// Throttle slows down password guessing. Failures count per key (a user
// name, a client address); once a key has Free failures, each further
// failure locks it for a delay that doubles up to MaxDelay. A locked key is
// refused before its password is checked, right or wrong, so a guesser
// learns nothing and costs no hashing. A key forgets its failures after
// Forget without one.
//
// It is in memory on purpose: a restart forgets the counts, which costs an
// attacker a restart per few guesses, and no guess ever writes to the
// store.
type Throttle struct {
	Free     int           // failures allowed before the first lock
	Base     time.Duration // the first lock
	MaxDelay time.Duration // the longest lock
	Forget   time.Duration // quiet time after which failures are forgotten
	MaxKeys  int           // bound on remembered keys; the stalest go first
	Now      func() time.Time

	mu   sync.Mutex
	keys map[string]*attempts
}

type attempts struct {
	failures int
	last     time.Time // last failure
	until    time.Time // locked until
}

// NewThrottle returns a throttle with defaults that stop online guessing
// without bothering someone who mistypes a few times: 5 free failures,
// then 1 s doubling to 15 minutes, forgotten after an hour of quiet.
func NewThrottle() *Throttle {
	return &Throttle{Free: 5, Base: time.Second, MaxDelay: 15 * time.Minute, Forget: time.Hour, MaxKeys: 10_000}
}

func (t *Throttle) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Wait reports how long the caller must wait before another attempt with
// key is considered; 0 means go ahead.
func (t *Throttle) Wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if a := t.live(key, now); a != nil && a.until.After(now) {
		return a.until.Sub(now)
	}
	return 0
}

// Fail records a failed attempt with key.
func (t *Throttle) Fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	a := t.live(key, now)
	if a == nil {
		if t.keys == nil {
			t.keys = map[string]*attempts{}
		}
		t.evict()
		a = &attempts{}
		t.keys[key] = a
	}
	a.failures++
	a.last = now
	if over := a.failures - t.Free; over > 0 {
		a.until = now.Add(t.delay(over))
	}
}

// Succeed clears key's failures.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

// delay is the lock after the n-th failure past the free ones.
func (t *Throttle) delay(n int) time.Duration {
	d := t.Base
	for i := 1; i < n && d < t.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.MaxDelay)
}

// live returns k's record unless it has been quiet long enough to forget.
func (t *Throttle) live(k string, now time.Time) *attempts {
	a := t.keys[k]
	if a != nil && now.Sub(a.last) >= t.Forget && !a.until.After(now) {
		delete(t.keys, k)
		return nil
	}
	return a
}

// evict makes room for one more key, dropping the one whose last failure
// is oldest. Scanning is fine: it runs only when the table is full, which
// takes MaxKeys distinct failing names or addresses.
func (t *Throttle) evict() {
	if t.MaxKeys <= 0 || len(t.keys) < t.MaxKeys {
		return
	}
	var oldest string
	var at time.Time
	for k, a := range t.keys {
		if oldest == "" || a.last.Before(at) {
			oldest, at = k, a.last
		}
	}
	delete(t.keys, oldest)
}

// LoginGuard throttles logins by user name and by client address. The
// address gets more free failures than a name: several people behind one
// proxy share it, and they mistype too.
type LoginGuard struct {
	Users *Throttle
	Addrs *Throttle
}

// NewLoginGuard returns a guard with NewThrottle's delays, 5 free failures
// per user name and 30 per address.
func NewLoginGuard() *LoginGuard {
	addrs := NewThrottle()
	addrs.Free = 30
	return &LoginGuard{Users: NewThrottle(), Addrs: addrs}
}

// Wait is how long a login for user from addr must wait; 0 means go ahead.
func (g *LoginGuard) Wait(user, addr string) time.Duration {
	return max(g.Users.Wait(user), g.Addrs.Wait(addr))
}

// Fail records a wrong user name or password for user from addr.
func (g *LoginGuard) Fail(user, addr string) {
	g.Users.Fail(user)
	g.Addrs.Fail(addr)
}

// Succeed clears user's failures after a successful login; the address
// keeps its own, since one address may guess at many users and own one.
func (g *LoginGuard) Succeed(user string) { g.Users.Succeed(user) }

// SetClock makes both throttles read time from now (for tests).
func (g *LoginGuard) SetClock(now func() time.Time) {
	g.Users.Now, g.Addrs.Now = now, now
}
