package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/routedeck/routedeck/backend/atomicfile"
)

// EnvMasterKey names the environment variable that carries the master key
// (base64 of 32 bytes). During a rotation it may hold several keys
// separated by commas, the current one first.
const EnvMasterKey = "ROUTEDECK_MASTER_KEY"

// KeyFileName is the key file's name inside the data directory.
const KeyFileName = "master.key"

// Source says where a keyring's keys came from, which decides how a
// rotation hands the new key over.
type Source struct {
	// Env is set when the keys came from EnvMasterKey.
	Env bool
	// File is the key file's path when they came from a file.
	File string
}

func (s Source) String() string {
	switch {
	case s.Env:
		return "environment variable " + EnvMasterKey
	case s.File != "":
		return "key file " + s.File
	}
	return "memory"
}

// KeyFile returns the path of the key file in dataDir.
func KeyFile(dataDir string) string { return filepath.Join(dataDir, KeyFileName) }

// Open loads the master key(s): from EnvMasterKey when getenv returns it
// (nil getenv means os.Getenv), otherwise from the key file in dataDir,
// which is created with a fresh key and mode 0600 on first start. A key
// file that group or others can read is refused rather than used: the key
// opens every secret in the database.
func Open(dataDir string, getenv func(string) string) (*Keyring, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := strings.TrimSpace(getenv(EnvMasterKey)); v != "" {
		k, err := parseKeys(strings.Split(v, ","))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		k.source = Source{Env: true}
		return k, nil
	}
	path := KeyFile(dataDir)
	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = createKeyFile(dataDir, path)
	}
	if err != nil {
		return nil, err
	}
	k.source = Source{File: path}
	return k, nil
}

func parseKeys(texts []string) (*Keyring, error) {
	var keys [][]byte
	for i, t := range texts {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		key, err := DecodeKey(t)
		if err != nil {
			// Never echo the text: it may be a real key with one typo.
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	return New(keys[0], keys[1:]...)
}

func readKeyFile(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("master key file %s is not a regular file", path)
	}
	// Windows has no mode bits to check; its ACLs follow the directory.
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %04o: group or others can read it; run chmod 600 on it", path, st.Mode().Perm())
	}
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read master key file %s: %w", path, err)
	}
	k, err := parseKeys(lines)
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

func createKeyFile(dataDir, path string) (*Keyring, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	k, err := Generate()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process started at the same moment and won: use its key.
		return readKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	if _, err := f.Write(k.fileContent()); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("sync master key file: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("close master key file: %w", err)
	}
	if err := atomicfile.SyncDir(dataDir); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keyring) fileContent() []byte {
	var b bytes.Buffer
	b.WriteString("# routedeck master key. It opens every secret in the database next to it:\n")
	b.WriteString("# back it up with the database, and keep it out of reach of anyone else.\n")
	b.WriteString("# The first key seals; any later keys only open values sealed before a rotation.\n")
	b.WriteString(EncodeKey(k.current.raw) + "\n")
	for _, m := range k.previous {
		b.WriteString(EncodeKey(m.raw) + "\n")
	}
	return b.Bytes()
}

// WriteFile replaces the key file in dataDir with k's keys, atomically: the
// keys go to a temporary file in the same directory, which is synced and
// then renamed over the old one, and the directory is synced, so a crash
// leaves either the old file or the new one, never a torn one.
func (k *Keyring) WriteFile(dataDir string) error {
	if err := atomicfile.Write(KeyFile(dataDir), k.fileContent(), 0o600); err != nil {
		return fmt.Errorf("write master key file: %w", err)
	}
	return nil
}
