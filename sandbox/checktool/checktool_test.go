package checktool

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/internal/golden"

	"github.com/google/go-cmp/cmp"
)

func TestCorpus(t *testing.T) {
	var out bytes.Buffer
	bad, err := Conformance("testdata/corpus", &out)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d pairs did not get the expected verdict:\n%s", bad, out.String())
	}
	if n := strings.Count(out.String(), "ok "); n != 6 {
		t.Fatalf("ran %d pairs, want 6:\n%s", n, out.String())
	}
}

// TestOutput compares the tool's stdout, stderr and exit status with
// golden files for each output mode.
func TestOutput(t *testing.T) {
	const (
		cfg     = "testdata/corpus/Headers.yaml"
		failing = "testdata/corpus/HeadersFailures.golden.proto.json"
		passing = "testdata/corpus/Rewrites.golden.proto.json"
		rwCfg   = "testdata/corpus/Rewrites.yaml"
	)
	tests := map[string]struct {
		args []string
		code int
	}{
		"failures_quiet":           {[]string{"-c", cfg, "-t", failing}, 1},
		"failures_details":         {[]string{"-c", cfg, "-t", failing, "--details"}, 1},
		"failures_only":            {[]string{"-c", cfg, "-t", failing, "--details", "--only-show-failures"}, 1},
		"pass_details":             {[]string{"--config-path", rwCfg, "--test-path", passing, "-d"}, 0},
		"pass_only_failures":       {[]string{"-c", rwCfg, "-t", passing, "--only-show-failures"}, 0},
		"fail_under_met":           {[]string{"-c", rwCfg, "-t", passing, "-f", "90"}, 0},
		"fail_under_missed":        {[]string{"-c", rwCfg, "-t", passing, "--fail-under=95.5"}, 1},
		"covall":                   {[]string{"-c", rwCfg, "-t", passing, "--covall"}, 0},
		"missing_test_path":        {[]string{"-c", rwCfg}, 1},
		"unknown_flag":             {[]string{"-c", rwCfg, "-t", passing, "--nope"}, 1},
		"bad_fail_under":           {[]string{"-c", rwCfg, "-t", passing, "-f", "x"}, 1},
		"config_unknown_field":     {[]string{"-c", "testdata/load/unknown_field.yaml", "-t", passing}, 1},
		"config_invalid_route":     {[]string{"-c", "testdata/load/invalid_route.yaml", "-t", passing}, 1},
		"tests_violate_schema":     {[]string{"-c", rwCfg, "-t", "testdata/load/bad_tests.yaml"}, 1},
		"tests_unknown_field":      {[]string{"-c", rwCfg, "-t", "testdata/load/unknown_test_field.json"}, 1},
		"config_is_test_file":      {[]string{"-c", "testdata/formats/tests.yaml", "-t", "testdata/formats/tests.yaml"}, 1},
		"config_is_test_file_text": {[]string{"-c", "testdata/formats/tests.pb_text", "-t", "testdata/formats/tests.yaml"}, 1},
		"failure_texts":            {[]string{"-c", "testdata/formats/route.yaml", "-t", "testdata/formats/failures.yaml", "--only-show-failures"}, 1},
		"tests_are_route_text":     {[]string{"-c", "testdata/formats/route.yaml", "-t", "testdata/formats/route.pb_text"}, 1},
		"config_duration_object":   {[]string{"-c", "testdata/load/duration_object.yaml", "-t", "testdata/load/duration_object.tests.yaml", "-d"}, 0},
		"config_missing":           {[]string{"-c", "testdata/load/no_such_file.yaml", "-t", passing}, 1},
		"tests_not_json":           {[]string{"-c", rwCfg, "-t", "testdata/load/truncated.json"}, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			got := "--- stdout\n" + stdout.String() + "--- stderr\n" + stderr.String()
			// protobuf varies the space in its error texts on purpose.
			got = strings.ReplaceAll(got, "\u00a0", " ")
			golden.Check(t, filepath.Join("testdata/output", name+".golden"), []byte(got))
		})
	}
}

// TestFormats runs one test file, written in each format Envoy reads,
// against one route configuration in each format: the extension decides
// how a file is read, and every assertion and input of the schema is used.
func TestFormats(t *testing.T) {
	const dir = "testdata/formats/"
	for _, cfg := range []string{"route.yaml", "route.pb_text", "route.pb"} {
		for _, tests := range []string{"tests.yaml", "tests.json", "tests.pb_text", "tests.pb"} {
			t.Run(cfg+" "+tests, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				if code := Run([]string{"-c", dir + cfg, "-t", dir + tests, "--details"}, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
				}
				if n := strings.Count(stdout.String(), "\n"); n != 8 {
					t.Errorf("%d lines, want 7 test names and the coverage:\n%s", n, stdout.String())
				}
			})
		}
	}
}

func TestDetailedCoverageNamesRoutes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run([]string{"-c", "testdata/corpus/Matchers.yaml", "-t", "testdata/load/one_test.yaml", "--detailed-coverage"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// Envoy appends a random UUID to every route name.
	re := regexp.MustCompile(`(?m)^Missing test for host: shop, route name: beta-header-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !re.MatchString(stdout.String()) {
		t.Fatalf("no missing-test line for beta-header:\n%s", stdout.String())
	}
	if strings.Contains(stdout.String(), "route name: fallback-") {
		t.Fatalf("covered route listed as missing:\n%s", stdout.String())
	}
}

func TestParseArgs(t *testing.T) {
	tests := map[string]struct {
		args    []string
		want    Options
		wantErr string
	}{
		"short flags": {[]string{"-c", "r.yaml", "-t", "t.json", "-d", "-f", "80"},
			Options{ConfigPath: "r.yaml", TestPath: "t.json", Details: true, FailUnder: 80}, ""},
		"long flags with =": {[]string{"--config-path=r.yaml", "--test-path=t.json", "--only-show-failures", "--covall", "--disable-deprecation-check", "--output-path", "o"},
			Options{ConfigPath: "r.yaml", TestPath: "t.json", OnlyShowFailures: true, CovAll: true, DisableDeprecationCheck: true, OutputPath: "o"}, ""},
		"unlabelled ignored": {[]string{"x", "-c", "r", "-t", "t"}, Options{ConfigPath: "r", TestPath: "t"}, ""},
		"missing value":      {[]string{"-c"}, Options{}, "Missing a value for the argument: config-path"},
		"both required":      {[]string{"-t", "t"}, Options{}, "Both --config-path/c and --test-path/t are mandatory"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseArgs(tc.args)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestOutputFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results.json")
	var stdout, stderr bytes.Buffer
	Run([]string{"-c", "testdata/corpus/Headers.yaml", "-t", "testdata/corpus/HeadersFailures.golden.proto.json", "-o", out, "--only-show-failures"}, &stdout, &stderr)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"test_name": "every kind of failure"`) || strings.Contains(string(data), "passing test") {
		t.Fatalf("results file:\n%s", data)
	}
}
