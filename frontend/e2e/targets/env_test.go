package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEnvTry: a Fatal inside try comes back as an error carrying its
// message and marks the env failed; anything else passes through.
func TestEnvTry(t *testing.T) {
	tests := map[string]struct {
		f       func(e *env)
		wantErr string
	}{
		"returns":  {f: func(e *env) {}},
		"fatal":    {f: func(e *env) { e.Fatal("consul ", "did not start") }, wantErr: "consul did not start"},
		"fatalf":   {f: func(e *env) { e.Fatalf("port %d taken", 8500) }, wantErr: "port 8500 taken"},
		"tempdirs": {f: func(e *env) { _ = e.TempDir(); _ = e.TempDir() }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e, err := newEnv()
			if err != nil {
				t.Fatal(err)
			}
			defer e.close()
			err = e.try(func() { tc.f(e) })
			if got := errString(err); got != tc.wantErr {
				t.Errorf("try: error %q, want %q", got, tc.wantErr)
			}
			if e.Failed() != (tc.wantErr != "") {
				t.Errorf("Failed() = %v after error %q", e.Failed(), tc.wantErr)
			}
		})
	}
}

func TestEnvTryPassesOtherPanics(t *testing.T) {
	e, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the original panic", r)
		}
	}()
	_ = e.try(func() { panic("boom") })
	t.Error("try swallowed a panic that is not a Fatal")
}

// TestEnvClose: cleanups run last registered first (servers stop before
// the directories they use go), and the temporary directories are removed.
func TestEnvClose(t *testing.T) {
	e, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	dir := e.TempDir()
	if !strings.HasPrefix(dir, e.root) {
		t.Errorf("TempDir %s is not under %s", dir, e.root)
	}
	if err := os.WriteFile(filepath.Join(dir, "log"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var order []int
	for i := range 3 {
		e.Cleanup(func() { order = append(order, i) })
	}
	e.close()
	if !slices.Equal(order, []int{2, 1, 0}) {
		t.Errorf("cleanups ran in order %v, want [2 1 0]", order)
	}
	if _, err := os.Stat(e.root); !os.IsNotExist(err) {
		t.Errorf("root %s still there after close (%v)", e.root, err)
	}
	e.close() // a second close has nothing left to do
	if len(order) != 3 {
		t.Errorf("a second close ran cleanups again: %v", order)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
