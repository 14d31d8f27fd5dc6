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
//
// Memory is bounded by MaxKeys, and a flood of failures for other keys
// must not buy a guesser a fresh start on the key it is after. So when the
// table is full, room is made in this order, and never further:
//
//  1. a key quiet for Forget (it would be forgotten anyway);
//  2. a key that was never locked, the one with the fewest failures and,
//     among those, the stalest: a flood of one-off names evicts its own
//     kind before a name that has been guessed at several times;
//  3. a key whose lock has run out, the one that ran out first: it is
//     known to be a target, but losing its count costs the guesser a whole
//     table of keys locked at once to gain Free guesses.
//
// A key that is locked is never evicted. When every key in the table is
// locked, new keys are refused outright (Wait reports the time until the
// first lock ends, at most MaxDelay) rather than remembered at the cost of
// a lock: keys already known still count as usual. Filling the table that
// way takes MaxKeys keys each past its free failures, while the address
// throttle holds every address to its own few.
type Throttle struct {
	Free     int           // failures allowed before the first lock
	Base     time.Duration // the first lock
	MaxDelay time.Duration // the longest lock
	Forget   time.Duration // quiet time after which failures are forgotten
	MaxKeys  int           // bound on remembered keys; 0 means no bound
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
// then 1 s doubling to 15 minutes, forgotten after an hour of quiet, at
// most 10,000 keys (about a megabyte).
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
// key is considered; 0 means go ahead. A key the table has no room for
// waits until room can be made (see Throttle).
func (t *Throttle) Wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if a := t.live(key, now); a != nil {
		if a.until.After(now) {
			return a.until.Sub(now)
		}
		return 0
	}
	_, _, wait := t.room(now)
	return wait
}

// Fail records a failed attempt with key. A new key that finds the table
// full of locks is not recorded: Wait refuses it until there is room.
func (t *Throttle) Fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	a := t.live(key, now)
	if a == nil {
		if t.keys == nil {
			t.keys = map[string]*attempts{}
		}
		victim, ok, _ := t.room(now)
		if !ok {
			return
		}
		delete(t.keys, victim)
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

// Len is the number of keys remembered.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
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
	if a != nil && t.forgettable(a, now) {
		delete(t.keys, k)
		return nil
	}
	return a
}

func (t *Throttle) forgettable(a *attempts, now time.Time) bool {
	return now.Sub(a.last) >= t.Forget && !a.until.After(now)
}

// room finds room for one more key in a full table, by the order the
// Throttle comment gives: victim is the key to evict ("" when the table is
// not full). When every key is locked there is no room: ok is false and
// wait is the time until the first lock ends. Scanning is fine: it runs
// only for a new key while the table is full, and a sign-in costs more
// than a scan of MaxKeys records.
func (t *Throttle) room(now time.Time) (victim string, ok bool, wait time.Duration) {
	if t.MaxKeys <= 0 || len(t.keys) < t.MaxKeys {
		return "", true, 0
	}
	var (
		fresh, expired   string
		freshA, expiredA *attempts
		firstUnlock      time.Time
	)
	for k, a := range t.keys {
		switch {
		case t.forgettable(a, now):
			return k, true, 0
		case a.until.After(now):
			if firstUnlock.IsZero() || a.until.Before(firstUnlock) {
				firstUnlock = a.until
			}
		case a.until.IsZero():
			if freshA == nil || a.failures < freshA.failures ||
				a.failures == freshA.failures && a.last.Before(freshA.last) {
				fresh, freshA = k, a
			}
		default:
			if expiredA == nil || a.until.Before(expiredA.until) {
				expired, expiredA = k, a
			}
		}
	}
	switch {
	case freshA != nil:
		return fresh, true, 0
	case expiredA != nil:
		return expired, true, 0
	}
	return "", false, firstUnlock.Sub(now)
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
