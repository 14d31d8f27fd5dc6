package memlimit

import (
	"io/fs"
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Setting
		err  bool
	}{
		{in: "auto", want: Auto},
		{in: "AUTO", want: Auto},
		{in: "off", want: Off},
		{in: "256MiB", want: Bytes(256 << 20)},
		{in: " 1.5GiB ", want: Bytes(3 << 29)},
		{in: "200MB", want: Bytes(200e6)},
		{in: "16777216B", want: Bytes(16 << 20)},
		{in: "1GB", want: Bytes(1e9)},
		{in: "15MiB", err: true}, // below what the runtime itself holds
		{in: "256", err: true},   // a unit is required
		{in: "-1GiB", err: true},
		{in: "NaNMiB", err: true},
		{in: "InfGiB", err: true},
		{in: "lots", err: true},
		{in: "", err: true},
		{in: "99999999999GiB", err: true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestStringParsesBack(t *testing.T) {
	for _, s := range []Setting{Auto, Off, Bytes(256 << 20), Bytes(2 << 30), Bytes(200e6)} {
		got, err := Parse(s.String())
		if err != nil || got != s {
			t.Errorf("Parse(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
}

// files is a fake file system for the cgroup lookup.
func files(m map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if v, ok := m[name]; ok {
			return []byte(v), nil
		}
		return nil, fs.ErrNotExist
	}
}

func TestBase(t *testing.T) {
	none := func(string) string { return "" }
	for _, tc := range []struct {
		name     string
		setting  Setting
		getenv   func(string) string
		files    map[string]string
		want     int64
		wantFrom string
	}{
		{name: "fixed wins over everything", setting: Bytes(300 << 20),
			getenv: func(string) string { return "1GiB" }, want: 300 << 20, wantFrom: "--memory-limit"},
		{name: "off", setting: Off, getenv: none, want: 0, wantFrom: "off"},
		{name: "zero setting is off", setting: Setting{}, getenv: none, want: 0, wantFrom: "off"},
		{name: "auto leaves GOMEMLIMIT to the runtime", setting: Auto,
			getenv: func(k string) string {
				if k == "GOMEMLIMIT" {
					return "1GiB"
				}
				return ""
			}, want: 0, wantFrom: "GOMEMLIMIT"},
		{name: "auto in a cgroup v2 container", setting: Auto, getenv: none,
			files: map[string]string{"/proc/self/cgroup": "0::/kubepods/pod1\n", "/sys/fs/cgroup/kubepods/pod1/memory.max": "1073741824\n"},
			want:  1073741824 * 9 / 10, wantFrom: "container memory limit"},
		{name: "auto in a cgroup v2 group without limit", setting: Auto, getenv: none,
			files: map[string]string{"/proc/self/cgroup": "0::/user.slice\n", "/sys/fs/cgroup/user.slice/memory.max": "max\n"},
			want:  0, wantFrom: "no container memory limit"},
		{name: "auto in a cgroup v1 container", setting: Auto, getenv: none,
			files: map[string]string{"/proc/self/cgroup": "5:cpu:/\n4:memory:/docker/abc\n0::/\n",
				"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "536870912"},
			want: 536870912 * 9 / 10, wantFrom: "container memory limit"},
		{name: "auto in a cgroup v1 group without limit", setting: Auto, getenv: none,
			files: map[string]string{"/proc/self/cgroup": "4:memory:/\n",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"},
			want: 0, wantFrom: "no container memory limit"},
		{name: "auto without cgroups", setting: Auto, getenv: none, want: 0, wantFrom: "no container memory limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, from := tc.setting.Base(Env{Getenv: tc.getenv, ReadFile: files(tc.files)})
			if got != tc.want || from != tc.wantFrom {
				t.Errorf("Base = %d, %q; want %d, %q", got, from, tc.want, tc.wantFrom)
			}
		})
	}
}

func TestLimitFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		base int64
		st   state
		want int64
	}{
		{name: "small heap keeps the base", base: 128 * mib, st: state{live: 20 * mib, overhead: 30 * mib}, want: 128 * mib},
		{name: "exactly at the base", base: 128 * mib, st: state{live: 80 * mib, overhead: 28 * mib}, want: 128 * mib},
		{name: "large heap raises it by the headroom", base: 128 * mib, st: state{live: 400 * mib, overhead: 40 * mib}, want: 540 * mib},
		{name: "rounded up to whole MiB", base: 16 * mib, st: state{live: 100*mib + 1, overhead: 0}, want: 126 * mib},
	} {
		if got := limitFor(tc.base, tc.st); got != tc.want {
			t.Errorf("%s: limitFor = %d MiB, want %d MiB", tc.name, got/mib, tc.want/mib)
		}
	}
}

var keep [][]byte

// TestStartFollowsTheLiveHeap runs the guard on this process's runtime:
// a live heap beyond what the base leaves room for raises the limit after
// a collection, and once that heap is freed the limit comes back to the
// base; stop restores the limit found.
func TestStartFollowsTheLiveHeap(t *testing.T) {
	const base = 32 << 20
	before := debug.SetMemoryLimit(-1)
	sets := make(chan int64, 64)
	stop := start(Bytes(base), Env{}, slog.New(slog.DiscardHandler), func(l int64) {
		select {
		case sets <- l:
		default:
		}
	})
	t.Cleanup(stop)
	// Collections until the guard has seen one where cond holds: each
	// forced collection runs the guard once more. Then the runtime's
	// limit must hold it too (set again since by collections of the same
	// heap, it still does).
	await := func(what string, cond func(int64) bool) {
		t.Helper()
		for range 20 {
			runtime.GC()
			if l := <-sets; cond(l) {
				if got := debug.SetMemoryLimit(-1); !cond(got) {
					t.Fatalf("%s: guard set %d, but the runtime's limit is %d", what, l, got)
				}
				return
			}
		}
		t.Fatalf("%s: 20 collections and the limit never did", what)
	}
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	await("raise over a 64 MiB live heap", func(l int64) bool { return l >= int64(float64(64<<20)*(1+MinHeadroom)) })
	keep = nil
	await("back to the base", func(l int64) bool { return l == base })
	stop()
	for len(sets) > 0 {
		<-sets
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("after stop the limit is %d, want the %d found", got, before)
	}
	// Stopped: collections set nothing more.
	runtime.GC()
	runtime.GC()
	select {
	case l := <-sets:
		t.Fatalf("guard set %d after stop", l)
	default:
	}
}

func TestSecondStartReplacesTheFirst(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	log := slog.New(slog.DiscardHandler)
	stop1 := Start(Bytes(64<<20), Env{}, log)
	stop2 := Start(Bytes(96<<20), Env{}, log)
	t.Cleanup(stop2)
	if got := debug.SetMemoryLimit(-1); got < 96<<20 {
		t.Fatalf("limit %d after the second Start, want at least its base", got)
	}
	stop1() // no longer active: changes nothing
	if got := debug.SetMemoryLimit(-1); got < 96<<20 {
		t.Fatalf("limit %d after stopping the replaced guard", got)
	}
	stop2()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit %d after both stopped, want the %d found before either", got, before)
	}
}
