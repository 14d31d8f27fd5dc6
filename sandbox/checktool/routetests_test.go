//go:build conformance

// Envoy's router check corpus is not the project's to copy: it is kept
// beside the checkout, so these tests are built only by `make conformance`
// (go test -tags conformance), which runs them where the corpus is.

package checktool

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/dynamicpb"
)

// corpusDir is Envoy's router check corpus, kept outside the repository
// (see the conformance target of the Makefile).
func corpusDir(t *testing.T) string {
	dir := os.Getenv("ROUTEDECK_ROUTER_CHECK_CORPUS")
	if dir == "" {
		dir = "../../../shared/conformance/envoy-router-check"
	}
	if _, err := os.Stat(filepath.Join(dir, "TestRoutes.yaml")); err != nil {
		t.Fatalf("Envoy's router check corpus is not at %s (%v): set ROUTEDECK_ROUTER_CHECK_CORPUS", dir, err)
	}
	return dir
}

// TestEnvoyToolSequence runs, on Envoy's corpus, the checks Envoy's own
// test of its router check tool makes of the tool's exit status and output
// (both streams together, as that test reads them), with routedeck as the
// tool. A step whose files the corpus lacks is skipped by name.
func TestEnvoyToolSequence(t *testing.T) {
	dir := corpusDir(t)
	at := func(name string) string { return filepath.Join(dir, name) }
	have := func(t *testing.T, names ...string) {
		t.Helper()
		for _, n := range names {
			if _, err := os.Stat(at(n)); err != nil {
				t.Skipf("Envoy's corpus as kept beside this checkout has no %s, and the project may not add it", n)
			}
		}
	}
	run := func(args ...string) (string, int) {
		var out bytes.Buffer
		code := Run(args, &out, &out)
		return out.String(), code
	}

	t.Run("expected matches", func(t *testing.T) {
		for _, name := range []string{"ContentType", "ClusterHeader", "DirectResponse", "HeaderMatchedRouting", "Redirect",
			"Redirect2", "Redirect3", "Redirect4", "Runtime", "TestRoutes", "Weighted"} {
			t.Run(name, func(t *testing.T) {
				have(t, name+".yaml", name+".golden.proto.json")
				if out, code := run("-c", at(name+".yaml"), "-t", at(name+".golden.proto.json"), "--details"); code != 0 {
					t.Fatalf("exit %d:\n%s", code, out)
				}
			})
		}
	})

	coverage := []struct {
		name, config, tests string
		args                []string
		want                string
	}{
		{"fail-under met", "Redirect.yaml", "Redirect.golden.proto.json", []string{"-f", "1.0"}, "Current route coverage: "},
		{"comprehensive", "ComprehensiveRoutes.yaml", "ComprehensiveRoutes.golden.proto.json", []string{"-f", "100", "--covall"}, "Current route coverage: 100%"},
		{"direct response covall", "DirectResponse.yaml", "DirectResponse.golden.proto.json", []string{"-f", "100", "--covall"}, "Current route coverage: 100%"},
		{"runtime covall", "Runtime.yaml", "Runtime.golden.proto.json", []string{"--covall"}, "Current route coverage: 100%"},
		{"fail-under missed", "Redirect.yaml", "Redirect.golden.proto.json", []string{"-f", "100"}, "Failed to meet coverage requirement: 100%"},
	}
	for _, tc := range coverage {
		t.Run(tc.name, func(t *testing.T) {
			have(t, tc.config, tc.tests)
			out, _ := run(append([]string{"-c", at(tc.config), "-t", at(tc.tests), "--details"}, tc.args...)...)
			if !strings.Contains(out, tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}

	t.Run("yaml test file", func(t *testing.T) {
		have(t, "Weighted.yaml", "Weighted.golden.proto.yaml")
		if out, code := run("-c", at("Weighted.yaml"), "-t", at("Weighted.golden.proto.yaml"), "--details"); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	t.Run("proto text test file", func(t *testing.T) {
		have(t, "Weighted.yaml", "Weighted.golden.proto.json")
		// The corpus holds the JSON form; the text form is written from it.
		m := dynamicpb.NewMessage(validationType)
		if err := loadMessage(at("Weighted.golden.proto.json"), m); err != nil {
			t.Fatal(err)
		}
		text, err := prototext.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "Weighted.golden.proto.pb_text")
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := run("-c", at("Weighted.yaml"), "-t", path, "--details"); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	t.Run("bad config", func(t *testing.T) {
		have(t, "Redirect.golden.proto.json", "TestRoutes.yaml")
		out, code := run("-c", at("Redirect.golden.proto.json"), "-t", at("TestRoutes.yaml"))
		if code == 0 || !regexp.MustCompile(`INVALID_ARGUMENT.*envoy\.config\.route\.v3\.RouteConfiguration.*tests`).MatchString(out) {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	// Weighted's tests run against TestRoutes' configuration fail.
	failures := []struct {
		name     string
		args     []string
		want     []string // in this order
		unwanted string
	}{
		{"details", []string{"--details"}, []string{"Test_1", "Test_2", "expected: [cluster1], actual: [instant-server], test type: cluster_name",
			"expected: [test_virtual_cluster], actual: [other], test type: virtual_cluster_name", "Test_3"}, ""},
		{"details and only failures", []string{"--details", "--only-show-failures"},
			[]string{"Test_2", "expected: [cluster1], actual: [instant-server], test type: cluster_name"}, "Test_1"},
		{"only failures", []string{"--only-show-failures"},
			[]string{"Test_2", "expected: [cluster1], actual: [instant-server], test type: cluster_name"}, "Test_1"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			have(t, "TestRoutes.yaml", "Weighted.golden.proto.json")
			out, _ := run(append([]string{"-c", at("TestRoutes.yaml"), "-t", at("Weighted.golden.proto.json")}, tc.args...)...)
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q after what came before:\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
			if tc.unwanted != "" && strings.Contains(out, tc.unwanted) {
				t.Fatalf("output holds %q:\n%s", tc.unwanted, out)
			}
		})
	}

	t.Run("error strings", func(t *testing.T) {
		have(t, "TestRoutes.yaml", "TestRoutesFailures.golden.proto.json")
		out, _ := run("-c", at("TestRoutes.yaml"), "-t", at("TestRoutesFailures.golden.proto.json"), "--only-show-failures")
		lines := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			lines[l] = true
		}
		for _, want := range []string{
			"expected: [content-type: text/plain], actual: NOT [content-type: text/plain], test type: response_header_matches.string_match.exact",
			"actual: [content-length: 25], test type: response_header_matches.range_match",
			"expected: [x-ping-response: pong], actual: [x-ping-response: yes], test type: response_header_matches.string_match.exact",
			"expected: [has(x-ping-response):false], actual: [has(x-ping-response):true], test type: response_header_matches.present_match",
			"expected: [has(x-pong-response):true], actual: [has(x-pong-response):false], test type: response_header_matches.present_match",
		} {
			if !lines[want] {
				t.Errorf("no line %q in:\n%s", want, out)
			}
		}
	})

	t.Run("missing tests", func(t *testing.T) {
		have(t, "TestRoutes.yaml", "TestRoutes.golden.proto.json")
		out, _ := run("-c", at("TestRoutes.yaml"), "-t", at("TestRoutes.golden.proto.json"), "--details", "--covall")
		if !regexp.MustCompile(`(?s)Missing test for host: www2_staging, route: prefix: "/".*Missing test for host: default, route: prefix: "/api/application_data"`).MatchString(out) {
			t.Fatalf("output:\n%s", out)
		}
	})

	t.Run("detailed coverage", func(t *testing.T) {
		have(t, "DetailedCoverage.yaml", "DetailedCoverage.golden.proto.json")
		out, _ := run("-c", at("DetailedCoverage.yaml"), "-t", at("DetailedCoverage.golden.proto.json"), "--detailed-coverage")
		for _, re := range []string{`Missing test for host: localhost, route name: new_endpoint2-.+`, `Missing test for host: localhost, route name: -.+`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("no match for %s in:\n%s", re, out)
			}
		}
		out, _ = run("-c", at("DetailedCoverage.yaml"), "-t", at("DetailedCoverage.golden.proto.json"))
		if regexp.MustCompile(`Missing test for host:.+`).MatchString(out) {
			t.Errorf("missing tests reported without --detailed-coverage:\n%s", out)
		}
	})
}
