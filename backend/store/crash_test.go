package store_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

// The crash test runs a writer in a child process (this test binary again,
// selecting TestCrashChild), kills it with SIGKILL at random moments and
// checks that every write the child reported as committed survived.
const (
	crashDBEnv  = "ROUTEDECK_STORE_CRASH_DB"
	crashRunEnv = "ROUTEDECK_STORE_CRASH_RUN"
)

// TestCrashChild is the writer half of TestCrashDurability; run on its own
// it does nothing. After each write returns it prints one line, "ack KIND
// NAME VERSION" for an object that must exist with at least that version,
// "gone KIND NAME" for one that must not exist, or "pub VERSION ROUTES"
// for a published version of gateway gw that must read back whole with
// that many routes.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		return
	}
	run := os.Getenv(crashRunEnv)
	ctx := context.Background()
	s, err := store.Open(ctx, path, storetest.Keys(t, filepath.Dir(path)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(2)
	}
	ack := func(obj model.Object) {
		fmt.Printf("ack %s %s %d\n", obj.Kind(), obj.ObjectMeta().Name, obj.ObjectMeta().Version)
	}
	if _, err := s.Apply(ctx, "child", model.Workspace{
		Gateways:  []model.Gateway{*gateway("gw")},
		Upstreams: []model.Upstream{*upstream("u0")},
	}); err != nil {
		fail("seed", err)
	}
	hot, err := s.Get(ctx, model.KindRoute, "hot")
	if model.ErrorCode(err) == model.ENOTFOUND {
		hot = route("hot", "gw", "u0", 0)
		if err := s.Create(ctx, "child", hot); err != nil {
			fail("create hot", err)
		}
	} else if err != nil {
		fail("get hot", err)
	}
	ack(hot)
	for i := 0; ; i++ {
		up := upstream(fmt.Sprintf("u-%s-%d", run, i))
		if err := s.Create(ctx, "child", up); err != nil {
			fail("create upstream", err)
		}
		ack(up)
		r := route(fmt.Sprintf("r-%s-%d", run, i), "gw", up.Name, i%7)
		if err := s.Create(ctx, "child", r); err != nil {
			fail("create route", err)
		}
		ack(r)
		r.Priority++
		if err := s.Update(ctx, "child", r); err != nil {
			fail("update route", err)
		}
		ack(r)
		hot.(*model.Route).Priority = i
		if err := s.Update(ctx, "child", hot); err != nil {
			fail("update hot", err)
		}
		ack(hot)
		if i%4 == 0 {
			tmp := route(fmt.Sprintf("tmp-%s-%d", run, i), "gw", "u0", 0)
			if err := s.Create(ctx, "child", tmp); err != nil {
				fail("create tmp", err)
			}
			if err := s.Delete(ctx, "child", model.KindRoute, tmp.Name, tmp.Version); err != nil {
				fail("delete tmp", err)
			}
			fmt.Printf("gone %s %s\n", model.KindRoute, tmp.Name)
		}
		p, err := s.Publish(ctx, "child", "gw", "")
		if err != nil {
			fail("publish", err)
		}
		fmt.Printf("pub %d %d\n", p.Version, len(p.Workspace.Routes))
	}
}

func TestCrashDurability(t *testing.T) {
	if os.Getenv(crashDBEnv) != "" {
		return // we are the child of another run
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	type key struct{ kind, name string }
	acked := map[key]int64{}
	gone := map[key]bool{}
	published := map[int64]int{} // routes by version
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	// Up to 20 kills within about 20 seconds; on a loaded machine fewer
	// fit, but never fewer than 5.
	const kills, minKills = 20, 5
	budget := time.Now().Add(20 * time.Second)
	total, runs := 0, 0
	for run := 0; run < kills && (run < minKills || time.Now().Before(budget)); run++ {
		runs++
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDBEnv+"="+path, crashRunEnv+"="+strconv.Itoa(run))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Let the child get going, then kill it after a random share of
		// up to 150ms, so kills land anywhere in its write cycle.
		var got []string
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("run %d: child exited before writing: %s", run, stderr.String())
			}
			got = append(got, l)
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run %d: child wrote nothing in 15s: %s", run, stderr.String())
		}
		killAt := time.After(time.Duration(rng.Intn(150)) * time.Millisecond)
	collect:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break collect
				}
				got = append(got, l)
			case <-killAt:
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killAt = nil
			}
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("run %d: child ended by itself (%v): %s", run, err, stderr.String())
		}
		for _, l := range got {
			f := strings.Fields(l)
			switch {
			case len(f) == 4 && f[0] == "ack":
				v, err := strconv.ParseInt(f[3], 10, 64)
				if err != nil {
					t.Fatalf("bad line %q", l)
				}
				k := key{f[1], f[2]}
				acked[k] = max(acked[k], v)
				total++
			case len(f) == 3 && f[0] == "pub":
				v, err1 := strconv.ParseInt(f[1], 10, 64)
				n, err2 := strconv.Atoi(f[2])
				if err1 != nil || err2 != nil {
					t.Fatalf("bad line %q", l)
				}
				published[v] = n
				total++
			case len(f) == 3 && f[0] == "gone":
				gone[key{f[1], f[2]}] = true
				total++
			}
		}
		// Every acknowledged write must have survived this kill.
		s, err := store.Open(context.Background(), path, storetest.Keys(t, filepath.Dir(path)))
		if err != nil {
			t.Fatalf("run %d: reopen after kill: %v", run, err)
		}
		ws, err := s.Workspace(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		have := map[key]int64{}
		for _, obj := range ws.Objects() {
			have[key{obj.Kind(), obj.ObjectMeta().Name}] = obj.ObjectMeta().Version
		}
		for k, v := range acked {
			if have[k] < v {
				t.Errorf("run %d: %s %s acknowledged at version %d, found %d", run, k.kind, k.name, v, have[k])
			}
		}
		for k := range gone {
			if _, ok := have[k]; ok {
				t.Errorf("run %d: %s %s acknowledged as deleted, still there", run, k.kind, k.name)
			}
		}
		for v, n := range published {
			p, err := s.GetPublished(context.Background(), "gw", v)
			if err != nil || len(p.Workspace.Routes) != n {
				t.Errorf("run %d: version %d acknowledged with %d routes, read back %d: %v", run, v, n, len(p.Workspace.Routes), err)
			}
		}
		var check string
		if err := s.DB().QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("run %d: integrity_check: %q %v", run, check, err)
		}
		s.Close()
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d acknowledged writes survived %d kills", total, runs)
}
