package testservers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"testing"
	"time"
)

// The cache directory names come from the script's versions; a bump in one
// place only would send every test to a directory nothing builds.
func TestToolVersionsMatchScript(t *testing.T) {
	script, err := os.ReadFile("../../hack/tools.sh")
	if err != nil {
		t.Fatalf("read tools script: %v", err)
	}
	tests := map[string]struct {
		variable string
		want     string
	}{
		"consul":         {variable: "CONSUL_VERSION", want: ConsulVersion},
		"kube-apiserver": {variable: "KUBE_VERSION", want: KubeVersion},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := regexp.MustCompile(`(?m)^` + tc.variable + `=(\S+)$`).FindSubmatch(script)
			if m == nil {
				t.Fatalf("hack/tools.sh sets no %s", tc.variable)
			}
			if got := string(m[1]); got != tc.want {
				t.Errorf("hack/tools.sh %s=%s, package constant %s", tc.variable, got, tc.want)
			}
		})
	}
}

func TestMissingBinaryFailsWithInstructions(t *testing.T) {
	t.Setenv("ROUTEDECK_CONSUL", t.TempDir()+"/no-such-consul")
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		ConsulBinary(ft)
	}()
	if !regexp.MustCompile("make tools").MatchString(ft.msg) {
		t.Errorf("failure message %q does not say to run make tools", ft.msg)
	}
}

// fatalRecorder captures Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = regexp.MustCompile(`\s+`).ReplaceAllString(fmt.Sprintf(format, args...), " ")
	panic("fatal")
}

func TestConsulStopStart(t *testing.T) {
	c := StartConsul(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := httpGet(ctx, http.DefaultClient, c.URL()+"/v1/agent/self", nil); err != nil {
		t.Fatalf("agent not answering after start: %v", err)
	}
	c.Stop()
	if _, err := httpGet(ctx, http.DefaultClient, c.URL()+"/v1/agent/self", nil); err == nil {
		t.Fatal("agent still answering after Stop")
	}
	c.Start()
	if _, err := httpGet(ctx, http.DefaultClient, c.URL()+"/v1/agent/self", nil); err != nil {
		t.Fatalf("agent not answering after restart: %v", err)
	}
}
