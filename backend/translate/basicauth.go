package translate

import (
	"crypto/sha1"
	"encoding/base64"
	"maps"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	basicauthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"

	"github.com/routedeck/routedeck/backend/model"
)

// basicAuthPolicy checks user names and passwords (then.auth.basic) with
// Envoy's basic_auth filter. The HCM filter is off and each route that
// uses it switches it on with its own users.
var basicAuthPolicy = httpPolicy{
	filter: "envoy.filters.http.basic_auth",
	perRoute: func(r *model.Route, _ map[string]*model.Upstream, problems *model.Problems) (validatable, string, any) {
		if r.Then.Auth == nil || r.Then.Auth.Basic == nil {
			return nil, "", nil
		}
		return basicAuth(r.Then.Auth.Basic, problems), "then.auth.basic", nil
	},
	hcm: func(map[string]any) (validatable, bool) {
		// The per-route user list replaces this one. Envoy refuses an
		// empty list, so it gets a placeholder that no route ever uses.
		return &basicauthv3.BasicAuth{Users: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineString{InlineString: basicAuthPlaceholder},
		}}, true
	},
	key: func(e *keyEncoder, a *model.Action) {
		var b *model.BasicAuth
		if a.Auth != nil {
			b = a.Auth.Basic
		}
		if e.present(b != nil) {
			e.strMap(b.Users)
		}
	},
}

// basicAuthPlaceholder is an htpasswd line for a user no one can log in as
// through the HCM-level config (it is disabled; routes bring their own users).
const basicAuthPlaceholder = "routedeck-unused:{SHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA="

// basicAuth renders users as htpasswd lines. Envoy accepts only SHA-1
// ("{SHA}base64") hashes, so clear-text passwords are hashed here.
func basicAuth(b *model.BasicAuth, problems *model.Problems) *basicauthv3.BasicAuthPerRoute {
	if len(b.Users) == 0 {
		problems.Add("then.auth.basic.users", "list at least one user")
	}
	var lines []string
	for _, user := range slices.Sorted(maps.Keys(b.Users)) {
		if strings.ContainsAny(user, ":\n") {
			problems.Add("then.auth.basic.users."+user, "user names must not contain ':' or newlines")
			continue
		}
		lines = append(lines, user+":"+htpasswdHash(b.Users[user]))
	}
	return &basicauthv3.BasicAuthPerRoute{Users: &corev3.DataSource{
		Specifier: &corev3.DataSource_InlineString{InlineString: strings.Join(lines, "\n")},
	}}
}

// htpasswdHash is the htpasswd form of a basic-auth password: as given when
// it is already a "{SHA}" hash, else its SHA-1 hash in that form.
func htpasswdHash(pw string) string {
	if strings.HasPrefix(pw, "{SHA}") {
		return pw
	}
	sum := sha1.Sum([]byte(pw))
	return "{SHA}" + base64.StdEncoding.EncodeToString(sum[:])
}
