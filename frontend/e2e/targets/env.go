package main

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// env lets a program use internal/testservers, which is written for tests:
// it stands in for the testing.TB the starters take. Fatal turns into a
// panic that try recovers as an error, temporary directories live under
// one root, and close runs the cleanups (stopping the servers) last
// registered first, then removes the root.
//
// Only the methods testservers calls are implemented; the embedded nil
// testing.TB supplies the interface's unexported method and would panic
// on any other call, which a change in testservers would show at once.
type env struct {
	testing.TB

	root string

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	n        int
}

// fatal is the panic value of Fatal and Fatalf.
type fatal struct{ msg string }

func newEnv() (*env, error) {
	root, err := os.MkdirTemp("", "routedeck-e2e-targets-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	return &env{root: root}, nil
}

// try runs f and returns a Fatal inside it as an error.
func (e *env) try(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			ft, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", ft.msg)
		}
	}()
	f()
	return nil
}

func (e *env) close() {
	e.mu.Lock()
	cleanups := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	_ = os.RemoveAll(e.root)
}

func (e *env) Helper() {}

func (e *env) Cleanup(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, f)
}

func (e *env) Failed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failed
}

func (e *env) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "targets: "+format+"\n", args...)
}

func (e *env) Fatal(args ...any) { e.fail(fmt.Sprint(args...)) }

func (e *env) Fatalf(format string, args ...any) { e.fail(fmt.Sprintf(format, args...)) }

func (e *env) fail(msg string) {
	e.mu.Lock()
	e.failed = true
	e.mu.Unlock()
	panic(fatal{msg: msg})
}

func (e *env) TempDir() string {
	e.mu.Lock()
	e.n++
	n := e.n
	e.mu.Unlock()
	dir := fmt.Sprintf("%s/%03d", e.root, n)
	if err := os.Mkdir(dir, 0o700); err != nil {
		e.Fatalf("temporary directory: %v", err)
	}
	return dir
}
