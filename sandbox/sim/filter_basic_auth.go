package sim

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strings"

	basicauthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// basicAuthDef is the basic auth filter; a per-route BasicAuthPerRoute
// replaces its users.
var basicAuthDef = filterDef{
	kind:    filterBasicAuth,
	types:   []string{"type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth"},
	perType: "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute",
	compile: func(a *anypb.Any) (filterImpl, error) {
		m, err := unpackAny(a, &basicauthv3.BasicAuth{})
		if err != nil {
			return nil, err
		}
		return compileBasicAuth(m.GetUsers().GetInlineString())
	},
	compileRoute: func(a *anypb.Any) (filterImpl, error) {
		m, err := unpackAny(a, &basicauthv3.BasicAuthPerRoute{})
		if err != nil {
			return nil, err
		}
		return compileBasicAuth(m.GetUsers().GetInlineString())
	},
}

type basicAuth struct {
	users map[string]string // name -> base64 SHA-1 of the password
}

func compileBasicAuth(htpasswd string) (filterImpl, error) {
	b := &basicAuth{users: map[string]string{}}
	for i, line := range strings.Split(htpasswd, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		h, sha := strings.CutPrefix(hash, "{SHA}")
		if !ok || !sha {
			return nil, fmt.Errorf("users line %d: want name:{SHA}hash", i+1)
		}
		b.users[name] = h
	}
	return b, nil
}

func (b *basicAuth) decode(fc *filterCtx) *localReply {
	auth, _ := fc.req.Headers.Get("authorization")
	enc, ok := strings.CutPrefix(auth, "Basic ")
	if !ok {
		return &localReply{status: 401, body: "User authentication failed. Missing username and password.", by: "basic_auth"}
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	user, pass, found := strings.Cut(string(raw), ":")
	sum := sha1.Sum([]byte(pass))
	if err != nil || !found || b.users[user] == "" || b.users[user] != base64.StdEncoding.EncodeToString(sum[:]) {
		return &localReply{status: 401, body: "User authentication failed. Invalid username/password combination.", by: "basic_auth"}
	}
	fc.note("basic_auth: user %q", user)
	return nil
}
