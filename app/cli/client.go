package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/model"
)

// client talks to a routedeck server's API.
type client struct {
	base  string // server URL without trailing slash
	token string
	http  *http.Client
}

func (o *options) client() (*client, error) {
	if o.server == "" {
		return nil, fmt.Errorf("no server: set --server or %s", EnvServer)
	}
	token := o.token
	if token == "" {
		token = os.Getenv(EnvToken)
	}
	if token == "" {
		return nil, fmt.Errorf("no token: set --token or %s (create one with: routedeck token create --name NAME --role editor)", EnvToken)
	}
	transport, err := o.transport()
	if err != nil {
		return nil, err
	}
	// The server lets its long endpoints (publish with its route tests, a
	// deploy waiting for a cluster) answer within api.DefaultTimeouts().Long
	// and cuts every other answer off sooner itself; waiting a little longer
	// than that never gives up on an answer still coming.
	timeout := api.DefaultTimeouts().Long + 30*time.Second
	return &client{base: strings.TrimRight(o.server, "/"), token: token,
		http: &http.Client{Timeout: timeout, Transport: transport}}, nil
}

// transport is the default one, trusting --ca-file's certificates as well
// as the system's, for a server whose certificate a private CA signed.
func (o *options) transport() (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if o.caFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", o.caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

// codeByStatus inverts the API's status table so server errors keep their
// kind (a stale write is still ECONFLICT on this side).
var codeByStatus = map[int]string{
	http.StatusBadRequest:   model.EINVALID,
	http.StatusUnauthorized: model.EUNAUTHORIZED,
	http.StatusForbidden:    model.EFORBIDDEN,
	http.StatusNotFound:     model.ENOTFOUND,
	http.StatusConflict:     model.ECONFLICT,
}

// do sends a request to /api/v1 + path. A non-nil in is sent as JSON; a
// non-nil out receives the JSON answer. Error answers become *model.Error
// carrying the problem's detail and field errors.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, redactedURL(c.base), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return problemError(resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if p, ok := out.(*[]byte); ok {
		*p = raw
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// listAll fetches every item of a list, following the cursor each page
// gives to the next, in the largest pages the server allows.
func (c *client) listAll(ctx context.Context, path string) ([]json.RawMessage, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var items []json.RawMessage
	next := ""
	for {
		p := path + sep + "limit=" + strconv.Itoa(maxPage)
		if next != "" {
			p += "&cursor=" + url.QueryEscape(next)
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
			Next  string            `json:"next"`
		}
		if err := c.do(ctx, "GET", p, nil, &page); err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if page.Next == "" || len(page.Items) == 0 {
			return items, nil
		}
		next = page.Next
	}
}

// maxPage is the page size the CLI asks for; the server cuts it to its own
// cap and the cursors carry on from there.
const maxPage = 1000

// writeJSONList prints a whole list in the shape of one page of the API
// with every item in it.
func writeJSONList(w io.Writer, items []json.RawMessage) error {
	if items == nil {
		items = []json.RawMessage{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"items": items, "total": len(items)})
}

func problemError(status int, raw []byte) error {
	var p struct {
		Detail string             `json:"detail"`
		Errors []model.FieldError `json:"errors"`
	}
	_ = json.Unmarshal(raw, &p)
	code, ok := codeByStatus[status]
	if !ok {
		code = model.EINTERNAL
	}
	msg := p.Detail
	if msg == "" {
		msg = strings.TrimSpace(string(raw))
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &model.Error{Code: code, Message: fmt.Sprintf("server said %d %s: %s", status, http.StatusText(status), msg), Fields: p.Errors}
}

// redactedURL is the server URL as errors show it: a password in it (a
// proxy's basic auth, say) is masked.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the server"
	}
	return u.Redacted()
}
