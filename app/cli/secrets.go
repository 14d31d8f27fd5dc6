package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
)

func newSecretsCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "secrets", Short: "Manage the master key that seals secrets in the data directory (offline)", Args: cobra.NoArgs}
	rotate := &cobra.Command{
		Use:   "rotate-key",
		Short: "Replace the master key and reseal every secret in the data directory with the new one",
		Long: `rotate-key generates a new master key, reseals every secret the database holds
with it in one transaction, and then retires the old key. Stop the server
first: a server still running holds the old key alone.

With the key in the data directory's key file, the file is replaced. With the
key in ` + seal.EnvMasterKey + `, the new key is printed once on stdout: set the
variable to it before the next start, and keep it with the backups of the
database, which it alone can open from now on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return rotateKey(cmd.Context(), o.dataDir, os.Getenv, o.stdout, o.stderr)
		},
	}
	cmd.AddCommand(rotate)
	return cmd
}

// rotateKey rotates the master key of dataDir. The order of the steps is
// what keeps a crash at any point from leaving a database no key can open:
//
//  1. The new key is made known before anything is sealed with it: with a
//     key file, the file is replaced (atomically) by one holding the new
//     key, which seals, and the old one, which still opens; with the
//     environment variable, the new key is printed.
//  2. Every secret is resealed under the new key in one transaction. A
//     crash before the commit leaves everything under the old key, which
//     the file still holds; after it, everything is under the new key,
//     which the file already holds.
//  3. Only then is the old key dropped from the file (atomically again). A
//     crash before this step leaves a file with both keys, which opens the
//     database just as well; running rotate-key again finishes the job.
func rotateKey(ctx context.Context, dataDir string, getenv func(string) string, stdout, stderr io.Writer) error {
	dbPath := filepath.Join(dataDir, app.DBFile)
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no database in %s: nothing to rotate", dataDir)
	} else if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	old, err := seal.Open(dataDir, getenv)
	if err != nil {
		return fmt.Errorf("rotate key: open master key: %w", err)
	}
	// Check the current key before touching anything: a wrong key must
	// not be rotated into a file that then holds two wrong keys.
	st, err := store.Open(ctx, dbPath, old)
	if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	st.Close()

	next, newKey, err := old.Rotated()
	if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	fromEnv := old.Source().Env
	if fromEnv {
		fmt.Fprintln(stdout, seal.EncodeKey(newKey))
		fmt.Fprintf(stderr, "the new master key is printed above, once: %s must be set to it before the next start\n", seal.EnvMasterKey)
	} else if err := next.WriteFile(dataDir); err != nil {
		return fmt.Errorf("rotate key: nothing changed: %w", err)
	}

	st, err = store.Open(ctx, dbPath, next)
	if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	n, err := st.Rekey(ctx)
	if err != nil {
		st.Close()
		if fromEnv {
			return fmt.Errorf("rotate key: %w (nothing was resealed: keep %s as it is and forget the printed key)", err, seal.EnvMasterKey)
		}
		return fmt.Errorf("rotate key: %w (nothing was resealed; the key file holds the old and the new key, either opens the database: run rotate-key again)", err)
	}
	// The old ciphertexts are still in free pages and the WAL; with the
	// old key retired they are harmless, but a leaked old key is often why
	// keys are rotated.
	if err := st.Compact(ctx); err != nil {
		fmt.Fprintf(stderr, "warning: the old ciphertexts may remain in free pages of the database: %v\n", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("rotate key: close database: %w", err)
	}
	// The CA's keys live beside the database, sealed with the same master
	// key: reseal them too before the old key is dropped, or the CA could
	// no longer sign or serve ADS.
	if _, err := os.Stat(filepath.Join(dataDir, pki.File)); err == nil {
		ca, err := pki.Open(dataDir, next, pki.Options{})
		if err == nil {
			err = ca.Reseal()
		}
		if err != nil {
			return fmt.Errorf("rotate key: the database is resealed, but the CA keys are not (the key file still holds both keys; run rotate-key again): %w", err)
		}
	}

	if !fromEnv {
		if err := next.CurrentOnly().WriteFile(dataDir); err != nil {
			return fmt.Errorf("rotate key: the database is resealed, but the old key could not be dropped from %s: %w", seal.KeyFile(dataDir), err)
		}
	}
	fmt.Fprintf(stderr, "resealed %s with master key %s (was %s)\n", plural(n, "row", "rows"), next.CurrentID(), old.CurrentID())
	if !fromEnv {
		fmt.Fprintf(stderr, "the new key is in %s: replace the backed-up copy of it\n", seal.KeyFile(dataDir))
	}
	return nil
}
