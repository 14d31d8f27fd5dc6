// Package testservers starts real Consul agents, etcd and kube-apiservers
// on loopback ports for integration tests, and stops them when the test
// ends. The binaries come from `make tools` (hack/tools.sh); a missing
// binary fails the test with instructions instead of skipping it, so a
// green run always means the integration was exercised.
package testservers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Versions of the servers hack/tools.sh builds. They name the cache
// directories, so they must match the script (TestToolVersionsMatchScript).
const (
	ConsulVersion = "v1.20.6"
	KubeVersion   = "v1.35.4"
)

// ToolsDir is where hack/tools.sh puts its builds:
// $ROUTEDECK_TOOLS_DIR, or ~/.cache/routedeck/tools.
func ToolsDir() string {
	if d := os.Getenv("ROUTEDECK_TOOLS_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "routedeck-tools")
	}
	return filepath.Join(home, ".cache", "routedeck", "tools")
}

// binary finds a server binary: the env override if set, else the tools
// cache. It fails the test when the file is not there.
func binary(t testing.TB, envVar, defaultPath string) string {
	t.Helper()
	p := os.Getenv(envVar)
	if p == "" {
		p = defaultPath
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("integration test needs %s but it is not installed (looked for %s; set %s to override): run `make tools` (hack/tools.sh) first",
			filepath.Base(defaultPath), p, envVar)
	}
	return p
}

// ConsulBinary is the consul binary: $ROUTEDECK_CONSUL or the tools cache.
func ConsulBinary(t testing.TB) string {
	return binary(t, "ROUTEDECK_CONSUL", filepath.Join(ToolsDir(), "consul-"+ConsulVersion, "consul"))
}

// KubeAPIServerBinary is the kube-apiserver binary:
// $ROUTEDECK_KUBE_APISERVER or the tools cache.
func KubeAPIServerBinary(t testing.TB) string {
	return binary(t, "ROUTEDECK_KUBE_APISERVER",
		filepath.Join(ToolsDir(), "kube-apiserver-"+KubeVersion, "kube-apiserver"))
}

// EtcdBinary is the etcd binary: $ROUTEDECK_ETCD or the Debian package's.
func EtcdBinary(t testing.TB) string {
	return binary(t, "ROUTEDECK_ETCD", "/usr/bin/etcd")
}

// handedOut is every port freePorts has returned in this process, with
// the lock file that keeps other test processes off it.
var handedOut = struct {
	sync.Mutex
	ports map[int]*os.File
}{ports: map[int]*os.File{}}

// freePorts reserves n distinct loopback TCP ports for servers this
// process starts. A port found by listening on port 0 is released before
// the server binds it, and in between any socket of any process on the
// machine (a listener on port 0, an outgoing connection) may be given it.
// So ports come from below the kernel's ephemeral range, where the kernel
// hands out nothing on its own, and each is claimed with a lock file that
// every test process honours, held until this process ends. The shell
// scripts that pick ports use another part of that range.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	lo, hi := portRange()
	lockDir := filepath.Join(os.TempDir(), "routedeck-test-ports")
	if err := os.MkdirAll(lockDir, 0o777); err != nil {
		t.Fatalf("reserve loopback ports: %v", err)
	}
	ports := make([]int, 0, n)
	span := hi - lo
	start := rand.IntN(span)
	for i := 0; i < span && len(ports) < n; i++ {
		p := lo + (start+i)%span
		if handedOut.ports[p] != nil {
			continue
		}
		f, ok := claimPort(lockDir, p)
		if !ok {
			continue
		}
		handedOut.ports[p] = f // never closed: the claim lasts as long as the process
		ports = append(ports, p)
	}
	if len(ports) < n {
		t.Fatalf("reserve %d loopback ports in %d-%d: only %d free", n, lo, hi-1, len(ports))
	}
	return ports
}

// portRange is the part of the ports below the kernel's ephemeral range
// that test servers are given.
func portRange() (lo, hi int) {
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var first int
		if _, err := fmt.Sscan(string(b), &first); err == nil && first > 21000 {
			hi = first
		}
	}
	return 20000, hi
}

// claimPort takes port p for this process if no other test process holds
// its lock and nothing listens on it.
func claimPort(lockDir string, p int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(lockDir, fmt.Sprintf("%d.lock", p)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		f.Close() // closing drops the lock
		return nil, false
	}
	l.Close()
	return f, true
}

// process is one server child process that can be stopped and started
// again with the same arguments, ports and data directory.
type process struct {
	name    string
	path    string
	args    []string
	logPath string
	// env, when set, is the environment of the process (else this one's).
	env []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status once done is closed
}

func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running", p.name)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s log: %w", p.name, err)
	}
	fmt.Fprintf(logf, "\n=== %s start %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(p.args, " "))
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout = logf
	cmd.Stderr = logf
	// A process group of its own, so a Ctrl-C on `go test` does not reach
	// the server before the cleanup does, and so no grandchild survives.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// exited reports whether the process has died on its own, with its status.
func (p *process) exited() (bool, error) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return true, errors.New("not started")
	}
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.err
	default:
		return false, nil
	}
}

// stop ends the process: SIGTERM, then SIGKILL after the grace period. A
// zero grace kills at once, which is what an outage test wants.
func (p *process) stop(grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	pgid := -cmd.Process.Pid
	if grace > 0 {
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-done:
			return
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	<-done
}

// logTail is the end of the process log, for failure messages.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const max = 6000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// dumpLogOnFailure registers a cleanup that prints the log if the test failed.
func (p *process) dumpLogOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log (%s), last part:\n%s", p.name, p.logPath, p.logTail())
		}
	})
}

// waitFor polls ready until it returns nil, the process exits, or the
// timeout passes.
func waitFor(p *process, timeout time.Duration, ready func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		if dead, err := p.exited(); dead {
			return fmt.Errorf("%s exited during start-up (%v); log:\n%s", p.name, err, p.logTail())
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		last = ready(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v; log:\n%s", p.name, timeout, last, p.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// httpGet fetches url with client and returns the body of a 200 answer.
func httpGet(ctx context.Context, client *http.Client, url string, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(buf.String()))
	}
	return buf.Bytes(), nil
}
