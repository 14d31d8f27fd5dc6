package accesslog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of FileOptions.
const (
	DefaultFileMaxBytes = 100 << 20
	DefaultFileMaxFiles = 5
)

// FileOptions turn on the JSON-lines files: one file per gateway,
// <gateway>.jsonl in Dir ("sandbox_<gateway>.jsonl" for the sandbox's),
// one entry per line in the shape of the HTTP API's request log, for log
// shippers (Filebeat, Fluent Bit, Vector) to tail. A file that would pass
// MaxBytes is rotated as logrotate does: <name>.1 is the newest old file,
// and at most MaxFiles old files are kept.
type FileOptions struct {
	// Dir holds the files; empty writes none.
	Dir      string
	MaxBytes int64
	MaxFiles int
}

// fileEntry is an Entry as a file line: without the database's id, which
// is assigned as the same batch is committed and means nothing in a file.
type fileEntry struct {
	*Entry
	ID int64 `json:"id,omitempty"`
}

// fileQueue bounds the batches waiting for the file writer; past it
// batches are dropped for the files (and counted), never for the
// database or the proxies.
const fileQueue = 64

// maxOpenFiles bounds the files held open at once; idle ones are closed
// past it.
const maxOpenFiles = 64

// gatewayFileName is what a gateway's name may be to get a file: model
// names, optionally behind the sandbox's prefix. Anything else, which only
// a proxy on plaintext ADS could claim, gets none.
var gatewayFileName = regexp.MustCompile(`^(sandbox/)?[a-z0-9][a-z0-9.-]*$`)

// fileSink writes entries to the gateways' files on a goroutine of its
// own, so a slow disk holds up neither the database writer nor ingestion.
type fileSink struct {
	opts    FileOptions
	log     *slog.Logger
	queue   chan []Entry
	done    chan struct{}
	files   map[string]*logFile
	dropped prometheus.Counter
}

type logFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
	size int64
	used bool // written since the last idle sweep
}

func newFileSink(opts FileOptions, log *slog.Logger, dropped prometheus.Counter) (*fileSink, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultFileMaxBytes
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = DefaultFileMaxFiles
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("access log files: %w", err)
	}
	sink := &fileSink{opts: opts, log: log, queue: make(chan []Entry, fileQueue), done: make(chan struct{}),
		files: map[string]*logFile{}, dropped: dropped}
	go sink.run()
	return sink, nil
}

// offer hands entries to the file writer without waiting.
func (s *fileSink) offer(entries []Entry) {
	select {
	case s.queue <- entries:
	default:
		s.dropped.Add(float64(len(entries)))
	}
}

// close writes what is queued and closes the files.
func (s *fileSink) close() {
	close(s.queue)
	<-s.done
}

func (s *fileSink) run() {
	defer close(s.done)
	for batch := range s.queue {
		s.write(batch)
	}
	for _, f := range s.files {
		s.closeFile(f)
	}
}

func (s *fileSink) write(batch []Entry) {
	var line []byte
	failed := 0
	for i := range batch {
		e := &batch[i]
		f, err := s.file(e.Gateway)
		if err == nil {
			line, err = json.Marshal(fileEntry{Entry: e})
		}
		if err == nil {
			line = append(line, '\n')
			err = s.append(f, line)
		}
		if err != nil {
			failed++
			if failed == 1 {
				s.log.Error("access log files: write failed", "gateway", e.Gateway, "err", err)
			}
			if f != nil {
				// Opened again on the next entry: a failed rotation
				// must not leave the gateway without a file for good.
				s.closeFile(f)
				delete(s.files, e.Gateway)
			}
		}
	}
	s.dropped.Add(float64(failed))
	for name, f := range s.files {
		if err := f.w.Flush(); err != nil {
			s.log.Error("access log files: write failed", "file", f.path, "err", err)
		}
		if len(s.files) > maxOpenFiles && !f.used {
			s.closeFile(f)
			delete(s.files, name)
		}
		f.used = false
	}
}

// file returns the open file of gateway, opening it on first use.
func (s *fileSink) file(gateway string) (*logFile, error) {
	if f := s.files[gateway]; f != nil {
		f.used = true
		return f, nil
	}
	if !gatewayFileName.MatchString(gateway) {
		return nil, fmt.Errorf("gateway name %q is no file name", gateway)
	}
	path := filepath.Join(s.opts.Dir, strings.Replace(gateway, "/", "_", 1)+".jsonl")
	f := &logFile{path: path, used: true}
	if err := f.open(); err != nil {
		return nil, err
	}
	s.files[gateway] = f
	return f, nil
}

func (f *logFile) open() error {
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return err
	}
	f.f, f.w, f.size = file, bufio.NewWriterSize(file, 64<<10), st.Size()
	return nil
}

// append writes one line, rotating first if it would take the file past
// MaxBytes (a line longer than that gets a file of its own).
func (s *fileSink) append(f *logFile, line []byte) error {
	if f.size > 0 && f.size+int64(len(line)) > s.opts.MaxBytes {
		if err := s.rotate(f); err != nil {
			return err
		}
	}
	n, err := f.w.Write(line)
	f.size += int64(n)
	return err
}

// rotate closes f, shifts <path>.1 .. <path>.N up by one (dropping the
// oldest past MaxFiles), moves f to <path>.1 and opens a new f.
func (s *fileSink) rotate(f *logFile) error {
	if err := f.w.Flush(); err != nil {
		return err
	}
	err := f.f.Close()
	f.f = nil
	if err != nil {
		return err
	}
	if err := os.Remove(f.path + "." + strconv.Itoa(s.opts.MaxFiles)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for i := s.opts.MaxFiles - 1; i >= 1; i-- {
		from := f.path + "." + strconv.Itoa(i)
		if err := os.Rename(from, f.path+"."+strconv.Itoa(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(f.path, f.path+".1"); err != nil {
		return err
	}
	return f.open()
}

func (s *fileSink) closeFile(f *logFile) {
	if f.f == nil {
		return
	}
	err := errors.Join(f.w.Flush(), f.f.Close())
	f.f = nil
	if err != nil && !errors.Is(err, os.ErrClosed) {
		s.log.Error("access log files: close failed", "file", f.path, "err", err)
	}
}
