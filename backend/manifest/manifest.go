// Package manifest loads workspace files: multi-document YAML where every
// document is a Secret, Gateway, Upstream or Route with `kind` and `name` at the top
// level (the format of the design's route model). Problems are reported as
// "file:line: field: message", every one of them, so an operator can fix a
// file in one pass. The CLI's apply and validate, sandbox route tests and
// import all read files through here.
package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/strictjson"
)

// Problem is one thing wrong with a file, located by line when known.
type Problem struct {
	File    string
	Line    int    // 1-based; 0 when the problem has no place in the file
	Field   string // path inside the document, e.g. "then.forward[0].weight"
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error carries every problem found in a file. Its text is one problem per
// line. It unwraps to an EINVALID *model.Error so callers that only know the
// model's error kinds still classify it.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the problems as a model error (code EINVALID).
func (e *Error) Unwrap() error {
	me := &model.Error{Code: model.EINVALID, Message: "invalid manifest"}
	for _, p := range e.Problems {
		me.Fields = append(me.Fields, model.FieldError{Field: p.Field, Message: p.String()})
	}
	return me
}

// document is one YAML document of a file, kept so that field paths can be
// mapped back to lines after decoding.
type document struct {
	kind string
	name string
	node *yaml.Node // the document's top-level mapping
	// decoded are the document's field problems when it decoded only in
	// part: checks of the rest do not repeat them (strictjson.Hidden).
	decoded []model.FieldError
}

// File is a loaded manifest: the workspace it describes and enough of the
// YAML to locate any field path reported against that workspace.
type File struct {
	Name      string
	Workspace model.Workspace
	// byList holds the documents per workspace list ("secrets", "gateways",
	// "upstreams", "routes") in the order they were added to Workspace, so that
	// "routes[2]" in a validation error is the third Route document.
	byList map[string][]document
	// declared holds "Kind/name" of every document with a kind and name,
	// including those that did not decode.
	declared map[string]bool
}

// Declares reports whether the file has a document of kind named name, even
// one too broken to decode. A reference to such an object is not "unknown":
// the file's own problem with that document is the one to fix.
func (f *File) Declares(kind, name string) bool { return f.declared[kind+"/"+name] }

// listName is the workspace list a kind is kept in, as it appears in the
// field paths of model.Workspace.Validate.
func listName(kind string) string {
	switch kind {
	case model.KindGateway:
		return "gateways"
	case model.KindUpstream:
		return "upstreams"
	case model.KindRoute:
		return "routes"
	case model.KindSecret:
		return "secrets"
	}
	return ""
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// Load decodes the manifest data read from the file called name. It checks
// structure only: unknown fields, wrong types, missing kind or name. Field
// values (and condition text) are checked by the model and the rules
// package; pass their errors to Explain to locate them in the file. On error
// the returned *Error lists every problem, and the File still holds the
// documents that decoded, so a caller can check those too and report
// everything at once (see Merge). A document whose problems are all of
// single fields is among them, those fields left at their zero values
// (Explain drops what only follows from them); one that hit a limit is
// not, so hostile input is never checked further.
func Load(name string, data []byte) (*File, error) {
	f := &File{Name: name, byList: map[string][]document{}, declared: map[string]bool{}}
	var probs []Problem
	add := func(line int, field, format string, args ...any) {
		probs = append(probs, Problem{File: name, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
	}

	// A syntax error or a limit ends the stream (yaml.v3 cannot
	// resynchronise); the documents before it are still checked.
	docs, err := input.YAML(name, data)
	var limit *input.Error
	switch {
	case errors.As(err, &limit):
		add(limit.Line, limit.Field, "%s", limit.Msg)
	case err != nil:
		line := 0
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimSpace(yamlLine.ReplaceAllString(msg, ""))
		msg = strings.TrimPrefix(msg, ": ")
		add(line, "", "invalid YAML: %s", msg)
	}
	// Routes are most of a large file: they are decoded in place, in one
	// block, which then becomes the workspace's list.
	routes := make([]model.Route, 0, countRoutes(docs))
	f.declared = make(map[string]bool, len(docs))
	jobs := make([]job, 0, len(docs))
	for _, root := range docs {
		if len(root.Content) == 0 {
			continue
		}
		n := resolve(root.Content[0])
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			continue // an empty document between separators
		}
		if n.Kind != yaml.MappingNode {
			add(n.Line, "", "document must be a mapping with kind and name")
			continue
		}
		kind, name := scalarValue(n, "kind"), scalarValue(n, "name")
		var obj model.Object
		if kind == model.KindRoute {
			routes = append(routes, model.Route{})
			obj = &routes[len(routes)-1]
		} else {
			obj = model.NewObject(kind)
		}
		switch {
		case kind == "":
			add(n.Line, "kind", "required: one of %s", strings.Join(model.Kinds, ", "))
			continue
		case obj == nil:
			add(lineOf(n, "kind"), "kind", "unknown kind %q: use one of %s", kind, strings.Join(model.Kinds, ", "))
			continue
		}
		f.declared[kind+"/"+name] = true
		if name == "" {
			add(n.Line, "name", "required")
		}
		jobs = append(jobs, job{kind: kind, name: name, node: n, obj: obj})
	}
	decodeAll(f.Name, jobs)
	if len(routes) > 0 {
		f.byList["routes"] = make([]document, 0, len(routes))
		// The routes that decode are moved down over those that did not,
		// in order: each lands at or before its own place.
		f.Workspace.Routes = routes[:0]
	}
	for _, j := range jobs {
		probs = append(probs, j.probs...)
		if j.ends || j.name == "" {
			continue
		}
		doc := document{kind: j.kind, name: j.name, node: j.node}
		for _, p := range j.probs {
			doc.decoded = append(doc.decoded, model.FieldError{Field: p.Field, Message: p.Message})
		}
		list := listName(j.kind)
		f.byList[list] = append(f.byList[list], doc)
		f.Workspace.Add(j.obj)
	}
	if len(probs) > 0 {
		sortProblems(probs)
		return f, &Error{Problems: probs}
	}
	return f, nil
}

// job is one document to decode into obj; probs are its problems, and
// ends says one of them stopped the decoding.
type job struct {
	kind, name string
	node       *yaml.Node
	obj        model.Object
	probs      []Problem
	ends       bool
}

// countRoutes counts the documents that say they are routes.
func countRoutes(docs []*yaml.Node) int {
	count := 0
	for _, root := range docs {
		if len(root.Content) == 0 {
			continue
		}
		if n := resolve(root.Content[0]); n.Kind == yaml.MappingNode && scalarValue(n, "kind") == model.KindRoute {
			count++
		}
	}
	return count
}

// decodeAll decodes the documents of a file, spread over the processors:
// they are independent, and a file of thousands of routes spends most of
// its load time here.
func decodeAll(file string, jobs []job) {
	workers := min(runtime.GOMAXPROCS(0), len(jobs)/64+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(jobs); i += workers {
				jobs[i].decode(file)
			}
		})
	}
	wg.Wait()
}

// decode decodes the document into its object with the strict decoder
// every input path shares, straight from the YAML nodes: every unknown
// field and type mismatch with its line, and its limits (object size,
// condition depth and size, numbers that do not fit).
func (j *job) decode(file string) {
	for _, p := range strictjson.DecodeNode(j.node, j.obj, "kind") {
		j.probs = append(j.probs, Problem{File: file, Line: p.Line, Field: p.Field, Message: p.Message})
		j.ends = j.ends || p.Ends
	}
}

// Merge combines errors about one file into a single *Error, problems
// ordered by line. Errors that are not *Error are returned first, as is.
func Merge(errs ...error) error {
	var all []Problem
	for _, err := range errs {
		if err == nil {
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			return err
		}
		all = append(all, e.Problems...)
	}
	if len(all) == 0 {
		return nil
	}
	sortProblems(all)
	// The same problem found twice (by the file's own checks and by a
	// server checking the same documents) is reported once.
	return &Error{Problems: slices.Compact(all)}
}

func sortProblems(probs []Problem) {
	sort.SliceStable(probs, func(i, j int) bool {
		if probs[i].Line != probs[j].Line {
			return probs[i].Line < probs[j].Line
		}
		return probs[i].Field < probs[j].Field
	})
}

// Explain locates the field errors of err (paths such as
// "routes[1].then.forward[0].upstream", as model.Workspace.Validate and the
// API report them against this file's Workspace) in the file. It returns an
// *Error with one problem per field error, leaving out those at or under a
// field of the document that did not decode (its zero value is not what
// the file says: "required" there would only repeat Load's problem);
// errors without fields are returned unchanged, and nil stays nil.
func (f *File) Explain(err error) error {
	if err == nil {
		return nil
	}
	fields := model.ErrorFields(err)
	if len(fields) == 0 {
		return err
	}
	var probs []Problem
	for _, fe := range fields {
		doc, line, rel := f.locate(fe.Field)
		if doc != nil && strictjson.Hidden(rel, doc.decoded) {
			continue
		}
		probs = append(probs, Problem{File: f.Name, Line: line, Field: rel, Message: fe.Message})
	}
	if len(probs) == 0 {
		return nil
	}
	sortProblems(probs)
	return &Error{Problems: probs}
}

// Partial reports whether the document at list[i] of the workspace
// ("routes", 2) decoded only in part: it has field problems of its own.
func (f *File) Partial(list string, i int) bool {
	docs := f.byList[list]
	return i >= 0 && i < len(docs) && len(docs[i].decoded) > 0
}

// Locate maps a workspace field path to a line of the file and the path
// relative to its document. Unknown paths give line 0 and the path as is.
// When the path goes deeper than the YAML (a field that is missing), the
// line of the deepest existing part is used: that is where to add it.
func (f *File) Locate(path string) (line int, rel string) {
	_, line, rel = f.locate(path)
	return line, rel
}

// locate is Locate that also gives the document, nil for unknown paths.
func (f *File) locate(path string) (doc *document, line int, rel string) {
	segs := splitPath(path)
	if len(segs) < 2 || segs[1].index < 0 {
		return nil, 0, path
	}
	docs := f.byList[segs[0].key]
	i := segs[1].index
	if segs[0].key == "" || i >= len(docs) {
		return nil, 0, path
	}
	rest := segs[2:]
	return &docs[i], lineAt(docs[i].node, rest), joinSegs(rest)
}

// lineAt is the line of the node at segs under n, or of the deepest part
// of that path the YAML has.
func lineAt(n *yaml.Node, segs []seg) int {
	line := n.Line
	for _, s := range segs {
		n = resolve(n)
		var next *yaml.Node
		switch {
		case s.index >= 0 && n.Kind == yaml.SequenceNode && s.index < len(n.Content):
			next = n.Content[s.index]
		case s.index < 0 && n.Kind == yaml.MappingNode:
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == s.key {
					next = n.Content[j+1]
					break
				}
			}
		}
		if next == nil {
			break
		}
		n = next
		line = n.Line
	}
	return line
}

// seg is one step of a field path: a key, or an index when index >= 0.
type seg struct {
	key   string
	index int
}

// splitPath splits "routes[3].then.forward[0]" into
// routes, [3], then, forward, [0].
func splitPath(p string) []seg {
	var out []seg
	for _, part := range strings.Split(p, ".") {
		for part != "" {
			open := strings.IndexByte(part, '[')
			if open < 0 {
				out = append(out, seg{key: part, index: -1})
				break
			}
			if open > 0 {
				out = append(out, seg{key: part[:open], index: -1})
			}
			end := strings.IndexByte(part[open:], ']')
			if end < 0 {
				out = append(out, seg{key: part[open:], index: -1})
				break
			}
			idx, err := strconv.Atoi(part[open+1 : open+end])
			if err != nil {
				// Not a list index (a keyed condition field): keep it whole.
				out = append(out, seg{key: part[open : open+end+1], index: -1})
			} else {
				out = append(out, seg{index: idx})
			}
			part = part[open+end+1:]
		}
	}
	return out
}

func joinSegs(segs []seg) string {
	var b strings.Builder
	for _, s := range segs {
		if s.index >= 0 {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

// resolve follows aliases so anchors work like the values they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// scalarValue returns the scalar value of key in mapping n, "" if absent.
func scalarValue(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if v := resolve(n.Content[i+1]); v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
				return v.Value
			}
		}
	}
	return ""
}

func lineOf(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1].Line
		}
	}
	return n.Line
}
