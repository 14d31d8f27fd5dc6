package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/routedeck/routedeck/backend/model"
)

// DecodeObject decodes one object of kind (model.KindRoute, ...) from data
// strictly. It accepts the fields the API and the CLI add when they show an
// object, because a client may send back what it read: "kind" (which must
// name kind), and for routes "whenText" (the condition as text) and, in the
// answer to a write, "warnings"; those are dropped. It is what every API
// write of one object decodes its body with.
//
// When every problem is one of a single field (unknown, miscased or
// duplicate key, wrong type, bad value), the object is returned with the
// error, those fields left at their zero values, so the caller can check
// the rest and answer everything at once (see Hidden); after a syntax
// error or a limit it is nil.
func DecodeObject(data []byte, kind string) (model.Object, error) {
	obj := model.NewObject(kind)
	if obj == nil {
		return nil, fmt.Errorf("strictjson: unknown kind %q", kind)
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil, &model.Error{Code: model.EINVALID, Message: "invalid input",
			Fields: []model.FieldError{{Message: "expected an object, got null"}}}
	}
	if whole, err := decode(data, &objectBody{obj: obj}); err != nil {
		if !whole {
			return nil, err
		}
		return obj, err
	}
	return obj, nil
}

// objectBody is an object with the output-only fields of its views.
type objectBody struct {
	obj model.Object
}

func (o *objectBody) DecodeStrict(d *Decoder, path string, tok json.Token) {
	start := d.tokStart
	target := reflect.ValueOf(o.obj).Elem()
	shown := 0 // bytes of output-only fields, which the size bound leaves out
	var hasWhen bool
	var whenTextAt string
	d.Object(tok, path, func(key, kp string) {
		switch key {
		case "when":
			hasWhen = true
			d.field(target, key, kp)
		case "whenText":
			from := d.dec.InputOffset()
			var text string
			d.Value(&text, kp)
			shown += len(d.raw(from))
			if text != "" {
				whenTextAt = kp
			}
		case "kind":
			var k string
			if d.Value(&k, kp); !d.stopped && k != o.obj.Kind() {
				d.Problem(kp, "must be %q here", o.obj.Kind())
			}
		case "warnings":
			from := d.dec.InputOffset()
			d.Skip(kp)
			shown += len(d.raw(from))
		default:
			d.field(target, key, kp)
		}
	})
	if whenTextAt != "" && !hasWhen {
		// A client that read a route sends whenText back beside when;
		// whenText alone would be a condition silently ignored.
		d.Problem(whenTextAt, "output only: write the condition in when")
	}
	if !d.stopped {
		raw := d.raw(start)
		if n := len(raw) - shown; n > model.MaxObjectBytes {
			d.Problem(model.JoinPath(path, heaviest(raw)), "makes the object %d bytes; at most %d (1 MiB) are allowed", n, model.MaxObjectBytes)
		}
	}
}

// DecodeWorkspace decodes a workspace ({"secrets": [...], "gateways":
// [...], "upstreams": [...], "routes": [...]}) in one pass, each object as
// DecodeObject would, so every problem of every object comes back with its
// list path ("routes[2].gatway") and a deep condition meets the condition
// bound, not the JSON one.
//
// As with DecodeObject, when every problem is one of a single field the
// workspace is returned with the error, every object in place and those
// fields at their zero values, so the caller can check the rest and
// answer everything at once (see Hidden); after a syntax error or a limit
// it is nil.
func DecodeWorkspace(data []byte) (*model.Workspace, error) {
	ws := &model.Workspace{}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		// Would decode as no lists at all: a client sending null has
		// not sent the workspace it meant to.
		return nil, &model.Error{Code: model.EINVALID, Message: "invalid input",
			Fields: []model.FieldError{{Message: "expected an object, got null"}}}
	}
	whole, err := decode(data, &workspaceBody{ws: ws})
	if err != nil && !whole {
		return nil, err
	}
	return ws, err
}

var workspaceLists = map[string]string{
	"secrets": model.KindSecret, "gateways": model.KindGateway,
	"upstreams": model.KindUpstream, "routes": model.KindRoute,
}

type workspaceBody struct {
	ws *model.Workspace
}

func (w *workspaceBody) DecodeStrict(d *Decoder, path string, tok json.Token) {
	d.Object(tok, path, func(key, kp string) {
		kind, ok := workspaceLists[key]
		if !ok {
			d.Field(&model.Workspace{}, key, kp) // reports it, with a suggestion
			return
		}
		if t := d.Next(); t != nil {
			d.Array(t, kp, func(_ int, ip string) {
				obj := model.NewObject(kind)
				if t := d.Next(); t != nil {
					(&objectBody{obj: obj}).DecodeStrict(d, ip, t)
				} else if !d.stopped {
					d.Problem(ip, "expected an object, got null")
				}
				w.ws.Add(obj)
			})
		}
	})
}
