// Package input reads the files and streams an operator hands to
// routedeck (manifests, imports, test files, Envoy configurations) within
// fixed limits, so that no input, however hostile, costs more than a
// bounded amount of memory and time:
//
//   - at most MaxBytes are read from a file or stdin;
//   - YAML may have at most MaxSeparators node separators, which bounds
//     its nodes before any parser builds them;
//   - YAML aliases may add at most MaxAliasNodes nodes to what is written
//     (a "billion laughs" document is a few lines that expand to billions);
//   - YAML may nest at most MaxDepth levels, counted with aliases expanded;
//   - an alias may not refer to an anchor that contains it.
//
// Every YAML reader goes through YAML or CheckYAML before decoding, whichever
// library decodes it afterwards: the checks work on the parsed node tree,
// where an alias is one pointer however much it stands for.
package input

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Limits.
const (
	MaxBytes      = 4 << 20
	MaxSeparators = 500_000
	MaxAliasNodes = 100_000
	MaxDepth      = 512
)

// Error is input refused for going past a limit. It names the input and,
// when known, the line.
type Error struct {
	Name string // "" when the caller names the input itself
	Line int    // 1-based; 0 when the problem has no one place
	// Field is the path in the YAML document ("when.any[3]") of the node
	// at fault, "" when there is none.
	Field string
	Msg   string
}

func (e *Error) Error() string {
	msg := e.Msg
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	switch {
	case e.Name == "" && e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, msg)
	case e.Name == "":
		return msg
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, msg)
	}
	return e.Name + ": " + msg
}

// Read reads r to its end, or fails as soon as it has gone past MaxBytes:
// an endless stream (/dev/zero, a pipe that never closes its end of data)
// costs MaxBytes+1 bytes and stops. name is what errors call the input.
func Read(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return nil, err // it names the file already
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > MaxBytes {
		return nil, tooLarge(name)
	}
	return data, nil
}

// ReadFile reads the file at path as Read does. A regular file is refused
// by its size before anything is read.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxBytes {
		return nil, tooLarge(path)
	}
	return Read(path, f)
}

func tooLarge(name string) error {
	return &Error{Name: name, Msg: fmt.Sprintf("larger than %d MiB, the limit for an input file", MaxBytes>>20)}
}

// IsLimit reports whether err is input refused for a limit.
func IsLimit(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Named gives a limit error from a reader that had no name for its input
// (a converter handed bytes) the name of the file, so it reads
// "file:line: ..." like every other. Other errors are returned as they are.
func Named(err error, name string) error {
	var e *Error
	if errors.As(err, &e) && e.Name == "" {
		named := *e
		named.Name = name
		return &named
	}
	return err
}
