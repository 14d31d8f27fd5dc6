package checktool

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Pair is one run of a corpus folder: a test file, the route
// configuration it runs against and the verdict Envoy's tool gives.
type Pair struct {
	Name       string
	Config     string
	Tests      string
	ExpectPass bool
}

// CorpusPairs lists the runs in a folder laid out like Envoy's
// router_check corpus: NAME.golden.proto.{json,yaml} runs against
// NAME.yaml and must pass; NAMEFailures.golden.proto.* without its own
// configuration runs against NAME.yaml and must fail.
func CorpusPairs(dir string) ([]Pair, error) {
	var files []string
	for _, pat := range []string{"*.golden.proto.json", "*.golden.proto.yaml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	var pairs []Pair
	for _, f := range files {
		base := filepath.Base(f)
		name := base[:strings.Index(base, ".golden.proto.")]
		p := Pair{Name: base, Config: filepath.Join(dir, name+".yaml"), Tests: f, ExpectPass: true}
		if _, err := os.Stat(p.Config); err != nil && strings.HasSuffix(name, "Failures") {
			p.Config = filepath.Join(dir, strings.TrimSuffix(name, "Failures")+".yaml")
			p.ExpectPass = false
		}
		if _, err := os.Stat(p.Config); err != nil {
			return nil, fmt.Errorf("%s: no route configuration %s", base, filepath.Base(p.Config))
		}
		pairs = append(pairs, p)
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("no router check test files in %s", dir)
	}
	return pairs, nil
}

// Conformance runs every pair of a corpus folder with --details and
// reports each verdict against Envoy's. A failing pair must fail on
// assertions (with "expected:"/"actual:" lines), not on a load error. It
// returns the number of pairs whose verdict differs.
func Conformance(dir string, w io.Writer) (int, error) {
	pairs, err := CorpusPairs(dir)
	if err != nil {
		return 0, err
	}
	bad := 0
	for _, p := range pairs {
		var out, errOut bytes.Buffer
		code := Run([]string{"-c", p.Config, "-t", p.Tests, "--details"}, &out, &errOut)
		ok := code == 0
		verdict := ok == p.ExpectPass
		if !p.ExpectPass && !strings.Contains(errOut.String(), "actual: ") {
			verdict = false
		}
		want := map[bool]string{true: "pass", false: "fail"}[p.ExpectPass]
		if verdict {
			fmt.Fprintf(w, "ok   %s against %s (%s)\n", p.Name, filepath.Base(p.Config), want)
			continue
		}
		bad++
		fmt.Fprintf(w, "FAIL %s against %s: want %s, exit status %d\n", p.Name, filepath.Base(p.Config), want, code)
		for _, l := range strings.Split(strings.TrimSpace(out.String()+errOut.String()), "\n") {
			fmt.Fprintf(w, "     %s\n", l)
		}
	}
	return bad, nil
}
