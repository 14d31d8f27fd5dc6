// Package memlimit gives a server process a soft memory limit: the Go
// runtime collects earlier and returns free pages to the system to stay
// under it. Without one, the heap may grow to twice what it holds live
// (GOGC=100) and pages freed after a burst (loading and translating a
// large gateway) stay resident until the heap goal falls below them,
// which with a steady live heap is never.
//
// A fixed limit alone is a trap: once the live heap legitimately grows
// near it, the collector runs back to back. So the limit is a floor, not a
// ceiling: after every collection it is raised, if need be, to leave the
// heap MinHeadroom above what it holds live, so the collector never runs
// more often than GOGC=25 would make it, whatever the limit says.
package memlimit

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
)

// CgroupShare is the part of a container's memory limit "auto" takes: the
// rest is for memory the runtime does not manage (the mapped executable,
// SQLite's page cache) and the limit's softness.
const CgroupShare = 0.9

// MinHeadroom is the least the heap may grow over its live size before a
// collection, as a fraction of the live heap.
const MinHeadroom = 0.25

// Setting is a --memory-limit value: Auto, Off or a size in bytes.
type Setting struct {
	mode  mode
	bytes int64
}

type mode int

const (
	unset mode = iota
	auto
	off
	fixed
)

// Auto is the default setting: a share of the container's limit when
// there is one, else none, so a server outside a container collects as
// any Go program does (a limit there trades CPU for resident memory, an
// operator's choice); GOMEMLIMIT, when set, wins.
var Auto = Setting{mode: auto}

// Off leaves the runtime's memory limit alone.
var Off = Setting{mode: off}

// Bytes is a fixed limit of n bytes.
func Bytes(n int64) Setting { return Setting{mode: fixed, bytes: n} }

// IsZero reports whether s is the zero Setting, which Start treats as Off.
func (s Setting) IsZero() bool { return s.mode == unset }

var units = []struct {
	suffix string
	mult   float64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

// Parse reads "auto", "off", or a size with a unit (B, KiB, MiB, GiB, KB,
// MB, GB; as GOMEMLIMIT writes them), at least 16 MiB.
func Parse(v string) (Setting, error) {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "auto":
		return Auto, nil
	case "off":
		return Off, nil
	}
	for _, u := range units {
		num, ok := strings.CutSuffix(v, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			break
		}
		n := f * u.mult
		if n < 16<<20 {
			return Setting{}, fmt.Errorf("memory limit %q: below 16MiB, the server could not hold its own runtime", v)
		}
		if n > math.MaxInt64/2 {
			return Setting{}, fmt.Errorf("memory limit %q: too large", v)
		}
		return Bytes(int64(n)), nil
	}
	return Setting{}, fmt.Errorf("memory limit %q: want auto, off or a size such as 256MiB or 2GiB", v)
}

// String is the setting as Parse reads it.
func (s Setting) String() string {
	switch s.mode {
	case auto:
		return "auto"
	case fixed:
		return formatBytes(s.bytes)
	}
	return "off"
}

func formatBytes(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// Set implements pflag.Value, so the setting is a flag.
func (s *Setting) Set(v string) error {
	p, err := Parse(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// Type implements pflag.Value.
func (*Setting) Type() string { return "size" }

// Env is what "auto" reads: GOMEMLIMIT and the cgroup files.
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
}

func (e Env) orDefault() Env {
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.ReadFile == nil {
		e.ReadFile = os.ReadFile
	}
	return e
}

// Base is the limit s asks for before the headroom rule, and where it
// comes from; 0 means none (Off, or GOMEMLIMIT left to the runtime).
func (s Setting) Base(env Env) (int64, string) {
	env = env.orDefault()
	switch s.mode {
	case fixed:
		return s.bytes, "--memory-limit"
	case auto:
		if env.Getenv("GOMEMLIMIT") != "" {
			return 0, "GOMEMLIMIT"
		}
		if n := cgroupLimit(env.ReadFile); n > 0 {
			return int64(float64(n) * CgroupShare), "container memory limit"
		}
		return 0, "no container memory limit"
	}
	return 0, "off"
}

// cgroupLimit is the memory limit of the process's cgroup (v2, else v1),
// 0 if none.
func cgroupLimit(read func(string) ([]byte, error)) int64 {
	b, err := read("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		// "0::/path" is the v2 hierarchy, "N:memory:/path" v1's memory
		// controller.
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			file = "/sys/fs/cgroup" + parts[2] + "/memory.max"
		case parts[1] == "memory":
			file = "/sys/fs/cgroup/memory" + parts[2] + "/memory.limit_in_bytes"
		default:
			continue
		}
		v, err := read(file)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		// "max", or v1's near-2^63 "no limit".
		if err == nil && n > 0 && n < 1<<60 {
			return n
		}
	}
	return 0
}

// limitFor is the limit to set given the base and the runtime's state
// after a collection: the base, or more when the live heap with its
// headroom and the memory the runtime holds besides the heap (stacks,
// metadata, span tails) would not fit under it.
func limitFor(base int64, st state) int64 {
	need := st.overhead + int64(float64(st.live)*(1+MinHeadroom))
	// Whole MiB: a limit that moves by bytes after every collection
	// would be set again each time for nothing.
	need = (need + 1<<20 - 1) &^ (1<<20 - 1)
	return max(base, need)
}

// state is what limitFor reads from the runtime.
type state struct {
	live     int64 // the live heap as of the last collection
	overhead int64 // runtime memory that is neither heap objects nor free pages
}

func readState() state {
	s := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	metrics.Read(s)
	u := func(i int) int64 { return int64(s[i].Value.Uint64()) }
	return state{live: u(0), overhead: max(u(1)-u(2)-u(3)-u(4), 0)}
}

// active is the running guard: the limit is the process's, so a second
// Start replaces the first rather than racing it.
var (
	activeMu sync.Mutex
	active   *guard
)

// Start applies s to the runtime until stop is called (which restores
// the limit found): it sets the base limit and, after every collection,
// raises it as far as the headroom rule asks (and lowers it back to the
// base). It logs where the base came from, and when the rule overrides
// it.
func Start(s Setting, env Env, log *slog.Logger) (stop func()) { return start(s, env, log, nil) }

func start(s Setting, env Env, log *slog.Logger, onSet func(int64)) (stop func()) {
	if log == nil {
		log = slog.Default()
	}
	base, from := s.Base(env)
	if base == 0 {
		if from == "GOMEMLIMIT" {
			log.Info("memory: soft limit from GOMEMLIMIT", "limit", formatBytes(debug.SetMemoryLimit(-1)))
		}
		return func() {}
	}
	activeMu.Lock()
	defer activeMu.Unlock()
	before := debug.SetMemoryLimit(-1)
	if active != nil {
		before = active.before
		active.stop()
	}
	g := &guard{base: base, log: log, before: before, onSet: onSet}
	g.limit = limitFor(base, readState())
	debug.SetMemoryLimit(g.limit)
	g.arm()
	active = g
	log.Info("memory: soft limit", "limit", formatBytes(base), "from", from, "minHeadroom", MinHeadroom)
	return func() {
		activeMu.Lock()
		defer activeMu.Unlock()
		if active == g {
			g.stop()
			debug.SetMemoryLimit(g.before)
			active = nil
		}
	}
}

// guard re-applies the headroom rule after each collection.
type guard struct {
	base   int64
	log    *slog.Logger
	before int64 // the limit to restore
	// onSet, for tests, sees the limit after every collection.
	onSet func(int64)

	mu      sync.Mutex
	stopped bool
	limit   int64
	raised  bool
}

func (g *guard) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}

// arm registers a cleanup on a fresh object, which runs once a collection
// has found it unreachable: the guard hears of every cycle without a
// timer, and stops hearing of them once stopped.
func (g *guard) arm() {
	// A pointer field keeps the object out of the tiny allocator, whose
	// blocks free (and run cleanups) only with all their neighbours.
	sentinel := &struct{ p *int }{}
	runtime.AddCleanup(sentinel, func(g *guard) { g.collected() }, g)
}

func (g *guard) collected() {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return
	}
	limit := limitFor(g.base, readState())
	if limit != g.limit {
		g.limit = limit
		debug.SetMemoryLimit(limit)
	}
	switch raised := limit > g.base; {
	case raised && !g.raised:
		g.log.Info("memory: live heap above the soft limit's room; limit raised to keep the collector's headroom",
			"limit", formatBytes(g.base), "raisedTo", formatBytes(limit))
	case !raised && g.raised:
		g.log.Info("memory: back under the soft limit", "limit", formatBytes(g.base))
	}
	g.raised = limit > g.base
	if g.onSet != nil {
		g.onSet(limit)
	}
	g.mu.Unlock()
	g.arm()
}
