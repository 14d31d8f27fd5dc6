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
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
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

// wireFields splits one protobuf message into its fields by number, each
// value as raw bytes (length-delimited) or its varint. It reads the wire
// format directly, so the field numbers are checked independently of the
// schema the tool writes with.
func wireFields(t *testing.T, b []byte) map[protowire.Number][]any {
	t.Helper()
	out := map[protowire.Number][]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				t.Fatalf("field %d: %v", num, protowire.ParseError(m))
			}
			out[num], b = append(out[num], v), b[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				t.Fatalf("field %d: %v", num, protowire.ParseError(m))
			}
			out[num], b = append(out[num], v), b[m:]
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
	}
	return out
}

// TestOutputFile checks that --output-path holds what Envoy's tool writes:
// envoy.RouterCheckToolSchema.ValidationResult in protobuf binary, with the
// failure record of each failed assertion under Envoy's field numbers.
func TestOutputFile(t *testing.T) {
	const cfg, tests = "testdata/corpus/Headers.yaml", "testdata/corpus/HeadersFailures.golden.proto.json"
	str := func(b any) string { return string(b.([]byte)) }
	// A StringValue or UInt32Value wrapper holds its value in field 1.
	wrapped := func(b any) any {
		f := wireFields(t, b.([]byte))
		if len(f[1]) == 0 {
			return ""
		}
		if s, ok := f[1][0].([]byte); ok {
			return string(s)
		}
		return f[1][0]
	}
	for name, tc := range map[string]struct {
		args  []string
		names []string
	}{
		"all tests":     {nil, []string{"passing test", "every kind of failure"}},
		"only failures": {[]string{"--only-show-failures"}, []string{"every kind of failure"}},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results.pb")
			var stdout, stderr bytes.Buffer
			if code := Run(append([]string{"-c", cfg, "-t", tests, "-o", out}, tc.args...), &stdout, &stderr); code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			// The file is the whole message, decodable by the schema too.
			m := dynamicpb.NewMessage(resultType)
			if err := proto.Unmarshal(data, m); err != nil {
				t.Fatal(err)
			}
			items := wireFields(t, data)[1] // test_results
			if len(items) != len(tc.names) {
				t.Fatalf("%d results, want %d", len(items), len(tc.names))
			}
			for i, it := range items {
				f := wireFields(t, it.([]byte))
				if got := str(f[1][0]); got != tc.names[i] { // test_name
					t.Fatalf("result %d is %q, want %q", i, got, tc.names[i])
				}
				if tc.names[i] == "passing test" {
					if len(f[2]) != 1 || f[2][0] != uint64(1) || len(f[3]) != 0 { // test_passed, no failure
						t.Fatalf("passing test: %v", f)
					}
					continue
				}
				if len(f[2]) != 0 || len(f[3]) != 1 { // test_passed false is not written; failure is
					t.Fatalf("failed test: %v", f)
				}
				fail := wireFields(t, f[3][0].([]byte))
				want := map[protowire.Number]any{
					1: "other", 2: "app", // cluster_name
					3: "vc", 4: "", // virtual_cluster_name
					5: "nope", 6: "app", // virtual_host_name
					7: "h", 8: "app", // host_rewrite
					9: "/x", 10: "/copy", // path_rewrite
					11: "http://app/copy", 12: "", // path_redirect
					13: uint64(302), 14: "", // code_redirect (0 is not written)
				}
				for num, w := range want {
					if len(fail[num]) != 1 {
						t.Fatalf("failure field %d: %d values, want 1", num, len(fail[num]))
					}
					if got := wrapped(fail[num][0]); got != w {
						t.Fatalf("failure field %d = %#v, want %#v", num, got, w)
					}
				}
				// request_header_match_failures: the eight failed matchers
				// in order, each with its matcher (field 1, whose name is
				// field 1) and the header's value ("" when absent).
				reqs := fail[15]
				wantNames := []string{"x-copied", "x-copied", "x-copied", "x-missing", "X-Copied", "x-absent", "x-copied", "x-copied"}
				wantValues := []string{"v-copied", "v-copied", "v-copied", "", "v-copied", "", "v-copied", "v-copied"}
				if len(reqs) != len(wantNames) || len(fail[16]) != 0 {
					t.Fatalf("%d request and %d response header failures, want %d and 0", len(reqs), len(fail[16]), len(wantNames))
				}
				for j, r := range reqs {
					hf := wireFields(t, r.([]byte))
					if got := str(wireFields(t, hf[1][0].([]byte))[1][0]); got != wantNames[j] {
						t.Fatalf("header failure %d names %q, want %q", j, got, wantNames[j])
					}
					if got := wrapped(hf[2][0]); got != wantValues[j] {
						t.Fatalf("header failure %d value %q, want %q", j, got, wantValues[j])
					}
				}
				for num := range fail {
					if _, ok := want[num]; !ok && num != 15 {
						t.Fatalf("unexpected failure field %d", num)
					}
				}
			}
		})
	}
}

func TestOutputFileUnwritable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "missing", "results.pb")
	if code := Run([]string{"-c", "testdata/corpus/Rewrites.yaml", "-t", "testdata/corpus/Rewrites.golden.proto.json", "-o", out}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if want := "Failed to open file for write " + out + "\n"; stderr.String() != want {
		t.Fatalf("stderr %q, want %q", stderr.String(), want)
	}
}
