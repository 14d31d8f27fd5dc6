package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// caseFile is one file of testdata/api or testdata/cli: the cases of one
// class of hostile input.
type caseFile struct {
	Class string  `yaml:"class"`
	Doc   string  `yaml:"doc"` // what the class is about, for the reader
	Cases []*spec `yaml:"cases"`
}

// spec is one case as written in the data. An API case has method and
// path; a CLI case has cli. Bodies, files and stdin may hold generator
// tokens ("$gen:NAME:ARG..." where a JSON or YAML value goes, or as the
// whole text), expanded when the case runs so that the data stays small.
type spec struct {
	Name string `yaml:"name"`
	Why  string `yaml:"why"`

	// API request.
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	As      string            `yaml:"as"` // viewer, editor (default), admin, none
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"` // raw
	JSON    any               `yaml:"json"` // encoded as JSON

	// CLI run: arguments, with {dir} for the case's directory (which holds
	// files) and {data} for the server's data directory.
	CLI     []string          `yaml:"cli"`
	Files   map[string]string `yaml:"files"`
	Stdin   string            `yaml:"stdin"`
	Endless bool              `yaml:"endlessStdin"` // stdin never ends

	Expect expect `yaml:"expect"`
	// ReadBack lists API paths that must answer the same (status and
	// version) after the case as before it: what must not have been
	// stored or changed.
	ReadBack []string `yaml:"readBack"`
	// Cleanup lists API paths deleted after a case expected to store.
	Cleanup []string `yaml:"cleanup"`
}

type expect struct {
	Status []int `yaml:"status"`
	// Exit is the CLI's exit status; any non-zero one when unset.
	Exit *int `yaml:"exit"`
	// Fields are the field paths the error must name: in the problem
	// document's errors[].field for the API (when the answer is 400 or
	// 413; a 401 or 409 names no field), in stderr for the CLI. A field
	// under the one given (more precise) counts too.
	Fields []string `yaml:"fields"`
	// Stderr and Body are texts the CLI's stderr or the response body must
	// contain.
	Stderr []string `yaml:"stderr"`
	Body   []string `yaml:"body"`
	// Stored marks a case whose input is fine and must be stored (the
	// bound itself, 200 levels where 201 are refused); its objects are
	// deleted afterwards through Cleanup.
	Stored bool `yaml:"stored"`
	// MayStore marks input a legitimate user might send, where the case
	// holds the server to its bounds (time, memory) whether it stores the
	// input or refuses it. Stored, it is undone through Cleanup, or by a
	// fresh server when Cleanup is empty (an update of a fixture object).
	MayStore bool `yaml:"mayStore"`
	// Headers are response headers the answer must carry (any value).
	Headers []string `yaml:"headers"`
	// NoCookie: the answer must not start a session.
	NoCookie bool `yaml:"noCookie"`
}

// tc is a case ready to run.
type tc struct {
	class string
	*spec
}

func (c tc) id() string { return c.class + "/" + c.Name }

func (c tc) isCLI() bool { return len(c.CLI) > 0 }

// loadCases reads every case file under testdata/api and testdata/cli.
func loadCases() ([]tc, error) {
	var out []tc
	for _, dir := range []string{"api", "cli"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			cf, err := readCaseFile(f)
			if err != nil {
				return nil, err
			}
			for _, s := range cf.Cases {
				out = append(out, tc{class: dir + "/" + cf.Class, spec: s})
			}
		}
	}
	return out, nil
}

func readCaseFile(name string) (*caseFile, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var cf caseFile
	if err := dec.Decode(&cf); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if cf.Class == "" {
		return nil, fmt.Errorf("%s: no class", name)
	}
	for i, s := range cf.Cases {
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("%s: case %d (%s): %w", name, i, s.Name, err)
		}
	}
	return &cf, nil
}

// check catches mistakes in the data itself, which would otherwise pass
// or fail a case for the wrong reason.
func (s *spec) check() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("no name")
	case len(s.CLI) > 0 && s.Path != "":
		return fmt.Errorf("both cli and path")
	case len(s.CLI) == 0 && (s.Path == "" || s.Method == ""):
		return fmt.Errorf("neither cli nor method and path")
	case s.Body != "" && s.JSON != nil:
		return fmt.Errorf("both body and json")
	case len(s.CLI) == 0 && len(s.Expect.Status) == 0:
		return fmt.Errorf("no expected status")
	case s.Expect.Stored && len(s.Cleanup) == 0 && s.Expect.Status[0] < 300 && s.Method != "GET":
		// A stored object left behind would change what later cases see.
		return fmt.Errorf("stored without cleanup")
	}
	switch s.As {
	case "", "none", "viewer", "editor", "admin":
	default:
		return fmt.Errorf("as %q: use none, viewer, editor or admin", s.As)
	}
	return nil
}

// body is the request body with its generator tokens expanded.
func (s *spec) body() ([]byte, error) {
	switch {
	case s.JSON != nil:
		b, err := json.Marshal(s.JSON)
		if err != nil {
			return nil, err
		}
		return expand(b)
	case s.Body != "":
		return expand([]byte(s.Body))
	}
	return nil, nil
}

// readBacks are the paths a case lists plus, for writes of objects, the
// object the body names: a refused create must leave it absent, a refused
// update unchanged.
func (s *spec) readBacks(body []byte) []string {
	paths := append([]string(nil), s.ReadBack...)
	if len(s.CLI) == 0 && s.Method != "GET" {
		paths = append(paths, s.written(body)...)
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// written are the objects an API write names: in its path, or by the
// names in its body.
func (s *spec) written(body []byte) []string {
	coll, rest, _ := strings.Cut(strings.TrimPrefix(s.Path, "/api/v1/"), "/")
	switch coll {
	case "routes", "gateways", "upstreams", "secrets", "tests":
		if rest, _, _ = strings.Cut(rest, "?"); rest != "" {
			return []string{"/api/v1/" + coll + "/" + strings.TrimSuffix(rest, "/")}
		}
		if name := nameOf(body); name != "" {
			return []string{"/api/v1/" + coll + "/" + url.PathEscape(name)}
		}
	case "apply":
		var lists map[string][]json.RawMessage
		if len(body) > 1<<20 || json.Unmarshal(body, &lists) != nil {
			return nil
		}
		var out []string
		for coll, items := range lists {
			for _, it := range items {
				if name := nameOf(it); name != "" {
					out = append(out, "/api/v1/"+coll+"/"+url.PathEscape(name))
				}
			}
		}
		return out
	}
	return nil
}

// nameOf is the "name" of a JSON object, when it is one a read-back can
// address (a plain name; odd ones are covered by the counts).
func nameOf(b []byte) string {
	if len(b) > 1<<20 {
		return ""
	}
	var obj struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(b, &obj) != nil || !plainName.MatchString(obj.Name) {
		return ""
	}
	return obj.Name
}

var plainName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,62}$`)

// genToken is a generator token where a JSON or YAML value goes.
var genToken = regexp.MustCompile(`"\$gen:([A-Za-z0-9]+)((?::[^":]*)*)"`)

// expand replaces generator tokens: a quoted token by the generated value,
// and a text that is one unquoted token as a whole.
func expand(b []byte) ([]byte, error) {
	if t := string(b); strings.HasPrefix(t, "$gen:") && !strings.Contains(strings.TrimSpace(t), "\n") {
		name, args, _ := strings.Cut(strings.TrimSpace(t)[len("$gen:"):], ":")
		return generate(name, splitArgs(args))
	}
	var err error
	out := genToken.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := genToken.FindSubmatch(m)
		v, gerr := generate(string(sub[1]), splitArgs(strings.TrimPrefix(string(sub[2]), ":")))
		if gerr != nil && err == nil {
			err = gerr
		}
		return v
	})
	if err == nil && bytes.Contains(out, []byte("$gen:")) {
		err = fmt.Errorf("a generator token is not where a value goes: %.80s", out[bytes.Index(out, []byte("$gen:")):])
	}
	return out, err
}

func splitArgs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ":")
}

// generators make the inputs too big or too deep to keep as data. Each
// returns a JSON value (which is also a YAML flow value) unless its
// comment says otherwise.
var generators = map[string]func(args []string) ([]byte, error){
	// str:N[:S] is a string of N bytes made of S repeated (default "a").
	"str": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		unit := "a"
		if len(a) > 1 && a[1] != "" {
			unit = a[1]
		}
		return quote(strings.Repeat(unit, n/len(unit)+1)[:n]), nil
	},
	// lines:N is a string of N short lines, the shape that made revision
	// diffs quadratic.
	"lines": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "l%d\n", i)
		}
		return quote(b.String()), nil
	},
	// notChain:N is a condition tree of N nested "not" around a predicate.
	"notChain": func(a []string) ([]byte, error) { return chain(a, `{"not":`, `}`) },
	// allChain:N nests N single-child "all" lists.
	"allChain": func(a []string) ([]byte, error) { return chain(a, `{"all":[`, `]}`) },
	// anyWide:N is one "any" of N predicates.
	"anyWide": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		b.WriteString(`{"any":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"field":"path","op":"equals","value":"/p%d"}`, i)
		}
		b.WriteString(`]}`)
		return b.Bytes(), nil
	},
	// inList:N is a list of N distinct strings.
	"inList": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		vals := make([]string, n)
		for i := range vals {
			vals[i] = "/v" + strconv.Itoa(i)
		}
		return json.Marshal(vals)
	},
	// headerField:N is the condition field of a header whose name is N
	// bytes long.
	"headerField": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		return quote("header[" + strings.Repeat("x", n) + "]"), nil
	},
	// originRegex:N is a CORS origin pattern with a regex of N bytes.
	"originRegex": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		return quote("regex:" + strings.Repeat("a", n)), nil
	},
	// backends:N is a forward to N weighted backends.
	"backends": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"upstream":"hx-%c","weight":1}`, "ab"[i%2])
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	},
	// notText:N is condition text with N negations, as a string.
	"notText": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		return quote(strings.Repeat("!", n) + `path.prefix("/")`), nil
	},
	// parenText:N is condition text inside N parentheses, as a string.
	"parenText": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		return quote(strings.Repeat("(", n) + `path.prefix("/")` + strings.Repeat(")", n)), nil
	},
	// orText:N is condition text of N alternatives, as a string.
	"orText": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`path == "/p%d"`, i)
		}
		return quote(strings.Join(parts, " || ")), nil
	},
	// inText:N is condition text with an "in" list of N values.
	"inText": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		vals := make([]string, n)
		for i := range vals {
			vals[i] = strconv.Quote("/v" + strconv.Itoa(i))
		}
		return quote("path in [" + strings.Join(vals, ", ") + "]"), nil
	},
	// aliasBomb:N is a condition in YAML flow style whose anchors expand
	// to 10^N predicates (not JSON).
	"aliasBomb": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		b.WriteString(`{any: [&c0 {field: path, op: prefix, value: "/"}`)
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, ", &c%d {any: [", i)
			for j := range 10 {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "*c%d", i-1)
			}
			b.WriteString("]}")
		}
		b.WriteString("]}")
		return []byte(b.String()), nil
	},
	// nest:N is N nested JSON arrays: deep, tiny and never a valid body.
	"nest": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		return []byte(strings.Repeat("[", n) + strings.Repeat("]", n)), nil
	},
	// bytes:N[:C] is N raw bytes C (default 'x'; "space" for ' '), not
	// quoted.
	"bytes": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		c := byte('x')
		switch {
		case len(a) > 1 && a[1] == "space":
			c = ' '
		case len(a) > 1 && a[1] != "":
			c = a[1][0]
		}
		return bytes.Repeat([]byte{c}, n), nil
	},
	// badUTF8 is a string holding bytes that are not UTF-8.
	"badUTF8": func([]string) ([]byte, error) { return []byte("\"hx-\xff\xfe\xfd\""), nil },
	// regexGroups:N is a regex of N named groups all called "g".
	"regexGroups": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		return quote(strings.Repeat("(?P<g>a)", n)), nil
	},
	// repeatRegex:N is a regex whose program is huge though its text is
	// short: N nested bounded repetitions.
	"repeatRegex": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		return quote(strings.Repeat("(", n) + "a" + strings.Repeat("){1,1000}", n)), nil
	},
	// yamlDocs:N is N YAML documents of valid routes named hx-docN, then
	// one broken one (not JSON).
	"yamlDocs": func(a []string) ([]byte, error) {
		n, err := intArg(a, 0)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "kind: Route\nname: hx-doc%d\ngateway: hx\nwhen: path == \"/d%d\"\nthen: {forward: [{upstream: hx-a}]}\n---\n", i, i)
		}
		b.WriteString("kind: Route\nname: hx-doc-bad\ngateway: hx\nthen: {forward: [{upstream: hx-a, weight: lots}]}\n")
		return []byte(b.String()), nil
	},
}

func generate(name string, args []string) ([]byte, error) {
	g, ok := generators[name]
	if !ok {
		return nil, fmt.Errorf("no generator %q", name)
	}
	return g(args)
}

func chain(a []string, open, close string) ([]byte, error) {
	n, err := intArg(a, 0)
	if err != nil {
		return nil, err
	}
	leaf := `{"field":"path","op":"prefix","value":"/"}`
	var b bytes.Buffer
	b.Grow(n*(len(open)+len(close)) + len(leaf))
	for range n {
		b.WriteString(open)
	}
	b.WriteString(leaf)
	for range n {
		b.WriteString(close)
	}
	return b.Bytes(), nil
}

func intArg(a []string, i int) (int, error) {
	if i >= len(a) {
		return 0, fmt.Errorf("generator argument %d missing", i+1)
	}
	return strconv.Atoi(a[i])
}

func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
