package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/atomicfile"
	"github.com/routedeck/routedeck/backend/backup"
)

func newBackupCmd(o *options) *cobra.Command {
	var out string
	var offline, includeKey, accessLog bool
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a backup of a server's data (through its API, admin token) or of --data-dir (--offline)",
		Long: `backup writes one file (a gzip tar) holding a consistent snapshot of the
database, taken while the server keeps serving, and the CA that issued the
proxies' certificates; with --access-log also the request log. The file
is written under a temporary name and renamed once complete and checked.

Secrets stay sealed in the backup under the master key, which it does not
include: keep the data directory's master.key (or ROUTEDECK_MASTER_KEY)
safe apart from it, because a restore needs it. --include-key (with
--offline only: a server never sends its key) puts the key file in the
backup; whoever holds such a file can then open every secret.

Restore with "routedeck restore --from FILE --data-dir NEW_DIR".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			if includeKey && !offline {
				return fmt.Errorf("--include-key needs --offline: a server never sends its master key; run the backup on its host with --data-dir")
			}
			ctx := cmd.Context()
			var write func(io.Writer) error
			if offline {
				write = func(w io.Writer) error {
					_, err := backup.Write(ctx, w, backup.Source{DataDir: o.dataDir},
						backup.Options{IncludeKey: includeKey, IncludeAccessLog: accessLog})
					return err
				}
			} else {
				c, err := o.client()
				if err != nil {
					return err
				}
				write = func(w io.Writer) error { return c.downloadBackup(ctx, w, accessLog) }
			}
			m, err := writeBackupFile(out, write)
			if err != nil {
				return err
			}
			fmt.Fprintf(o.stderr, "wrote %s: %s\n", out, m.Summary())
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write the backup to")
	cmd.Flags().BoolVar(&offline, "offline", false, "read --data-dir directly instead of asking the server (works while a server uses it)")
	cmd.Flags().BoolVar(&includeKey, "include-key", false, "with --offline: put the master key file in the backup (it then opens every secret)")
	cmd.Flags().BoolVar(&accessLog, "access-log", false, "include the request log database")
	return cmd
}

// writeBackupFile writes the archive under a temporary name, reads it back
// to check every checksum, and only then renames it to path: a backup
// that is there is whole.
func writeBackupFile(path string, write func(io.Writer) error) (backup.Manifest, error) {
	var m backup.Manifest
	err := atomicfile.WriteFunc(path, 0o600, func(w io.Writer) error {
		f, ok := w.(*os.File)
		if !ok {
			return fmt.Errorf("backup: cannot read back %s", path)
		}
		if err := write(f); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		var err error
		if m, err = backup.Verify(f); err != nil {
			return fmt.Errorf("backup written is damaged: %w", err)
		}
		return nil
	})
	return m, err
}

// downloadBackup streams GET /backup into w. The answer may take long, so
// no overall timeout applies: the server moves its write deadline as it
// sends, and ctx ends the wait.
func (c *client) downloadBackup(ctx context.Context, w io.Writer, accessLog bool) error {
	path := "/backup"
	if accessLog {
		path += "?accessLog=true"
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/gzip, application/problem+json")
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", redactedURL(c.base), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return problemError(resp.StatusCode, raw)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("download backup: %w", err)
	}
	return nil
}

func newRestoreCmd(o *options) *cobra.Command {
	var from, keyFile string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --from FILE --data-dir NEW_DIR",
		Short: "Restore a backup into a new data directory, after checking all of it",
		Long: `restore unpacks a backup written by "routedeck backup" into --data-dir,
which must not exist or be empty (--force replaces the files of a directory
whose server is stopped). Before anything is written there, the whole file
is read into a private directory beside it and checked: every checksum,
the database's integrity and schema, that the master key opens its
secrets and its CA, and the request log's integrity.

The master key is the backup's own if it includes one; otherwise give the
old data directory's master.key with --key-file (it is copied into the new
directory), or set ROUTEDECK_MASTER_KEY for the restore and for the server.

Then run "routedeck serve --data-dir NEW_DIR": it serves the published
versions of the backup to proxies, with the same CA.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return fmt.Errorf("--from is required")
			}
			if !cmd.Flags().Changed("data-dir") && os.Getenv(EnvDataDir) == "" {
				return fmt.Errorf("--data-dir is required: name the new data directory to restore into")
			}
			f, err := os.Open(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer f.Close()
			m, err := backup.Restore(cmd.Context(), f, o.dataDir, backup.RestoreOptions{Force: force, KeyFile: keyFile})
			if err != nil {
				return err
			}
			abs, _ := filepath.Abs(o.dataDir)
			fmt.Fprintf(o.stderr, "restored into %s: %s\n", abs, m.Summary())
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "backup file to restore")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "master key file for a backup that does not include its key")
	cmd.Flags().BoolVar(&force, "force", false, "restore into a data directory that is not empty, replacing its files (stop its server first)")
	return cmd
}
