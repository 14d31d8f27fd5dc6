package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

func encoderWorkspace(routes int) model.Workspace {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ws := model.Workspace{
		Secrets:   []model.Secret{{Meta: model.Meta{Name: "tls", Version: 1, UpdatedAt: at}, TLS: &model.SecretTLS{Certificate: "cert", PrivateKey: "very secret key"}}},
		Gateways:  []model.Gateway{{Meta: model.Meta{Name: "gw", Version: 1, UpdatedAt: at}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "up", Version: 1, UpdatedAt: at}}},
	}
	for i := range routes {
		ws.Routes = append(ws.Routes, model.Route{Meta: model.Meta{Name: "r" + string(rune('a'+i)), Version: 1, UpdatedAt: at},
			Gateway: "gw", Description: "<route & co>"})
	}
	return ws
}

// decodeVersion reads an encoded version back as the store does.
func decodeVersion(t *testing.T, keys *seal.Keyring, b []byte) model.Workspace {
	t.Helper()
	var ws model.Workspace
	if err := json.Unmarshal(b, &ws); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if err := openWorkspace(keys, &ws); err != nil {
		t.Fatal(err)
	}
	return ws
}

// The incremental encoding reads back as the workspace it encodes, through
// edits, objects that never came from the store and a key rotation, and
// equals json.Marshal of the sealed workspace byte for byte where nothing
// is sealed.
func TestVersionEncoder(t *testing.T) {
	keys, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	e := newVersionEncoder()
	ws := encoderWorkspace(3)
	check := func(step string, keys *seal.Keyring, ws model.Workspace) []byte {
		t.Helper()
		secs, digest, err := e.encode(keys, "gw", ws)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if want := workspaceDigest(ws); digest != want {
			t.Fatalf("%s: digest %s, want %s", step, digest, want)
		}
		b := secs.json()
		if got := decodeVersion(t, keys, b); !reflect.DeepEqual(got, ws) {
			t.Fatalf("%s: decoded %+v, want %+v", step, got, ws)
		}
		if strings.Contains(string(b), "very secret key") {
			t.Fatalf("%s: secret stored unsealed: %s", step, b)
		}
		plain := ws
		plain.Secrets = nil
		want, _ := json.Marshal(plain)
		if got, _, _ := e.encode(keys, "other", plain); string(got.json()) != string(want) {
			t.Fatalf("%s: encoding\n%s\nwant json.Marshal's\n%s", step, got, want)
		}
		return b
	}
	first := check("first", keys, ws)
	if again := check("unchanged", keys, ws); string(again) != string(first) {
		t.Fatal("an unchanged workspace was encoded again (new seals) instead of reusing the encodings")
	}

	edited := encoderWorkspace(3)
	edited.Routes[1].Description = "edited"
	edited.Routes[1].Version = 2
	check("edited route", keys, edited)

	// Version 0: not from the store, so never taken for an earlier object.
	adhoc := encoderWorkspace(3)
	adhoc.Routes[0].Version, adhoc.Routes[0].Description = 0, "first"
	check("ad hoc 1", keys, adhoc)
	adhoc.Routes[0].Description = "second"
	check("ad hoc 2", keys, adhoc)

	check("back to the first", keys, ws)

	// A route moved in rule order and one added before the others: the
	// walk beside the last version finds its place again after each.
	moved := encoderWorkspace(3)
	moved.Routes[0], moved.Routes[2] = moved.Routes[2], moved.Routes[0]
	moved.Routes[0].Priority, moved.Routes[0].Version = 5, 2
	check("moved", keys, moved)
	added := encoderWorkspace(3)
	extra := added.Routes[0]
	extra.Name, extra.Priority = "aaa", 9
	added.Routes = append([]model.Route{extra}, added.Routes...)
	check("added", keys, added)
	check("back again", keys, ws)

	// Enough objects to be encoded on several goroutines, each in its
	// place; then a rotation re-encodes them all in parallel too.
	many := encoderWorkspace(3 * parallelEncode)
	many.Routes[len(many.Routes)-1].Then.Headers = &model.HeaderPolicy{Request: &model.HeaderMutation{Set: map[string]string{"x-last": "1"}}}
	check("many routes", keys, many)
	kept := 0
	for _, sec := range e.byGW["gw"] {
		kept += len(sec)
	}
	if n := kept; n != 3+len(many.Routes) {
		t.Errorf("%d encodings kept for %d objects", n, 3+len(many.Routes))
	}

	check("fewer routes", keys, encoderWorkspace(1))
	n := 0
	for _, sec := range e.byGW["gw"] {
		n += len(sec)
	}
	if n != 4 {
		t.Errorf("%d encodings kept after routes went, want 4 (secret, gateway, upstream, route)", n)
	}
	check("empty", keys, model.Workspace{})

	rotated, _, err := keys.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	b := check("rotated key", rotated.CurrentOnly(), ws)
	if _, _, err := e.encode(keys, "gw", ws); err != nil {
		t.Fatal(err)
	}
	if got := decodeVersion(t, rotated.CurrentOnly(), b); !reflect.DeepEqual(got, ws) {
		t.Fatal("after a key rotation the version does not open with the new key alone")
	}
}
