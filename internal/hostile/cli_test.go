package hostile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// cliRun is one run of the routedeck command line against the server.
type cliRun struct {
	args  []string
	token string
	stdin io.Reader // nil: empty
	dir   string    // working directory; "" inherits
}

type cliResult struct {
	exit           int
	stdout, stderr string
	elapsed        time.Duration
	peak           int64  // the process's peak resident size, bytes
	killed         string // why the memory watchdog killed it
	timedOut       bool
	err            error // the command could not be run at all
}

// cli runs the binary with the server's address and the given token,
// killing it if it has not exited within answerWithin.
func (s *server) cli(ctx context.Context, r cliRun) cliResult {
	cmd := exec.Command(s.bin, r.args...)
	cmd.Env = append(cleanEnv(), "ROUTEDECK_SERVER="+s.base, "ROUTEDECK_TOKEN="+r.token)
	cmd.Dir = r.dir
	stdout, stderr := &capped{max: 1 << 20}, &capped{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if r.stdin != nil {
		cmd.Stdin = r.stdin
	}
	start := time.Now()
	proc, err := startChild(cmd)
	if err != nil {
		return cliResult{err: err}
	}
	res := cliResult{}
	timer := time.NewTimer(answerWithin)
	defer timer.Stop()
	select {
	case <-proc.done:
	case <-timer.C:
		res.timedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-proc.done
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-proc.done
		return cliResult{err: ctx.Err()}
	}
	res.elapsed = time.Since(start)
	res.stdout, res.stderr = stdout.String(), stderr.String()
	res.killed = proc.killReason()
	res.exit = -1
	var exitErr *exec.ExitError
	if proc.err == nil || errors.As(proc.err, &exitErr) {
		res.exit = cmd.ProcessState.ExitCode()
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.peak = ru.Maxrss << 10 // kilobytes on Linux
	}
	return res
}

// capped keeps the first max bytes written to it and drops the rest, so a
// command that prints without end cannot fill the test's memory.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		if len(p) > room {
			c.buf.Write(p[:room])
		} else {
			c.buf.Write(p)
		}
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// endless is input that never ends: zero bytes for as long as they are
// read.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
