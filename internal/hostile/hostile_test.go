package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestHostileInput runs the whole corpus against one server, case after
// case (one at a time, so a memory peak or a stored object belongs to the
// case that caused it). Each case is a subtest; they all run, and the
// failures are listed together at the end, by class.
func TestHostileInput(t *testing.T) {
	cases, err := loadCases()
	if err != nil {
		t.Fatal(err)
	}
	gen, err := generatedCases()
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, gen...)
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.id()] {
			t.Fatalf("two cases are called %s", c.id())
		}
		seen[c.id()] = true
	}

	srv := startServer(t, buildBinary(t))
	var failed []string
	for _, c := range cases {
		if !t.Run(c.id(), func(t *testing.T) { srv.run(t, c) }) {
			failed = append(failed, c.id())
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d hostile-input cases fail:\n%s", len(failed), byClass(failed))
	}
}

// byClass lists case names under their class, one class a line.
func byClass(ids []string) string {
	groups := map[string][]string{}
	for _, id := range ids {
		i := strings.LastIndex(id, "/")
		groups[id[:i]] = append(groups[id[:i]], id[i+1:])
	}
	classes := make([]string, 0, len(groups))
	for c := range groups {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	var b strings.Builder
	for _, c := range classes {
		fmt.Fprintf(&b, "  %s (%d): %s\n", c, len(groups[c]), strings.Join(groups[c], ", "))
	}
	return b.String()
}

// run runs one case and checks everything the issue asks of it. Whatever
// broke the server (no answer in time, memory past the bound, a change
// that cannot be undone by name) gets it replaced by a fresh one, so the
// next case is judged on its own.
func (s *server) run(t *testing.T, c tc) {
	var body []byte
	var err error
	if !c.isCLI() {
		if body, err = c.body(); err != nil {
			t.Fatalf("case data: %v", err)
		}
	}
	readBacks := c.readBacks(body)
	// The previous case's closing snapshot is this one's opening one,
	// unless something happened since.
	before := s.last
	s.last = nil
	if before == nil {
		if before, err = s.snapshot(); err != nil {
			t.Fatalf("server before the case: %v", err)
		}
	}
	was := s.readBack(readBacks)

	broken := false // the server must be replaced after this case
	accepted := false
	if c.isCLI() {
		broken = s.runCLI(t, c)
	} else {
		var status int
		status, broken = s.runAPI(t, c, body)
		accepted = status >= 200 && status < 300
	}

	// The server must still answer, within the bounds.
	if reason := s.proc.killReason(); reason != "" {
		t.Errorf("server: %s", reason)
		broken = true
	} else if !s.proc.alive() {
		t.Errorf("server exited: %v\n%s", s.proc.err, s.logTail())
		broken = true
	} else if err := s.health(); err != nil {
		t.Errorf("server does not answer after the case: %v", err)
		broken = true
	} else if _, peak, err := memory(s.proc.cmd.Process.Pid); err != nil {
		t.Errorf("server memory: %v", err)
	} else if peak >= peakRSSLimit {
		t.Errorf("server peak RSS %d MiB, bound %d MiB", peak>>20, peakRSSLimit>>20)
		broken = true // the peak only grows: later cases need a fresh one
	}

	switch {
	case broken:
	case c.Expect.MayStore && accepted:
		broken = s.cleanUp(t, c.Cleanup, true)
	case c.Expect.Stored && accepted:
		broken = s.cleanUp(t, c.Cleanup, false)
	default:
		broken = s.checkNothingStored(t, before, was, readBacks)
	}
	if t.Failed() && c.Why != "" {
		t.Logf("why this case: %s", c.Why)
	}
	if broken {
		if err := s.restart(); err != nil {
			t.Fatalf("restart the server: %v", err)
		}
	}
}

// checkNothingStored compares what the case could have written with what
// was there before, and undoes what it can by name. It reports whether the
// server must be replaced instead.
func (s *server) checkNothingStored(t *testing.T, before snapshot, was map[string]string, readBacks []string) bool {
	t.Helper()
	now := s.readBack(readBacks)
	undone := false
	for _, p := range readBacks {
		if was[p] == now[p] {
			continue
		}
		t.Errorf("stored: GET %s was %s, is %s", p, was[p], now[p])
		if !strings.HasPrefix(was[p], "404") || s.do("DELETE", p) != http.StatusNoContent {
			return true
		}
		undone = true
	}
	after, err := s.snapshot()
	if err != nil {
		t.Errorf("server after the case: %v", err)
		return true
	}
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if before[k] == after[k] {
			continue
		}
		// An object created and deleted again by name leaves two
		// revisions, already reported above.
		if k == "revisions" && undone {
			continue
		}
		t.Errorf("stored: %s was %s, is %s", k, before[k], after[k])
		return true
	}
	if !undone {
		s.last = after
	}
	return false
}

// cleanUp deletes what a case stored on purpose. With none named (an
// update of a fixture object) only a fresh server undoes it.
func (s *server) cleanUp(t *testing.T, paths []string, maybe bool) bool {
	t.Helper()
	if len(paths) == 0 {
		return true
	}
	for _, p := range paths {
		st := s.do("DELETE", p)
		if st == http.StatusNoContent || maybe && st == http.StatusNotFound {
			continue
		}
		t.Errorf("clean up %s: status %d", p, st)
		return true
	}
	return false
}

// runAPI sends the case's request and checks the answer.
func (s *server) runAPI(t *testing.T, c tc, body []byte) (status int, broken bool) {
	t.Helper()
	req, err := http.NewRequest(c.Method, s.base+c.Path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("case data: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.As != "none" {
		req.Header.Set("Authorization", "Bearer "+s.token(c.As))
	}
	for k, v := range c.Headers {
		req.Header.Set(k, strings.ReplaceAll(v, "{base}", s.base))
	}
	start := time.Now()
	resp, err := s.http.Do(req)
	if err != nil {
		t.Errorf("no answer within %s (%v)", answerWithin, err)
		return 0, true // it may still be working on it
	}
	defer resp.Body.Close()
	// A runaway answer is cut off here rather than held in the test.
	got, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	elapsed := time.Since(start)
	if err != nil {
		t.Errorf("read the answer: %v (after %s)", err, elapsed.Round(time.Millisecond))
		return resp.StatusCode, true
	}
	if elapsed > answerWithin {
		t.Errorf("answered after %s, bound %s", elapsed.Round(time.Millisecond), answerWithin)
	}
	short := got
	if len(short) > 600 {
		short = append(short[:600:600], "..."...)
	}
	if !slices.Contains(c.Expect.Status, resp.StatusCode) {
		t.Errorf("status %d, want %v: %s", resp.StatusCode, c.Expect.Status, short)
	}
	if resp.StatusCode >= 400 {
		var fields []string
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge {
			fields = c.Expect.Fields
		}
		checkProblem(t, resp, got, fields)
	}
	for _, want := range c.Expect.Body {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("answer lacks %q: %s", want, short)
		}
	}
	for _, h := range c.Expect.Headers {
		if resp.Header.Get(h) == "" {
			t.Errorf("answer has no %s header", h)
		}
	}
	if c.Expect.NoCookie && len(resp.Cookies()) > 0 {
		t.Errorf("answer sets a cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	return resp.StatusCode, false
}

// checkProblem checks an error answer: a problem document naming every
// expected field (or a field under it).
func checkProblem(t *testing.T, resp *http.Response, got []byte, fields []string) {
	t.Helper()
	// A request line or header block past the server's limit is refused by
	// the HTTP layer before any handler runs; its answer is Go's plain 431.
	if resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
		return
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/problem+json" {
		t.Errorf("error answer is %q, not application/problem+json", resp.Header.Get("Content-Type"))
		return
	}
	var p struct {
		Status int `json:"status"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(got, &p); err != nil {
		t.Errorf("problem document: %v", err)
		return
	}
	var named []string
	for _, e := range p.Errors {
		named = append(named, e.Field)
	}
	for _, f := range fields {
		if !slices.ContainsFunc(named, func(n string) bool { return names(n, f) }) {
			t.Errorf("error does not name %s (it names %q)", f, clip(named))
		}
	}
}

// names reports whether a reported field path is want or lies under it.
func names(got, want string) bool {
	if !strings.HasPrefix(got, want) {
		return false
	}
	rest := got[len(want):]
	return rest == "" || want == "" || rest[0] == '.' || rest[0] == '['
}

// clip shortens each reported field for a failure message (a chain of
// 10,000 "not"s would otherwise fill the screen).
func clip(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		if len(f) > 120 {
			f = f[:120] + "..."
		}
		out[i] = f
	}
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("and %d more", len(out)-10))
	}
	return out
}

// runCLI runs the case's command line and checks how it ended.
func (s *server) runCLI(t *testing.T, c tc) (broken bool) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range c.Files {
		b, err := expand([]byte(content))
		if err != nil {
			t.Fatalf("case data: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := make([]string, len(c.CLI))
	for i, a := range c.CLI {
		b, err := expand([]byte(strings.NewReplacer("{dir}", dir, "{data}", s.dataDir).Replace(a)))
		if err != nil {
			t.Fatalf("case data: %v", err)
		}
		args[i] = string(b)
	}
	run := cliRun{args: args, dir: dir}
	if c.As != "none" {
		run.token = s.token(c.As)
	}
	switch {
	case c.Endless:
		run.stdin = endless{}
	case c.Stdin != "":
		b, err := expand([]byte(c.Stdin))
		if err != nil {
			t.Fatalf("case data: %v", err)
		}
		run.stdin = bytes.NewReader(b)
	}
	res := s.cli(context.Background(), run)
	if res.err != nil {
		t.Fatalf("run routedeck: %v", res.err)
	}
	stderr := res.stderr
	if len(stderr) > 2000 {
		stderr = stderr[:2000] + "..."
	}
	switch {
	case res.killed != "":
		t.Errorf("routedeck %s: %s", c.CLI[0], res.killed)
	case res.timedOut:
		t.Errorf("routedeck %s did not exit within %s", c.CLI[0], answerWithin)
	case c.Expect.Exit != nil && res.exit != *c.Expect.Exit:
		t.Errorf("exit %d, want %d; stderr: %s", res.exit, *c.Expect.Exit, stderr)
	case c.Expect.Exit == nil && res.exit <= 0:
		t.Errorf("exit %d, want a failure; stdout: %.300s stderr: %s", res.exit, res.stdout, stderr)
	}
	if res.peak >= peakRSSLimit {
		t.Errorf("routedeck %s peak RSS %d MiB, bound %d MiB", c.CLI[0], res.peak>>20, peakRSSLimit>>20)
	}
	for _, crash := range []string{"panic:", "fatal error:", "goroutine "} {
		if strings.Contains(res.stderr, crash) {
			t.Errorf("routedeck %s crashed: %s", c.CLI[0], stderr)
			break
		}
	}
	for _, f := range c.Expect.Fields {
		if !strings.Contains(res.stderr, f) {
			t.Errorf("stderr does not name %s: %s", f, stderr)
		}
	}
	for _, want := range c.Expect.Stderr {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, stderr)
		}
	}
	// The server may still be chewing on what a killed CLI sent it.
	return res.timedOut || res.killed != ""
}

func (s *server) token(role string) string {
	if role == "" {
		role = "editor"
	}
	return s.tokens[role]
}

// snapshot is what any write would change: the revision count (every
// object write records one), and the users, tokens and saved tests.
type snapshot map[string]string

func (s *server) snapshot() (snapshot, error) {
	out := snapshot{}
	for key, path := range map[string]string{
		"revisions": "/api/v1/revisions?limit=1",
		"users":     "/api/v1/users",
		"tokens":    "/api/v1/tokens",
		"tests":     "/api/v1/tests",
	} {
		resp, err := s.get(path)
		if err != nil {
			return nil, err
		}
		var list struct {
			Items []json.RawMessage `json:"items"`
			Total *int              `json:"total"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&list)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: status %d %v", path, resp.StatusCode, err)
		}
		n := len(list.Items)
		if list.Total != nil {
			n = *list.Total
		}
		out[key] = fmt.Sprint(n)
	}
	return out, nil
}

// readBack reads each path as "STATUS ETAG".
func (s *server) readBack(paths []string) map[string]string {
	out := map[string]string{}
	for _, p := range paths {
		resp, err := s.get(p)
		if err != nil {
			out[p] = "error " + err.Error()
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		out[p] = fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("ETag"))
	}
	return out
}

func (s *server) get(path string) (*http.Response, error) {
	req, err := http.NewRequest("GET", s.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.tokens["admin"])
	return s.http.Do(req)
}

// do sends a bodiless admin request and returns its status (0 on error).
func (s *server) do(method, path string) int {
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+s.tokens["admin"])
	resp, err := s.http.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
