package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/store"
)

// logsOptions are the flags of `routedeck logs`.
type logsOptions struct {
	gateway, rule, status, host, path, since, until, output string
	limit                                                   int
	follow, sandbox                                         bool
}

func newLogsCmd(o *options) *cobra.Command {
	var lo logsOptions
	cmd := &cobra.Command{
		Use:   "logs --gateway G [--rule R] [--since 10m] [-f] [-o json]",
		Short: "Show the requests a gateway's proxies served",
		Long: `logs prints a gateway's request log, as its proxies report it: the most recent
requests (--limit, default 100) oldest first, each with the rule and the
published version that served it. With -f it then prints requests as they
arrive until interrupted.

Filters: --rule, --status (404, 5xx or 500-504), --host (exact), --path
(prefix), --since and --until (an RFC 3339 time or a duration before now such
as 10m). --sandbox shows the requests sent through the gateway's sandbox.
-o json prints one JSON object per line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if lo.gateway == "" {
				return errors.New("--gateway is required")
			}
			if lo.output != "table" && lo.output != "json" {
				return fmt.Errorf("-o %q: use table or json", lo.output)
			}
			if lo.limit < 1 {
				return errors.New("--limit must be at least 1")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			p := &logPrinter{w: o.stdout, json: lo.output == "json"}
			entries, err := lo.recent(cmd.Context(), c)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if err := p.print(e); err != nil {
					return err
				}
			}
			if !lo.follow {
				return nil
			}
			// The stream goes on from the newest entry printed, so none
			// stored meanwhile is missed; with none printed (and no
			// --since hiding older ones) from the start.
			after := ""
			if len(entries) > 0 {
				after = strconv.FormatInt(entries[len(entries)-1].ID, 10)
			} else if lo.since == "" {
				after = "0"
			}
			return lo.followLogs(cmd.Context(), c, p, after)
		},
	}
	f := cmd.Flags()
	f.StringVar(&lo.gateway, "gateway", "", "gateway whose requests to show (required)")
	f.StringVar(&lo.rule, "rule", "", "only requests this rule served")
	f.StringVar(&lo.status, "status", "", "only these status codes: 404, 5xx or 500-504")
	f.StringVar(&lo.host, "host", "", "only requests to this host")
	f.StringVar(&lo.path, "path", "", "only requests whose path starts with this")
	f.StringVar(&lo.since, "since", "", "only requests since this time or duration ago (10m)")
	f.StringVar(&lo.until, "until", "", "only requests before this time or duration ago")
	f.IntVar(&lo.limit, "limit", store.DefaultPageSize, "how many recent requests to print")
	f.BoolVarP(&lo.follow, "follow", "f", false, "keep printing requests as they arrive")
	f.BoolVar(&lo.sandbox, "sandbox", false, "the requests of the gateway's sandbox")
	f.StringVarP(&lo.output, "output", "o", "table", "output format: table or json (one object per line)")
	return cmd
}

func (lo *logsOptions) query(follow bool) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("rule", lo.rule)
	set("status", lo.status)
	set("host", lo.host)
	set("path", lo.path)
	if lo.sandbox {
		q.Set("sandbox", "true")
	}
	if follow {
		q.Set("follow", "true")
	} else {
		set("since", lo.since)
		set("until", lo.until)
	}
	return q
}

// recent fetches the newest --limit entries, page by page, and returns
// them oldest first.
func (lo *logsOptions) recent(ctx context.Context, c *client) ([]accesslog.Entry, error) {
	var out []accesslog.Entry
	q := lo.query(false)
	path := "/gateways/" + url.PathEscape(lo.gateway) + "/logs"
	for len(out) < lo.limit {
		q.Set("limit", strconv.Itoa(min(lo.limit-len(out), store.MaxPageSize)))
		var page struct {
			Items []accesslog.Entry `json:"items"`
			Next  string            `json:"next"`
		}
		if err := c.do(ctx, "GET", path+"?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		// A short page with a next is the server's bounded search
		// stopping, not the end.
		if page.Next == "" {
			break
		}
		q.Set("cursor", page.Next)
	}
	slices.Reverse(out)
	return out, nil
}

// followLogs reads the server's event stream until ctx ends, resuming
// after the last entry it printed when the server ends a stream.
func (lo *logsOptions) followLogs(ctx context.Context, c *client, p *logPrinter, lastID string) error {
	// The stream is as long as the command runs: no overall timeout,
	// unlike the client's other requests.
	hc := &http.Client{Transport: c.http.Transport}
	u := c.base + "/api/v1/gateways/" + url.PathEscape(lo.gateway) + "/logs?" + lo.query(true).Encode()
	backoff := time.Second
	for {
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := hc.Do(req)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow %s: %w", redactedURL(c.base), err)
		}
		if resp.StatusCode != http.StatusOK {
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			return problemError(resp.StatusCode, raw)
		}
		got, err := readEvents(resp.Body, func(id string, data []byte) error {
			var e accesslog.Entry
			if err := json.Unmarshal(data, &e); err != nil {
				return fmt.Errorf("follow: bad entry from the server: %w", err)
			}
			lastID = id
			return p.print(e)
		})
		resp.Body.Close()
		if ctx.Err() != nil {
			return nil
		}
		var perr *printError
		if errors.As(err, &perr) {
			return perr.err
		}
		if got {
			backoff = time.Second
		}
		// The server ended the stream (its time limit, a restart): go
		// on from the last entry printed.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// printError is a failure to print (stdout closed), which ends the
// command rather than reconnecting.
type printError struct{ err error }

func (e *printError) Error() string { return e.err.Error() }

// readEvents reads server-sent events, calling fn for each "entry"; it
// reports whether any arrived.
func readEvents(r io.Reader, fn func(id string, data []byte) error) (bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id, event string
	var data []byte
	got := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "entry" && len(data) > 0 {
				if err := fn(id, data); err != nil {
					return got, &printError{err}
				}
				got = true
			}
			id, event, data = "", "", nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[6:]...)
		}
	}
	return got, sc.Err()
}

// logPrinter prints entries as table rows or JSON lines.
type logPrinter struct {
	w      io.Writer
	json   bool
	header bool
}

func (p *logPrinter) print(e accesslog.Entry) error {
	if p.json {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	if !p.header {
		p.header = true
		if _, err := fmt.Fprintf(p.w, "%-24s %-6s %-7s %-24s %-32s %-20s %-8s %9s  %s\n",
			"TIME", "STATUS", "METHOD", "HOST", "PATH", "RULE", "VERSION", "DURATION", "UPSTREAM"); err != nil {
			return err
		}
	}
	rule := e.Rule
	if rule == "" {
		rule = "-"
	}
	upstream := e.UpstreamCluster
	if e.ResponseFlags != "" {
		upstream = strings.TrimSpace(upstream + " " + e.ResponseFlags)
	}
	if upstream == "" {
		upstream = "-"
	}
	_, err := fmt.Fprintf(p.w, "%-24s %-6d %-7s %-24s %-32s %-20s %-8s %8.1fms  %s\n",
		e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), e.Status, clipCol(e.Method, 7), clipCol(e.Host, 24), clipCol(e.Path, 32),
		clipCol(rule, 20), clipCol(e.Version, 8), e.DurationMs, clipCol(upstream, 64))
	return err
}

// clipCol keeps a table column to its width (-o json has everything)
// and shows control characters, which a client may have put in its
// request to reach the operator's terminal, as U+FFFD.
func clipCol(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if unicode.IsControl(c) {
			r[i] = '\uFFFD'
		}
	}
	if len(r) > n {
		r = append(r[:n-1], '…')
	}
	return string(r)
}
