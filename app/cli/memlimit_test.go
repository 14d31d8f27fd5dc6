package cli

import (
	"strings"
	"testing"
)

// TestServeRefusesBadMemoryLimit: a limit that cannot be read, from the
// flag or the environment, stops serve before it opens anything.
func TestServeRefusesBadMemoryLimit(t *testing.T) {
	for _, k := range []string{EnvServer, EnvToken, EnvDataDir} {
		t.Setenv(k, "")
	}
	for name, tc := range map[string]struct {
		args []string
		env  string
		want string
	}{
		"no unit":         {args: []string{"--memory-limit", "512"}, want: `memory limit "512"`},
		"too small":       {args: []string{"--memory-limit", "1MiB"}, want: "below 16MiB"},
		"bad environment": {env: "plenty", want: EnvMemoryLimit + `: memory limit "plenty"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(EnvMemoryLimit, tc.env)
			dir := t.TempDir()
			args := append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--ads-listen", "127.0.0.1:0"}, tc.args...)
			var out, errOut strings.Builder
			code := Run(t.Context(), args, strings.NewReader(""), &out, &errOut)
			if code == 0 || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, want an error saying %q: %s", code, tc.want, errOut.String())
			}
		})
	}
}
