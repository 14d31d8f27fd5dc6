// Package envoy runs a real Envoy as the sandbox's data plane, when one is
// installed: it writes a bootstrap that points the proxy at routedeck's ADS
// server as the sandbox node of a gateway, starts the binary, waits until
// the admin interface reports ready, reads the configuration back from
// /config_dump, and stops the process cleanly.
//
// The simulated Envoy (sandbox/sim) needs none of this and is what CI
// exercises; this package is what a user with Envoy installed gets on top.
package envoy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/xds"
)

// EnvBinary names the environment variable with the path of the Envoy
// binary, for when it is not on PATH as "envoy".
const EnvBinary = "ROUTEDECK_ENVOY"

// Find returns the Envoy binary to run: configured (the sandbox setting)
// when set, else $ROUTEDECK_ENVOY, else "envoy" on PATH. ENOTFOUND when
// there is none, so callers fall back to the simulated Envoy.
func Find(configured string) (string, error) {
	for _, candidate := range []string{configured, os.Getenv(EnvBinary)} {
		if candidate == "" {
			continue
		}
		path, err := exec.LookPath(candidate)
		if err != nil {
			return "", model.Errorf(model.ENOTFOUND, "envoy binary %q: %v", candidate, err)
		}
		return path, nil
	}
	path, err := exec.LookPath("envoy")
	if err != nil {
		return "", model.Errorf(model.ENOTFOUND, "no envoy binary: not on PATH and %s is not set", EnvBinary)
	}
	return path, nil
}

// NodeCluster is the node.cluster a sandbox Envoy of gateway announces, the
// key of the gateway's sandbox snapshot on the ADS server.
func NodeCluster(gateway string) string { return "sandbox/" + gateway }

// Config says what to run.
type Config struct {
	// Binary is the Envoy executable (see Find).
	Binary  string
	Gateway string
	// ADSAddr is routedeck's ADS server, host:port.
	ADSAddr string
	// Credentials are the sandbox's ADS client certificate, key and the
	// server's trust bundle, written into Dir for the bootstrap's SDS
	// files; nil connects in plaintext.
	Credentials *xds.Credentials
	// Dir holds the bootstrap, the admin address file and nothing else;
	// it must exist. Each running Envoy needs its own.
	Dir string
	// BaseID separates this Envoy's shared memory from other Envoys on the
	// machine (--base-id); 0 picks one unique within this process.
	BaseID int
	// LogLevel is Envoy's --log-level; default warn.
	LogLevel string
	// ReadyTimeout bounds the wait for /ready; default 30s.
	ReadyTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL;
	// default 5s.
	StopGrace time.Duration
	// Env is added to the process environment.
	Env    []string
	Logger *slog.Logger
}

// Files in Config.Dir.
const (
	BootstrapFile   = "bootstrap.yaml"
	AdminAddrFile   = "admin-address.txt"
	maxCapturedLogs = 256 << 10
)

var nextBaseID atomic.Int64

func init() {
	// Start away from 0 (Envoy's default) and from other routedeck
	// processes on the machine.
	nextBaseID.Store(int64(os.Getpid()%10_000) * 8)
}

func (c *Config) defaults() {
	if c.LogLevel == "" {
		c.LogLevel = "warn"
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 30 * time.Second
	}
	if c.StopGrace == 0 {
		c.StopGrace = 5 * time.Second
	}
	if c.BaseID == 0 {
		c.BaseID = int(nextBaseID.Add(1))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// NodeID is the node id of a sandbox Envoy: the gateway, this machine and
// process, and the Envoy's base id, so every Envoy routedeck starts has its
// own and the ADS server's account of one is never mistaken for another's
// (a replaced Envoy's last ACKs linger until its stream closes).
func NodeID(gateway string, baseID int) string {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return "sandbox-" + gateway + "-" + host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(baseID)
}

// BootstrapYAML is the bootstrap a sandbox Envoy of the gateway runs with:
// node cluster sandbox/<gateway> and id nodeID, ADS at adsAddr (over mutual
// TLS with tls's files when it is set), the admin interface on a loopback
// port Envoy picks (it writes the address to AdminAddrFile).
func BootstrapYAML(gateway, nodeID, adsAddr string, tls *xds.ADSTLS) ([]byte, error) {
	b, err := xds.Bootstrap(NodeCluster(gateway), nodeID, adsAddr, 0, tls)
	if err != nil {
		return nil, err
	}
	return xds.BootstrapYAML(b)
}

// Args is Envoy's command line for the files in dir.
func (c Config) Args() []string {
	c.defaults()
	return []string{
		"-c", filepath.Join(c.Dir, BootstrapFile),
		"--base-id", strconv.Itoa(c.BaseID),
		"--log-level", c.LogLevel,
		"--admin-address-path", filepath.Join(c.Dir, AdminAddrFile),
		// The sandbox restarts Envoys, it never hot-restarts them; a short
		// drain keeps Stop quick.
		"--drain-time-s", "1",
	}
}

// Envoy is a running Envoy process.
type Envoy struct {
	cfg   Config
	cmd   *exec.Cmd
	admin string // host:port
	logs  *ringBuffer
	done  chan struct{}
	err   error // the exit, valid once done is closed

	stopOnce sync.Once
	stopErr  error
}

// NodeID is the node id this Envoy announces to the ADS server.
func (e *Envoy) NodeID() string { return NodeID(e.cfg.Gateway, e.cfg.BaseID) }

// Start writes the bootstrap, starts Envoy and waits until its admin
// interface answers /ready with 200. On failure the process is stopped and
// the error carries the tail of its log.
func Start(ctx context.Context, cfg Config) (*Envoy, error) {
	cfg.defaults()
	var p model.Problems
	if cfg.Binary == "" {
		p.Add("binary", "required")
	}
	if cfg.Gateway == "" {
		p.Add("gateway", "required")
	}
	if cfg.Dir == "" {
		p.Add("dir", "required")
	}
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("start envoy: %w", err)
	}
	var adsTLS *xds.ADSTLS
	if cfg.Credentials != nil {
		// The same files and SDS indirection as a production proxy, all
		// in the Envoy's own directory.
		adsTLS = &xds.ADSTLS{CertDir: cfg.Dir, ConfigDir: cfg.Dir}
		if err := xds.WriteCredentials(cfg.Dir, cfg.Credentials); err != nil {
			return nil, fmt.Errorf("start envoy for %q: %w", cfg.Gateway, err)
		}
		if err := xds.WriteSDSFiles(*adsTLS); err != nil {
			return nil, fmt.Errorf("start envoy for %q: %w", cfg.Gateway, err)
		}
	}
	boot, err := BootstrapYAML(cfg.Gateway, NodeID(cfg.Gateway, cfg.BaseID), cfg.ADSAddr, adsTLS)
	if err != nil {
		return nil, fmt.Errorf("start envoy for %q: %w", cfg.Gateway, err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, BootstrapFile), boot, 0o600); err != nil {
		return nil, fmt.Errorf("start envoy: write bootstrap: %w", err)
	}
	addrFile := filepath.Join(cfg.Dir, AdminAddrFile)
	if err := os.Remove(addrFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("start envoy: %w", err)
	}

	e := &Envoy{cfg: cfg, logs: &ringBuffer{max: maxCapturedLogs}, done: make(chan struct{})}
	// Not CommandContext: the process must outlive Start's context and end
	// only through Stop, with its grace period.
	e.cmd = exec.Command(cfg.Binary, cfg.Args()...)
	e.cmd.Dir = cfg.Dir
	e.cmd.Env = append(os.Environ(), cfg.Env...)
	e.cmd.Stdout, e.cmd.Stderr = e.logs, e.logs
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start envoy %s: %w", cfg.Binary, err)
	}
	cfg.Logger.Info("envoy started", "gateway", cfg.Gateway, "pid", e.cmd.Process.Pid, "base_id", cfg.BaseID)
	go func() {
		e.err = e.cmd.Wait()
		close(e.done)
	}()

	ctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if err := e.waitReady(ctx, addrFile); err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("envoy for %q did not become ready: %w\n%s", cfg.Gateway, err, e.logs.tail(20))
	}
	return e, nil
}

// waitReady waits for the admin address file, then for /ready to answer 200.
func (e *Envoy) waitReady(ctx context.Context, addrFile string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		if e.admin == "" {
			if b, err := os.ReadFile(addrFile); err == nil {
				if addr := strings.TrimSpace(string(b)); addr != "" {
					e.admin = addr
				}
			}
		}
		if e.admin != "" {
			if resp, err := client.Get("http://" + e.admin + "/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-e.done:
			return fmt.Errorf("exited: %v", e.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// AdminAddr is the admin interface's host:port.
func (e *Envoy) AdminAddr() string { return e.admin }

// Pid is the process id.
func (e *Envoy) Pid() int { return e.cmd.Process.Pid }

// Done is closed when the process has exited.
func (e *Envoy) Done() <-chan struct{} { return e.done }

// Logs returns what the process wrote (the last 256 KiB).
func (e *Envoy) Logs() string { return e.logs.String() }

// ConfigDump returns the admin interface's /config_dump: the configuration
// Envoy actually runs, as JSON.
func (e *Envoy) ConfigDump(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.admin+"/config_dump", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("envoy config_dump: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("envoy config_dump: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("envoy config_dump: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// Stats reads the admin interface's /stats: every counter and gauge by
// name (histograms, which are not single numbers, are left out).
func (e *Envoy) Stats(ctx context.Context) (map[string]uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.admin+"/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("envoy stats: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("envoy stats: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("envoy stats: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return ParseStats(body), nil
}

// ParseStats reads Envoy's plain-text stats ("name: value" lines); lines
// whose value is not a whole number (histograms) are skipped.
func ParseStats(text []byte) map[string]uint64 {
	out := map[string]uint64{}
	for line := range strings.SplitSeq(string(text), "\n") {
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64); err == nil {
			out[strings.TrimSpace(name)] = n
		}
	}
	return out
}

// Stop sends SIGTERM and waits up to the grace period for Envoy to exit,
// then kills it. Stopping twice is harmless. An exit caused by the signal
// is not an error.
func (e *Envoy) Stop() error {
	e.stopOnce.Do(func() {
		select {
		case <-e.done:
			return
		default:
		}
		if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			e.stopErr = fmt.Errorf("stop envoy: %w", err)
		}
		select {
		case <-e.done:
			return
		case <-time.After(e.cfg.StopGrace):
		}
		e.cfg.Logger.Warn("envoy ignored SIGTERM; killing it", "gateway", e.cfg.Gateway, "pid", e.cmd.Process.Pid, "grace", e.cfg.StopGrace)
		if err := e.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			e.stopErr = fmt.Errorf("kill envoy: %w", err)
		}
		<-e.done
	})
	return e.stopErr
}

// ringBuffer keeps the last max bytes written to it.
type ringBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (r *ringBuffer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if over := len(r.buf) - r.max; over > 0 {
		r.buf = append(r.buf[:0], r.buf[over:]...)
	}
	return len(p), nil
}

func (r *ringBuffer) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.buf)
}

// tail returns the last n lines.
func (r *ringBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(r.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var _ io.Writer = (*ringBuffer)(nil)
