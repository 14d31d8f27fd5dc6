package routetest

import (
	"fmt"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// A test saved from a sandbox request on an authenticated route carries the
// credential it sent: an Authorization header, or the key in a route's API
// key header. The store keeps it sealed; an answer shows it as a
// fingerprint, as it shows the routes' own secrets, and a client that sends
// the fingerprint back keeps the stored value.

// alwaysCredentials are the headers that carry credentials whatever the
// routes say.
var alwaysCredentials = []string{"authorization", "proxy-authorization"}

// CredentialHeaders returns the lower-case names of the request headers
// that carry credentials on gateway: the standard ones and the header of
// every API key policy of the gateway's routes.
func CredentialHeaders(ws model.Workspace, gateway string) map[string]bool {
	names := make(map[string]bool, len(alwaysCredentials))
	for _, n := range alwaysCredentials {
		names[n] = true
	}
	for i := range ws.Routes {
		r := &ws.Routes[i]
		if r.Gateway != gateway {
			continue
		}
		if a := r.Then.Auth; a != nil && a.APIKey != nil && a.APIKey.Header != "" {
			names[strings.ToLower(a.APIKey.Header)] = true
		}
	}
	return names
}

// credentialValues calls f with the field path and a pointer to every value
// of t that credential headers name: in the request, and in the request
// headers the upstream is expected to receive.
func credentialValues(t *Test, names map[string]bool, f func(path string, v *string)) {
	for name, vs := range t.Request.Headers {
		if !names[strings.ToLower(name)] {
			continue
		}
		for i := range vs {
			f(fmt.Sprintf("request.headers.%s[%d]", name, i), &vs[i])
		}
	}
	for name, v := range t.Expect.RequestHeaders {
		if v != nil && names[strings.ToLower(name)] {
			f("expect.requestHeaders."+name, v)
		}
	}
}

// Redacted returns t as answers show it: each credential value (see
// CredentialHeaders) reads as its fingerprint. t itself is not changed.
func Redacted(t Test, names map[string]bool, fp model.Fingerprinter) Test {
	t.Request.Headers = t.Request.Headers.Clone()
	if t.Expect.RequestHeaders != nil {
		hs := make(map[string]*string, len(t.Expect.RequestHeaders))
		for k, v := range t.Expect.RequestHeaders {
			if v != nil {
				c := *v
				v = &c
			}
			hs[k] = v
		}
		t.Expect.RequestHeaders = hs
	}
	credentialValues(&t, names, func(_ string, v *string) {
		if !model.IsFingerprint(*v) {
			*v = fp.Fingerprint(*v)
		}
	})
	return t
}

// RestoreCredentials undoes Redacted on a test a client sends to replace
// stored (nil when there is none): a fingerprint in any header value is
// replaced, in place, by the value of stored that has it. A fingerprint
// that names no stored value is a problem on its field path: the client has
// to send the value itself.
func RestoreCredentials(t, stored *Test, fp model.Fingerprinter) error {
	known := map[string]string{}
	if stored != nil {
		remember := func(v string) {
			if !model.IsFingerprint(v) {
				known[fp.Fingerprint(v)] = v
			}
		}
		for _, vs := range stored.Request.Headers {
			for _, v := range vs {
				remember(v)
			}
		}
		for _, v := range stored.Expect.RequestHeaders {
			if v != nil {
				remember(*v)
			}
		}
	}
	var p model.Problems
	restore := func(path string, v *string) {
		if !model.IsFingerprint(*v) {
			return
		}
		if clear, ok := known[*v]; ok {
			*v = clear
			return
		}
		p.Add(path, "unknown fingerprint %s; send the value itself", *v)
	}
	// Every header, not only the credential ones: a fingerprint is never a
	// value to send, whichever header it was put in.
	every := allHeaders(t)
	credentialValues(t, every, restore)
	return p.Err()
}

// allHeaders names every header of t, for credentialValues.
func allHeaders(t *Test) map[string]bool {
	names := map[string]bool{}
	for name := range t.Request.Headers {
		names[strings.ToLower(name)] = true
	}
	for name := range t.Expect.RequestHeaders {
		names[strings.ToLower(name)] = true
	}
	return names
}

// hiddenCredential stands for a credential value in a failure report.
const hiddenCredential = "(a credential, not shown)"

// hideCredentials keeps credential values out of failures: a report goes
// to every role that may run the tests, and into publish errors.
func hideCredentials(failures []Mismatch, names map[string]bool) {
	for i := range failures {
		m := &failures[i]
		name, ok := strings.CutPrefix(m.Field, "requestHeaders.")
		if !ok || !names[strings.ToLower(name)] {
			continue
		}
		for _, v := range []*string{&m.Expected, &m.Actual} {
			if *v != absent {
				*v = hiddenCredential
			}
		}
	}
}
