package app

import (
	"context"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/alert"
)

// alertSource measures alert rules' windows on the request log.
type alertSource struct{ log *accesslog.Store }

func (a alertSource) Window(ctx context.Context, gateway, rule string, since, until time.Time) (alert.Stats, error) {
	w, err := a.log.Window(ctx, gateway, rule, since, until)
	return alert.Stats{Requests: w.Requests, Classes: w.Classes, P50: w.P50, P90: w.P90, P99: w.P99}, err
}

// startAlerts runs the alert evaluator on the request log, following the
// store's alert changes.
func (s *Service) startAlerts(reg prometheus.Registerer, scheme string) {
	opts := s.cfg.Alerts
	opts.Store = s.store
	opts.Source = alertSource{s.accessLog}
	opts.Logger = s.log
	opts.Changes = s.store.Events().Alerts.Subscribe()
	opts.Events = s.events
	if opts.ExternalURL == "" && s.cfg.Listen != "" {
		// The configured address, which links in notifications can use
		// unless it is a wildcard or an ephemeral port.
		if host, port, err := net.SplitHostPort(s.cfg.Listen); err == nil && port != "0" && host != "" &&
			!net.ParseIP(host).IsUnspecified() {
			opts.ExternalURL = scheme + "://" + s.cfg.Listen
		}
	}
	s.alerts = alert.New(opts)
	reg.MustRegister(s.alerts.Metrics().Collectors()...)
	s.alerts.Start()
}

// Alerts is the alert evaluator.
func (s *Service) Alerts() *alert.Evaluator { return s.alerts }
