package app

import (
	"context"
	"io"

	"github.com/routedeck/routedeck/backend/backup"
	"github.com/routedeck/routedeck/backend/store"
)

// backupSource serves the API's backup downloads from the running
// server's store: the snapshot is taken on one of its read connections.
type backupSource struct {
	dataDir string
	store   *store.Store
}

func (b backupSource) WriteBackup(ctx context.Context, w io.Writer, accessLog bool) error {
	_, err := backup.Write(ctx, w, backup.Source{DataDir: b.dataDir, Store: b.store}, backup.Options{IncludeAccessLog: accessLog})
	return err
}
