// Package backup writes and restores backups of a data directory: one
// gzip-compressed tar archive holding a manifest, a consistent snapshot
// of the database, the CA (its key sealed under the master key), and on
// request the master key and the request log.
//
// Secrets stay sealed in a backup: the database's rows are copied as
// stored, never opened. A backup without the master key is therefore
// useless to whoever steals it, and equally to whoever restores it
// without the key; the key is only included when asked for, and only by
// a backup taken on the data directory itself, never over the API.
package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/strictjson"
)

// The files of a data directory, by their path inside it; an archive names
// its members the same way.
const (
	DBFile        = "routedeck.db"
	AccessLogFile = "accesslog.db"
	KeyFile       = seal.KeyFileName
	CAFile        = pki.File
)

// members are the files an archive may hold after its manifest, in the
// order they are written.
var members = []string{DBFile, CAFile, KeyFile, AccessLogFile}

const (
	// Format and FormatVersion identify the archive layout; a reader
	// refuses any other.
	Format        = "routedeck-backup"
	FormatVersion = 1
	manifestName  = "manifest.json"
	// maxManifest bounds the manifest, which is read into memory.
	maxManifest = 64 << 10
	// maxKeyFile bounds a key file read for a restore.
	maxKeyFile = 64 << 10
	// DefaultMaxBytes bounds the files a restore unpacks, so a hostile
	// archive cannot fill the disk beyond what a real data directory
	// would take.
	DefaultMaxBytes = 64 << 30
)

// Manifest is the first member of an archive.
type Manifest struct {
	Format        string    `json:"format"`
	FormatVersion int       `json:"formatVersion"`
	CreatedAt     time.Time `json:"createdAt"`
	// SchemaVersion is the database's newest migration.
	SchemaVersion int `json:"schemaVersion"`
	// KeyID names the master key the secrets are sealed with.
	KeyID string `json:"keyId,omitempty"`
	// IncludesKey says whether the master key file is in the archive.
	IncludesKey bool       `json:"includesKey"`
	Files       []FileInfo `json:"files"`
}

// FileInfo describes one member after the manifest.
type FileInfo struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Has reports whether the archive holds the member name.
func (m Manifest) Has(name string) bool {
	return slices.ContainsFunc(m.Files, func(f FileInfo) bool { return f.Name == name })
}

// Source is the data directory a backup is taken from.
type Source struct {
	DataDir string
	// Store is the open store of the server serving DataDir; nil opens
	// the database file read-only (offline, or beside a running server:
	// WAL lets both read while it writes).
	Store *store.Store
	// Getenv is the environment the master key may come from (nil means
	// os.Getenv), for IncludeKey.
	Getenv func(string) string
}

// Options choose what a backup includes beyond the database and the CA.
type Options struct {
	// IncludeKey adds the master key file. Whoever holds such a backup
	// can open every secret in it.
	IncludeKey bool
	// IncludeAccessLog adds a snapshot of the request log database.
	IncludeAccessLog bool
	// Now is the clock of the manifest's CreatedAt.
	Now func() time.Time
}

// Write takes a backup of src and writes the archive to w. The snapshots
// are taken into a private temporary directory inside the data directory
// first, so nothing reaches w unless every part was read.
func Write(ctx context.Context, w io.Writer, src Source, opts Options) (Manifest, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	tmp, err := os.MkdirTemp(src.DataDir, ".backup-*")
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	m, err := collect(ctx, tmp, src, opts)
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: %w", err)
	}
	if err := writeArchive(w, tmp, m); err != nil {
		return Manifest{}, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

// collect puts every member into dir and returns their manifest.
func collect(ctx context.Context, dir string, src Source, opts Options) (Manifest, error) {
	m := Manifest{Format: Format, FormatVersion: FormatVersion, CreatedAt: opts.Now().UTC().Truncate(time.Second)}
	db := filepath.Join(dir, DBFile)
	var err error
	if src.Store != nil {
		err = src.Store.Snapshot(ctx, db)
	} else {
		err = store.SnapshotFile(ctx, filepath.Join(src.DataDir, DBFile), db)
	}
	if err != nil {
		return m, err
	}
	info, err := store.InspectSnapshot(ctx, db)
	if err != nil {
		return m, err
	}
	m.SchemaVersion, m.KeyID = info.SchemaVersion, info.KeyID
	if err := copyIfExists(filepath.Join(src.DataDir, CAFile), filepath.Join(dir, CAFile)); err != nil {
		return m, err
	}
	if opts.IncludeKey {
		if err := includeKey(src, dir, info); err != nil {
			return m, err
		}
		m.IncludesKey = true
	}
	if opts.IncludeAccessLog {
		from := filepath.Join(src.DataDir, AccessLogFile)
		if _, err := os.Stat(from); err != nil {
			return m, fmt.Errorf("request log: %w", err)
		}
		if err := store.SnapshotFile(ctx, from, filepath.Join(dir, AccessLogFile)); err != nil {
			return m, fmt.Errorf("request log: %w", err)
		}
	}
	for _, name := range members {
		fi, err := hashFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return m, err
		}
		fi.Name = name
		m.Files = append(m.Files, fi)
	}
	return m, nil
}

// includeKey copies the key file, after checking it opens the snapshot's
// secrets. A key from the environment is not copied: it is kept wherever
// that variable is kept, and a file written from it would be a second
// copy nobody asked for.
func includeKey(src Source, dir string, info store.SnapshotInfo) error {
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if strings.TrimSpace(getenv(seal.EnvMasterKey)) != "" {
		return fmt.Errorf("the master key comes from %s, not from a file: keep it where that variable is kept; a backup cannot include it", seal.EnvMasterKey)
	}
	from := seal.KeyFile(src.DataDir)
	if _, err := os.Stat(from); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	keys, err := seal.Open(src.DataDir, func(string) string { return "" })
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if err := info.CheckKeys(keys); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	return copyIfExists(from, filepath.Join(dir, KeyFile))
}

func copyIfExists(from, to string) error {
	raw, err := os.ReadFile(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return os.WriteFile(to, raw, 0o600)
}

func hashFile(path string) (FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileInfo{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileInfo{}, fmt.Errorf("read %s: %w", path, err)
	}
	return FileInfo{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func writeArchive(w io.Writer, dir string, m Manifest) error {
	// Fast compression: a database compresses well enough at the lowest
	// level, and a server streaming a backup has other work to do.
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(header(manifestName, int64(len(raw)), m.CreatedAt)); err != nil {
		return err
	}
	if _, err := tw.Write(raw); err != nil {
		return err
	}
	for _, fi := range m.Files {
		if err := writeMember(tw, filepath.Join(dir, fi.Name), fi, m.CreatedAt); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func writeMember(tw *tar.Writer, path string, fi FileInfo, at time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(header(fi.Name, fi.Size, at)); err != nil {
		return err
	}
	// The file was hashed already and nothing else writes to it: copying
	// exactly Size bytes keeps header and content in step.
	if _, err := io.CopyN(tw, f, fi.Size); err != nil {
		return fmt.Errorf("write %s: %w", fi.Name, err)
	}
	return nil
}

func header(name string, size int64, at time.Time) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: at, Format: tar.FormatPAX}
}

// readArchive reads an archive, checking its manifest and every member's
// size and hash, and hands each member's content to open's writer. The
// error names the first problem; a member that fails its hash has been
// partly written by then, so callers write into a scratch place.
func readArchive(r io.Reader, maxBytes int64, open func(FileInfo) (io.WriteCloser, error)) (Manifest, error) {
	var m Manifest
	zr, err := gzip.NewReader(r)
	if err != nil {
		return m, fmt.Errorf("not a routedeck backup (gzip): %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil {
		return m, fmt.Errorf("not a routedeck backup (tar): %w", err)
	}
	if hdr.Name != manifestName || hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifest {
		return m, fmt.Errorf("not a routedeck backup: it must start with %s", manifestName)
	}
	raw, err := io.ReadAll(io.LimitReader(tr, maxManifest))
	if err != nil {
		return m, fmt.Errorf("read %s: %w", manifestName, err)
	}
	if err := strictjson.Decode(raw, &m); err != nil {
		return m, fmt.Errorf("%s: %w", manifestName, err)
	}
	if err := m.validate(maxBytes); err != nil {
		return m, err
	}
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i != len(m.Files) {
				return m, fmt.Errorf("archive ends after %d of the %d files its manifest lists: it is truncated", i, len(m.Files))
			}
			return m, nil
		}
		if err != nil {
			return m, fmt.Errorf("read archive: %w", err)
		}
		if i >= len(m.Files) {
			return m, fmt.Errorf("archive member %q is not in its manifest", hdr.Name)
		}
		fi := m.Files[i]
		if hdr.Name != fi.Name || hdr.Typeflag != tar.TypeReg || hdr.Size != fi.Size {
			return m, fmt.Errorf("archive member %d is %q (%d bytes), but the manifest says %q (%d bytes)", i+1, hdr.Name, hdr.Size, fi.Name, fi.Size)
		}
		if err := readMember(tr, fi, open); err != nil {
			return m, err
		}
	}
}

func readMember(tr *tar.Reader, fi FileInfo, open func(FileInfo) (io.WriteCloser, error)) error {
	w, err := open(fi)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), tr)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", fi.Name, err)
	}
	if n != fi.Size || hex.EncodeToString(h.Sum(nil)) != fi.SHA256 {
		return fmt.Errorf("%s does not match its checksum in the manifest: the backup is damaged", fi.Name)
	}
	return nil
}

// validate checks a manifest read from an archive, reporting every
// problem at once.
func (m Manifest) validate(maxBytes int64) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if m.Format != Format {
		add("format: %q is not %q", m.Format, Format)
	}
	if m.FormatVersion != FormatVersion {
		add("formatVersion: %d is not supported (this version of routedeck reads %d)", m.FormatVersion, FormatVersion)
	}
	if m.SchemaVersion <= 0 {
		add("schemaVersion: must be positive")
	}
	var total int64
	next := 0 // members must come in their fixed order, each at most once
	for i, f := range m.Files {
		at := slices.Index(members, f.Name)
		switch {
		case at < 0:
			add("files[%d].name: %q is not a file of a data directory", i, f.Name)
		case at < next:
			add("files[%d].name: %q is repeated or out of order", i, f.Name)
		default:
			next = at + 1
		}
		if f.Size < 0 {
			add("files[%d].size: must not be negative", i)
		}
		total += max(f.Size, 0)
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size {
			add("files[%d].sha256: not a SHA-256 in hex", i)
		}
	}
	if total > maxBytes {
		add("files: %d bytes in all, more than the %d a restore accepts", total, maxBytes)
	}
	if !m.Has(DBFile) {
		add("files: no %s", DBFile)
	}
	if m.IncludesKey != m.Has(KeyFile) {
		add("includesKey: %v, but %s is %s the files", m.IncludesKey, KeyFile, map[bool]string{true: "among", false: "not among"}[m.Has(KeyFile)])
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", manifestName, strings.Join(problems, "; "))
	}
	return nil
}

// Verify reads a whole archive and checks its manifest and every file's
// checksum, without unpacking it: what a backup command does with what it
// downloaded before keeping it.
func Verify(r io.Reader) (Manifest, error) {
	return readArchive(r, DefaultMaxBytes, func(FileInfo) (io.WriteCloser, error) { return nopCloser{io.Discard}, nil })
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// keyNote is what an operator must know about the master key of a backup.
func (m Manifest) keyNote() string {
	if m.IncludesKey {
		return "the backup INCLUDES the master key: whoever holds it can open every secret in it; store it like the key itself"
	}
	return fmt.Sprintf("the master key is NOT in the backup: its secrets are sealed with key %s, and a restore needs that key "+
		"(the data directory's %s, or %s)", m.KeyID, KeyFile, seal.EnvMasterKey)
}

// Summary is one paragraph for the operator about a backup: what it holds
// and what it needs.
func (m Manifest) Summary() string {
	var b bytes.Buffer
	names := make([]string, len(m.Files))
	for i, f := range m.Files {
		names[i] = fmt.Sprintf("%s (%d bytes)", f.Name, f.Size)
	}
	fmt.Fprintf(&b, "backup of %s, schema version %d: %s.\n", m.CreatedAt.Format(time.RFC3339), m.SchemaVersion, strings.Join(names, ", "))
	b.WriteString(m.keyNote())
	b.WriteString(".")
	return b.String()
}
