package hostile

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The bounds every case is held to (the acceptance criteria).
const (
	answerWithin = 5 * time.Second
	peakRSSLimit = 300 << 20
	// killRSS is where a runaway process is killed rather than watched:
	// a case the server fails can grow it by gigabytes, and the machine running
	// the suite is shared.
	killRSS = 1 << 30
)

// The accounts set up in every fresh data directory before the server
// starts: one token per role, and a user to sign in with.
const (
	signinUser     = "signin"
	signinPassword = "correct horse battery"
)

var roles = []string{"viewer", "editor", "admin"}

// serveArgs is the server's command line, written in this one place: when
// serve's defaults change (ADS over mTLS, a flag to keep it plaintext),
// this is what to adjust. Port 0 lets the kernel choose; the chosen
// address is read from the "serving" log line.
func serveArgs(dataDir string) []string {
	return []string{"serve",
		"--data-dir", dataDir,
		"--listen", "127.0.0.1:0",
		"--ads-listen", "127.0.0.1:0",
		"--no-demo",
		"--log-format", "json",
		// The memory a server has in a container (where --memory-limit
		// auto takes 90% of its limit). Without one, the runtime keeps
		// the pages freed after each large case resident (its heap goal
		// is twice the live heap), so the peak over a hundred cases in
		// one server measured that retention rather than any request:
		// it ended within 10 MiB of the bound either way.
		"--memory-limit", "200MiB",
	}
}

// buildBinary builds the routedeck command once per test run. The
// dashboard is embedded from frontend/dist whatever it holds.
func buildBinary(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build routedeck: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "routedeck")
	cmd := exec.Command(goCmd, "build", "-o", bin, "github.com/routedeck/routedeck")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build routedeck: %v\n%s", err, out)
	}
	return bin
}

// server is `routedeck serve` in a child process, with the tokens of a
// fresh data directory. restart replaces it with a new process on a new
// data directory, so a case that broke or polluted it cannot spoil the
// cases after it.
type server struct {
	bin  string
	root string // holds one data directory per start
	n    int    // starts so far

	dataDir string
	logPath string
	base    string            // http://127.0.0.1:PORT
	tokens  map[string]string // role -> bearer token
	proc    *child
	http    *http.Client
	last    snapshot // taken after the last clean case; nil when unknown
}

func startServer(t *testing.T, bin string) *server {
	t.Helper()
	s := &server{bin: bin, root: t.TempDir(), http: &http.Client{Timeout: answerWithin}}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() error {
	s.n++
	s.dataDir = filepath.Join(s.root, fmt.Sprintf("data-%d", s.n))
	s.logPath = filepath.Join(s.root, fmt.Sprintf("serve-%d.log", s.n))
	s.tokens = map[string]string{}
	s.last = nil
	if _, err := s.offline(signinPassword+"\n", "user", "add", "--name", signinUser, "--role", "viewer", "--password-stdin"); err != nil {
		return err
	}
	for _, role := range roles {
		out, err := s.offline("", "token", "create", "--name", "hostile-"+role, "--role", role)
		if err != nil {
			return err
		}
		s.tokens[role] = strings.TrimSpace(out)
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, serveArgs(s.dataDir)...)
	cmd.Env = cleanEnv()
	cmd.Stdout = logf
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return err
	}
	proc, err := startChild(cmd)
	if err != nil {
		logf.Close()
		return fmt.Errorf("start routedeck serve: %w", err)
	}
	s.proc = proc
	// The log is copied to a file for the failure report; the line that
	// says where the server listens is picked out on the way.
	url := make(chan string, 1)
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Bytes()
			logf.Write(append(line, '\n'))
			var rec struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" && rec.URL != "" {
				select {
				case url <- rec.URL:
				default:
				}
			}
		}
		io.Copy(logf, stderr)
	}()
	select {
	case s.base = <-url:
	case <-proc.done:
		return fmt.Errorf("routedeck serve exited before serving: %v\n%s", proc.err, s.logTail())
	case <-time.After(60 * time.Second):
		s.stop()
		return fmt.Errorf("routedeck serve did not report its address within 60 s\n%s", s.logTail())
	}
	if err := s.health(); err != nil {
		return fmt.Errorf("fresh server: %w\n%s", err, s.logTail())
	}
	// The cases refer to the objects of the fixture (gateway hx, upstreams
	// hx-a and hx-b, route hx-home); they go in through the CLI, which
	// proves the CLI's path to the server works before any case relies on
	// it.
	fixture, err := filepath.Abs(filepath.Join("testdata", "fixture.yaml"))
	if err != nil {
		return err
	}
	res := s.cli(context.Background(), cliRun{args: []string{"apply", "-f", fixture}, token: s.tokens["editor"]})
	if res.err != nil || res.exit != 0 {
		return fmt.Errorf("apply the fixture: exit %d %v\n%s", res.exit, res.err, res.stderr)
	}
	return nil
}

// offline runs a command of the binary against the data directory, for
// the set-up done before the server opens it.
func (s *server) offline(stdin string, args ...string) (string, error) {
	cmd := exec.Command(s.bin, append(args, "--data-dir", s.dataDir)...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("routedeck %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func (s *server) stop() {
	if s.proc != nil {
		s.proc.stop()
	}
}

// restart replaces the server by one on a fresh data directory.
func (s *server) restart() error {
	s.stop()
	return s.start()
}

// health asks the unauthenticated health endpoint, within answerWithin.
func (s *server) health() error {
	resp, err := s.http.Get(s.base + "/api/v1/health")
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: status %d", resp.StatusCode)
	}
	return nil
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// cleanEnv is the test's environment without routedeck's own variables,
// so a developer's ROUTEDECK_TOKEN or server never leaks into a case.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROUTEDECK_") {
			env = append(env, kv)
		}
	}
	return env
}

// child is a started process whose memory is watched: past killRSS it is
// killed at once, and killed says so.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been waited for
	err  error         // its exit, once done is closed

	mu     sync.Mutex
	killed string // why the watchdog killed it, if it did
}

func startChild(cmd *exec.Cmd) (*child, error) {
	// A process group of its own, killed with the test if the test dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	go c.watch()
	return c, nil
}

// watch polls the resident size often enough that a process growing by a
// gigabyte a second is stopped within a few tens of megabytes of killRSS.
func (c *child) watch() {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		rss, _, err := memory(c.cmd.Process.Pid)
		if err == nil && rss > killRSS {
			c.mu.Lock()
			c.killed = fmt.Sprintf("resident size passed %d MiB; killed", killRSS>>20)
			c.mu.Unlock()
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			return
		}
	}
}

func (c *child) killReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed
}

func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// stop ends the process: SIGTERM, then SIGKILL if it has not gone within
// a few seconds (a server busy with a runaway request may not).
func (c *child) stop() {
	if !c.alive() {
		return
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

// memory reads a process's current and peak resident size (VmRSS and
// VmHWM) in bytes.
func memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s of %d: %w", key, pid, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if peak == 0 {
		return 0, 0, errors.New("no VmHWM in /proc status")
	}
	return rss, peak, nil
}
