package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// YAML parses data, a stream of YAML documents (JSON is YAML too), into
// one node per document, checking the limits as it goes. On error it
// returns the documents before the one at fault. A syntax error is
// returned as the parser words it; a limit as an *Error with the line.
//
// Decoding the nodes afterwards, into a Go value or by walking them, is
// bounded by the limits: aliases are still pointers here, and the checks
// count what they would become.
//
// The nodes are those yaml.v3 builds, but for comments: documents of the
// common shapes are read by a parser of their own (see fastParser), which
// keeps none.
func YAML(name string, data []byte) ([]*yaml.Node, error) {
	if len(data) > MaxBytes {
		return nil, tooLarge(name)
	}
	if err := checkDensity(name, data); err != nil {
		return nil, err
	}
	// Parsing is most of the cost of a large file: its documents are
	// parsed in parallel, then measured in order as one stream.
	docs, perr := parseChunks(data, runtime.GOMAXPROCS(0))
	c := checker{name: name, expanded: map[*yaml.Node]shape{}}
	for i, doc := range docs {
		if err := c.walk(doc, 0); err != nil {
			return docs[:i], err
		}
	}
	return docs, perr
}

// parseChunks parses the documents of data, split at document markers
// into up to n chunks when data is large enough to gain from it.
// On a syntax error it returns the documents before it and the error,
// with lines counted from the start of data.
func parseChunks(data []byte, n int) ([]*yaml.Node, error) {
	chunks := splitStream(data, n)
	if len(chunks) == 1 {
		return fastStream(data, 0)
	}
	type result struct {
		docs []*yaml.Node
		err  error
	}
	results := make([]result, len(chunks))
	var wg sync.WaitGroup
	for i, ch := range chunks {
		wg.Go(func() {
			docs, err := fastStream(data[ch.start:ch.end], ch.line-1)
			results[i] = result{docs, err}
		})
	}
	wg.Wait()
	var docs []*yaml.Node
	for _, r := range results {
		docs = append(docs, r.docs...)
		if r.err != nil {
			return docs, r.err
		}
	}
	return docs, nil
}

// parseStream parses every document of data; lineOffset is added to the
// lines of the nodes and of a syntax error.
func parseStream(data []byte, lineOffset int) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		doc := new(yaml.Node)
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			if lineOffset > 0 {
				err = shiftLines(err, lineOffset)
			}
			return docs, err
		}
		if lineOffset > 0 {
			shiftNode(doc, lineOffset)
		}
		docs = append(docs, doc)
	}
}

// chunk is a part of a stream that starts at a document marker (or at the
// start) and holds whole documents; line is its first line.
type chunk struct{ start, end, line int }

// minChunk is the least a chunk holds: smaller files are parsed at once.
const minChunk = 256 << 10

// splitStream cuts data into at most n chunks of whole documents. A line
// that starts with "---" followed by a space or a line break always
// starts a document (no scalar may hold one), so the chunks parse as the
// whole would. Directives (lines starting with '%') apply to the
// document that follows them, so a stream with any is not cut.
func splitStream(data []byte, n int) []chunk {
	whole := []chunk{{0, len(data), 1}}
	if n < 2 || len(data) < 2*minChunk || bytes.Contains(data, []byte("\n%")) || bytes.HasPrefix(data, []byte("%")) {
		return whole
	}
	size := max(len(data)/n, minChunk)
	var out []chunk
	start, line := 0, 1
	for len(out) < n-1 {
		from := start + size
		if from >= len(data) {
			break
		}
		at := -1
		for i := from; i < len(data); {
			j := bytes.Index(data[i:], []byte("\n---"))
			if j < 0 {
				break
			}
			k := i + j + 1 // the marker's first byte
			if k+3 == len(data) || data[k+3] == ' ' || data[k+3] == '\n' || data[k+3] == '\r' || data[k+3] == '\t' {
				at = k
				break
			}
			i = k + 3
		}
		if at < 0 {
			break
		}
		out = append(out, chunk{start, at, line})
		line += bytes.Count(data[start:at], []byte("\n"))
		start = at
	}
	if len(out) == 0 {
		return whole
	}
	return append(out, chunk{start, len(data), line})
}

// shiftNode adds offset to the line of n and of every node under it
// (aliases are pointers to nodes already counted).
func shiftNode(n *yaml.Node, offset int) {
	n.Line += offset
	for _, c := range n.Content {
		shiftNode(c, offset)
	}
}

var errLine = regexp.MustCompile(`line (\d+)`)

// shiftLines moves the line numbers of a parser error by offset.
func shiftLines(err error, offset int) error {
	msg := errLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return "line " + strconv.Itoa(n+offset)
	})
	return errors.New(msg)
}

// CheckYAML checks data as YAML does, for callers that decode it with
// another library.
func CheckYAML(name string, data []byte) error {
	_, err := YAML(name, data)
	return err
}

// checkDensity bounds the nodes of a stream before it is parsed. A parsed
// node costs a hundred times its bytes or more, and "a," is a node in two
// bytes, so the size cap alone lets a dense file cost gigabytes once
// parsed and decoded. Every node but a document's first follows one of
// the separators counted here, so their count bounds the nodes; text that
// merely contains them (a long description) counts too, which the limit
// leaves room for.
func checkDensity(name string, data []byte) error {
	n, line := 0, 1
	for _, b := range data {
		switch b {
		case '\n':
			line++
			n++
		case ',', ':', '-', '[', '{':
			n++
		default:
			continue
		}
		if n > MaxSeparators {
			return &Error{Name: name, Line: line, Msg: fmt.Sprintf("YAML has more than %d separators (, : - [ { and line breaks), the limit", MaxSeparators)}
		}
	}
	return nil
}

// checker measures documents as they would be with every alias replaced
// by a copy of its anchor's node.
type checker struct {
	name string
	// added is the nodes aliases have added so far, over the whole stream.
	added int
	// expanded holds the shape of every node measured so far, so each is
	// measured once however often aliases refer to it: that keeps the
	// check itself linear in the written size of a document built to
	// explode.
	expanded map[*yaml.Node]shape
	path     []step
}

// shape is a node's size (nodes, capped just past MaxAliasNodes so sums
// cannot overflow) and height (levels) with aliases expanded. A height of
// inProgress marks a node being measured, to catch an alias inside the
// node it refers to.
type shape struct{ size, height int }

const inProgress = -1

// walk goes over the written nodes of a document once; level is the
// nesting of n's parent. An alias stands for its anchor's node, in full,
// at the alias's place. The path to n is kept in c.path, as steps, and
// spelt out only for an error.
func (c *checker) walk(n *yaml.Node, level int) error {
	if n.Kind == yaml.AliasNode {
		sh, err := c.measure(n, n, 0)
		if err != nil {
			return c.located(err)
		}
		c.added = min(c.added+sh.size, MaxAliasNodes+1)
		if c.added > MaxAliasNodes {
			return c.located(c.fail(n, "aliases expand to more than %d nodes, the limit", MaxAliasNodes))
		}
		if level+sh.height > MaxDepth {
			return c.located(c.tooDeep(n))
		}
		return nil
	}
	if n.Kind != yaml.DocumentNode {
		level++ // the document itself is not a level of nesting
	}
	if level > MaxDepth {
		return c.located(c.tooDeep(n))
	}
	for i, child := range n.Content {
		switch {
		case n.Kind == yaml.SequenceNode:
			c.path = append(c.path, step{index: i})
		case n.Kind == yaml.MappingNode && i%2 == 1:
			c.path = append(c.path, step{key: n.Content[i-1], index: -1})
		default:
			if err := c.walk(child, level); err != nil {
				return err
			}
			continue
		}
		err := c.walk(child, level)
		c.path = c.path[:len(c.path)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

// step is one step of a field path: a mapping key, or an index when
// index >= 0.
type step struct {
	key   *yaml.Node
	index int
}

// maxPathSteps is how much of a path an error spells out: enough to find
// the place, where a path past the depth limit has hundreds of steps.
const maxPathSteps = 12

// located gives a limit error the field path of the node being walked.
func (c *checker) located(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	var b strings.Builder
	for i, s := range c.path {
		if i == maxPathSteps {
			b.WriteString("...")
			break
		}
		switch {
		case s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case b.Len() > 0:
			b.WriteString("." + s.key.Value)
		default:
			b.WriteString(s.key.Value)
		}
	}
	e.Field = b.String()
	return err
}

// measure returns the expanded shape of n. via is the alias the walk
// came through, which errors point at; depth counts the levels measured
// above n: past MaxDepth the answer is known, and stopping there bounds
// the recursion.
func (c *checker) measure(via, n *yaml.Node, depth int) (shape, error) {
	if n.Kind == yaml.AliasNode {
		via, n = n, n.Alias
		if n == nil {
			return shape{}, nil // the parser refuses an unknown anchor first
		}
	}
	if sh, ok := c.expanded[n]; ok {
		if sh.height == inProgress {
			return shape{}, c.fail(via, "alias *%s is inside the node it refers to", via.Value)
		}
		return sh, nil
	}
	if depth > MaxDepth {
		return shape{}, c.tooDeep(via)
	}
	c.expanded[n] = shape{height: inProgress}
	sh := shape{size: 1}
	for _, child := range n.Content {
		csh, err := c.measure(via, child, depth+1)
		if err != nil {
			return shape{}, err
		}
		sh.size = min(sh.size+csh.size, MaxAliasNodes+1)
		sh.height = max(sh.height, csh.height)
	}
	sh.height++
	c.expanded[n] = sh
	return sh, nil
}

func (c *checker) tooDeep(n *yaml.Node) error {
	return c.fail(n, "nested deeper than %d levels, the limit", MaxDepth)
}

func (c *checker) fail(n *yaml.Node, format string, args ...any) error {
	return &Error{Name: c.name, Line: n.Line, Msg: "YAML " + fmt.Sprintf(format, args...)}
}
