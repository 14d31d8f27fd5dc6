package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// Backup writes a backup archive of the server's data directory to w: a
// consistent snapshot of the database taken while it keeps serving, the
// CA, and with accessLog the request log. Never the master key: an API
// token must not be a way to the key that opens every secret.
type Backup interface {
	WriteBackup(ctx context.Context, w io.Writer, accessLog bool) error
}

// backupWriteWindow is how long each write of a backup download may take.
// The deadline moves with every write, so a large backup streams for as
// long as it needs while a client that stops reading is cut off.
const backupWriteWindow = time.Minute

func (s *server) backup(w http.ResponseWriter, r *http.Request) {
	var p model.Problems
	if err := onlyQuery(r, "accessLog"); err != nil {
		s.writeError(w, r, err)
		return
	}
	accessLog := false
	switch v := r.URL.Query().Get("accessLog"); v {
	case "", "false":
	case "true":
		accessLog = true
	default:
		p.Add("accessLog", "must be true or false, not %q", v)
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.Backup == nil {
		s.writeError(w, r, notWired("backup"))
		return
	}
	d := &download{w: w, rc: http.NewResponseController(w),
		name: "routedeck-" + time.Now().UTC().Format("20060102T150405Z") + ".tar.gz"}
	if err := s.Backup.WriteBackup(r.Context(), d, accessLog); err != nil {
		if !d.started {
			s.writeError(w, r, err)
			return
		}
		// Half an archive has gone out: breaking the connection is the
		// only way left to tell the client, whose checksums would catch
		// it anyway.
		s.log.ErrorContext(r.Context(), "backup failed while streaming", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// download sends its headers with the first byte of the archive, so an
// error before then is still answered with a problem document.
type download struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	name    string
	started bool
}

func (d *download) Write(b []byte) (int, error) {
	if !d.started {
		d.started = true
		h := d.w.Header()
		h.Set("Content-Type", "application/gzip")
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", d.name))
		h.Set("Cache-Control", "no-store")
		d.w.WriteHeader(http.StatusOK)
	}
	_ = d.rc.SetWriteDeadline(time.Now().Add(backupWriteWindow))
	return d.w.Write(b)
}
