package translate

import (
	"fmt"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacconfigv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	basicauthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/routedeck/routedeck/backend/model"
)

// Redacted returns copies of res in which no credential can be read, for
// showing the resources to people rather than to Envoy. The translator puts
// credentials in four places, and each reads as a fingerprint instead: the
// private keys of TLS certificates, the password hashes of basic-auth
// users, the header values (API keys) RBAC principals match, and inline
// JWKS that hold key material. ws is the
// workspace res was translated from: a basic-auth hash reads as the
// fingerprint of the password it was made from, so the export names a
// credential exactly as the route does. res is shared with the
// translator's caches and is not changed.
func Redacted(res *Resources, ws model.Workspace, fp model.Fingerprinter) (*Resources, error) {
	r := &redactor{fp: fp, hashes: map[string]string{}, values: map[string]bool{}}
	for _, o := range ws.Objects() {
		for _, v := range model.SecretValues(o) {
			r.hashes[htpasswdHash(v)] = fp.Fingerprint(v)
			r.values[v] = true
		}
	}
	out := &Resources{}
	var err error
	out.Listeners, err = redactAll(r, res.Listeners)
	if err == nil {
		out.Routes, err = redactAll(r, res.Routes)
	}
	if err == nil {
		out.Clusters, err = redactAll(r, res.Clusters)
	}
	if err == nil {
		out.Endpoints, err = redactAll(r, res.Endpoints)
	}
	if err == nil {
		out.Secrets, err = redactAll(r, res.Secrets)
	}
	return out, err
}

func redactAll[T proto.Message](r *redactor, list []T) ([]T, error) {
	out := make([]T, len(list))
	for i, m := range list {
		c := proto.Clone(m).(T)
		if err := r.message(c.ProtoReflect()); err != nil {
			return nil, fmt.Errorf("redact %s: %w", c.ProtoReflect().Descriptor().FullName(), err)
		}
		out[i] = c
	}
	return out, nil
}

type redactor struct {
	fp model.Fingerprinter
	// hashes maps the htpasswd form of each secret value of the workspace
	// to the fingerprint of the value itself.
	hashes map[string]string
	// values are the workspace's secret values themselves.
	values map[string]bool
}

// message redacts m and everything it holds, typed configs included.
func (r *redactor) message(m protoreflect.Message) error {
	switch v := m.Interface().(type) {
	case *anypb.Any:
		inner, err := v.UnmarshalNew()
		if err != nil {
			return err
		}
		if err := r.message(inner.ProtoReflect()); err != nil {
			return err
		}
		return anypb.MarshalFrom(v, inner, proto.MarshalOptions{Deterministic: true})
	case *tlsv3.TlsCertificate:
		v.PrivateKey = r.dataSource(v.PrivateKey)
		v.Password = r.dataSource(v.Password)
		return nil
	case *basicauthv3.BasicAuth:
		v.Users = r.htpasswd(v.Users)
		return nil
	case *basicauthv3.BasicAuthPerRoute:
		v.Users = r.htpasswd(v.Users)
		return nil
	case *jwtv3.JwtProvider:
		// A JWKS of public keys is no secret; the workspace says which
		// inline ones are.
		if s, ok := v.GetLocalJwks().GetSpecifier().(*corev3.DataSource_InlineString); ok && r.values[s.InlineString] {
			v.JwksSourceSpecifier = &jwtv3.JwtProvider_LocalJwks{LocalJwks: inline(r.fp.Fingerprint(s.InlineString))}
		}
		return nil
	case *rbacconfigv3.Principal:
		// Principals nest (and_ids, or_ids, not_id): the walk below goes on
		// into them.
		if h := v.GetHeader(); h != nil {
			r.headerMatcher(h)
		}
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				val.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					err = r.message(mv.Message())
					return err == nil
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				l := val.List()
				for i := 0; i < l.Len() && err == nil; i++ {
					err = r.message(l.Get(i).Message())
				}
			}
		case fd.Message() != nil:
			err = r.message(val.Message())
		}
		return err == nil
	})
	return err
}

// dataSource fingerprints an inline value; a file name or an environment
// variable names where a secret is, not the secret.
func (r *redactor) dataSource(ds *corev3.DataSource) *corev3.DataSource {
	switch s := ds.GetSpecifier().(type) {
	case *corev3.DataSource_InlineString:
		return inline(r.fp.Fingerprint(s.InlineString))
	case *corev3.DataSource_InlineBytes:
		return inline(r.fp.Fingerprint(string(s.InlineBytes)))
	}
	return ds
}

// htpasswd replaces the hash of each "user:hash" line with the fingerprint
// of the password it came from. The listener's placeholder line, which no
// one can log in with, stays readable.
func (r *redactor) htpasswd(ds *corev3.DataSource) *corev3.DataSource {
	var text string
	switch s := ds.GetSpecifier().(type) {
	case *corev3.DataSource_InlineString:
		text = s.InlineString
	case *corev3.DataSource_InlineBytes:
		text = string(s.InlineBytes)
	default:
		return ds
	}
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		user, hash, ok := strings.Cut(line, ":")
		if !ok || line == basicAuthPlaceholder {
			continue
		}
		fp, known := r.hashes[hash]
		if !known {
			fp = r.fp.Fingerprint(hash)
		}
		lines[i] = user + ":" + fp
	}
	return inline(strings.Join(lines, "\n"))
}

// headerMatcher fingerprints the value an RBAC principal expects in a
// header: the translator matches API keys that way.
func (r *redactor) headerMatcher(h *routev3.HeaderMatcher) {
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_StringMatch:
		switch p := s.StringMatch.GetMatchPattern().(type) {
		case *matcherv3.StringMatcher_Exact:
			p.Exact = r.fp.Fingerprint(p.Exact)
		case *matcherv3.StringMatcher_Prefix:
			p.Prefix = r.fp.Fingerprint(p.Prefix)
		case *matcherv3.StringMatcher_Suffix:
			p.Suffix = r.fp.Fingerprint(p.Suffix)
		case *matcherv3.StringMatcher_Contains:
			p.Contains = r.fp.Fingerprint(p.Contains)
		}
	case *routev3.HeaderMatcher_ExactMatch: //nolint:staticcheck // older form, still valid Envoy config
		s.ExactMatch = r.fp.Fingerprint(s.ExactMatch)
	}
}
