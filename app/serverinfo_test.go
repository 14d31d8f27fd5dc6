package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestNoFirstAdmin: the desktop's configuration creates no password account
// on a fresh data directory and prints no password.
func TestNoFirstAdmin(t *testing.T) {
	var notices bytes.Buffer
	svc := New(Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: &notices, NoFirstAdmin: true})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	if n, err := svc.Store().CountUsers(context.Background()); err != nil || n != 0 || notices.Len() != 0 {
		t.Errorf("users %d (%v), notices %q", n, err, notices.String())
	}
}

// TestServerInfoReportsTheRealADSAddress: the address clients are told is
// the one ADS listens on, port chosen at start included, with its CA.
func TestServerInfoReportsTheRealADSAddress(t *testing.T) {
	svc := New(Config{DataDir: t.TempDir(), ADSListen: "127.0.0.1:0", NoDemo: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: io.Discard})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	info, err := svc.ServerInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ads := info.ADS
	if ads.Address != svc.ADSAddr().String() || ads.Listen != svc.ADSAddr().String() || ads.SandboxOnly || ads.Plaintext ||
		!strings.Contains(ads.CA, "BEGIN CERTIFICATE") || len(ads.ServerNames) == 0 {
		t.Errorf("server info %+v, ADS at %s", ads, svc.ADSAddr())
	}
}
