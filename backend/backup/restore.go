package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/routedeck/routedeck/backend/atomicfile"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
)

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Force restores into a data directory that holds files already:
	// the backup's files replace those of the same names. The server of
	// that directory must be stopped.
	Force bool
	// KeyFile is a master key file (the old data directory's master.key)
	// for a backup that does not include its key. It is copied into the
	// new data directory.
	KeyFile string
	// Getenv is the environment the restored server will read its master
	// key from (nil means os.Getenv): a key in ROUTEDECK_MASTER_KEY takes
	// precedence over any file, there as here.
	Getenv func(string) string
	// MaxBytes bounds the unpacked files; 0 means DefaultMaxBytes.
	MaxBytes int64
}

// Restore unpacks the archive r into dataDir. Nothing is written to
// dataDir until the whole archive has been read into a private directory
// beside it and checked: every checksum, the database's integrity and
// schema (one this version can open), that the master key the restored
// server will have opens its secrets and its CA, and the request log's
// integrity. dataDir must not exist or be empty, unless opts.Force.
func Restore(ctx context.Context, r io.Reader, dataDir string, opts RestoreOptions) (Manifest, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return Manifest{}, fmt.Errorf("restore: %w", err)
	}
	if err := checkTarget(abs, opts.Force); err != nil {
		return Manifest{}, err
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return Manifest{}, fmt.Errorf("restore: %w", err)
	}
	staging, err := os.MkdirTemp(parent, "."+filepath.Base(abs)+".restore-*")
	if err != nil {
		return Manifest{}, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(staging) // gone once renamed into place
	m, err := stage(ctx, r, staging, opts)
	if err != nil {
		return m, fmt.Errorf("restore: %w; nothing was written to %s", err, dataDir)
	}
	if err := install(staging, abs, m, opts.Force); err != nil {
		return m, fmt.Errorf("restore into %s: %w", dataDir, err)
	}
	return m, nil
}

// checkTarget refuses a data directory that is in use, or a file.
func checkTarget(dir string, force bool) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("restore: %s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if len(entries) > 0 && !force {
		names := make([]string, 0, 3)
		for _, e := range entries[:min(3, len(entries))] {
			names = append(names, e.Name())
		}
		return fmt.Errorf("restore: %s is not empty (%s...): restore into a new data directory, "+
			"or stop its server and give --force to replace its files", dir, strings.Join(names, ", "))
	}
	return nil
}

// stage unpacks and checks the archive in dir.
func stage(ctx context.Context, r io.Reader, dir string, opts RestoreOptions) (Manifest, error) {
	m, err := readArchive(r, opts.MaxBytes, func(fi FileInfo) (io.WriteCloser, error) {
		path := filepath.Join(dir, filepath.FromSlash(fi.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	})
	if err != nil {
		return m, err
	}
	keys, err := stageKeys(dir, m, opts)
	if err != nil {
		return m, err
	}
	info, err := store.InspectSnapshot(ctx, filepath.Join(dir, DBFile))
	if err != nil {
		return m, err
	}
	if info.SchemaVersion != m.SchemaVersion || info.KeyID != m.KeyID {
		return m, fmt.Errorf("the manifest says schema %d and key %q, the database has schema %d and key %q",
			m.SchemaVersion, m.KeyID, info.SchemaVersion, info.KeyID)
	}
	if err := info.CheckKeys(keys); err != nil {
		return m, err
	}
	if m.Has(CAFile) {
		// Opening the CA unseals its keys: a CA the key cannot open would
		// leave every proxy certificate unverifiable.
		if _, err := pki.Open(dir, keys, pki.Options{}); err != nil {
			return m, err
		}
	}
	if m.Has(AccessLogFile) {
		if err := store.CheckIntegrity(ctx, filepath.Join(dir, AccessLogFile)); err != nil {
			return m, err
		}
	}
	return m, nil
}

// stageKeys places the master key the restored server will use and
// returns it: from the environment if it is set there (the server reads
// it first too), else the backup's own key file, else opts.KeyFile.
func stageKeys(dir string, m Manifest, opts RestoreOptions) (*seal.Keyring, error) {
	fromEnv := strings.TrimSpace(opts.Getenv(seal.EnvMasterKey)) != ""
	switch {
	case m.IncludesKey && opts.KeyFile != "":
		return nil, errors.New("the backup includes its master key; --key-file is for backups without one")
	case opts.KeyFile != "":
		raw, err := readKeyFile(opts.KeyFile)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, KeyFile), raw, 0o600); err != nil {
			return nil, err
		}
	case !m.IncludesKey && !fromEnv:
		return nil, fmt.Errorf("the backup does not include its master key (%s): give the old data directory's %s with --key-file, or set %s",
			m.KeyID, KeyFile, seal.EnvMasterKey)
	}
	keys, err := seal.Open(dir, opts.Getenv)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return keys, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--key-file: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("--key-file: %w", err)
	}
	if len(raw) > maxKeyFile {
		return nil, fmt.Errorf("--key-file %s: larger than a key file can be", path)
	}
	return raw, nil
}

// install moves the staged files into dataDir: a missing directory is the
// staged one renamed, in one step; into an existing one each file is
// renamed over its namesake.
func install(staging, dataDir string, m Manifest, force bool) error {
	if _, err := os.Stat(dataDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(staging, dataDir); err != nil {
			return err
		}
		return atomicfile.SyncDir(filepath.Dir(dataDir))
	}
	// The directory may have filled since the first look.
	if err := checkTarget(dataDir, force); err != nil {
		return err
	}
	files := []string{}
	for _, f := range m.Files {
		files = append(files, f.Name)
	}
	if _, err := os.Stat(filepath.Join(staging, KeyFile)); err == nil && !m.IncludesKey {
		files = append(files, KeyFile) // from --key-file
	}
	for _, name := range files {
		from, to := filepath.Join(staging, filepath.FromSlash(name)), filepath.Join(dataDir, filepath.FromSlash(name))
		// A database's old WAL must go before the new file arrives: SQLite
		// would replay its frames into the restored database.
		if strings.HasSuffix(name, ".db") {
			for _, suffix := range []string{"-wal", "-shm", "-journal"} {
				if err := os.Remove(to + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			return err
		}
		if err := os.Rename(from, to); err != nil {
			return err
		}
		if err := atomicfile.SyncDir(filepath.Dir(to)); err != nil {
			return err
		}
	}
	return nil
}
