package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// kindArg maps what users type (route, routes, Route, rt) to a kind and its
// URL collection.
func kindArg(s string) (kind, coll string, err error) {
	switch strings.ToLower(s) {
	case "gateway", "gateways", "gw":
		return model.KindGateway, "gateways", nil
	case "upstream", "upstreams", "up":
		return model.KindUpstream, "upstreams", nil
	case "route", "routes", "rt":
		return model.KindRoute, "routes", nil
	case "secret", "secrets":
		return model.KindSecret, "secrets", nil
	case "routetest", "routetests", "test", "tests":
		return kindRouteTest, "tests", nil
	}
	return "", "", fmt.Errorf("unknown kind %q: use gateway, upstream, route, secret or routetest", s)
}

// objectFromView decodes an API object (with kind, whenText, version...)
// back into a model object.
func objectFromView(kind string, raw []byte) (model.Object, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	delete(fields, "kind")
	delete(fields, "whenText")
	clean, _ := json.Marshal(fields)
	obj := model.NewObject(kind)
	if err := json.Unmarshal(clean, obj); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	return obj, nil
}

// manifestYAML renders obj as a document of the file format: kind and name
// first, fields in model order, the condition as text, no server metadata,
// so `get -o yaml` output can be applied again.
func manifestYAML(obj model.Object) ([]byte, error) {
	meta := obj.ObjectMeta()
	saved := *meta
	*meta = model.Meta{Name: saved.Name}
	raw, err := json.Marshal(obj)
	*meta = saved
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", obj.Kind(), saved.Name, err)
	}
	node, err := jsonToNode(json.NewDecoder(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", obj.Kind(), saved.Name, err)
	}
	node.Content = append([]*yaml.Node{scalar("kind"), scalar(obj.Kind())}, node.Content...)
	if r, ok := obj.(*model.Route); ok && !r.When.IsZero() {
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == "when" {
				node.Content[i+1] = scalar(rules.Format(r.When))
			}
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func scalar(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

// jsonToNode converts the next JSON value of dec into a YAML node, keeping
// the key order of the JSON (which follows the Go struct) instead of the
// sorted order a map would give.
func jsonToNode(dec *json.Decoder) (*yaml.Node, error) {
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := jsonToNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, scalar(kt.(string)), v)
			}
			_, err := dec.Token() // }
			return n, err
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				v, err := jsonToNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
			if len(n.Content) > 0 && allScalars(n.Content) {
				n.Style = yaml.FlowStyle
			}
			_, err := dec.Token() // ]
			return n, err
		}
	case string:
		return scalar(t), nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(t.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(t)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func allScalars(ns []*yaml.Node) bool {
	for _, n := range ns {
		if n.Kind != yaml.ScalarNode {
			return false
		}
	}
	return true
}

// writeYAMLDocs writes objects as a multi-document YAML stream.
func writeYAMLDocs(w io.Writer, objs []model.Object) error {
	for i, obj := range objs {
		doc, err := manifestYAML(obj)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		if _, err := w.Write(doc); err != nil {
			return err
		}
	}
	return nil
}

// summary is the short description a table shows for an object.
func summary(obj model.Object) []string {
	switch o := obj.(type) {
	case *model.Gateway:
		var ls []string
		for _, l := range o.Listeners {
			ls = append(ls, fmt.Sprintf("%s:%d/%s", l.Name, l.Port, l.Protocol))
		}
		return []string{strings.Join(ls, ",")}
	case *model.Upstream:
		switch {
		case o.Static != nil:
			return []string{"static (" + plural(len(o.Static.Endpoints), "endpoint", "endpoints") + ")"}
		case o.DNS != nil:
			return []string{fmt.Sprintf("dns %s:%d", o.DNS.Host, o.DNS.Port)}
		case o.Kubernetes != nil:
			return []string{fmt.Sprintf("kubernetes %s/%s:%d", o.Kubernetes.Namespace, o.Kubernetes.Service, o.Kubernetes.Port)}
		case o.Consul != nil:
			return []string{"consul " + o.Consul.Service}
		}
		return []string{""}
	case *model.Route:
		return []string{o.Gateway, fmt.Sprint(o.Priority), actionSummary(o.Then), rules.Format(o.When)}
	case *model.Secret:
		var holds []string
		notAfter := ""
		if o.TLS != nil {
			holds = append(holds, "tls")
			notAfter = leafNotAfter(o.TLS.Certificate)
		}
		if o.CA != "" {
			holds = append(holds, "ca")
			if notAfter == "" {
				notAfter = leafNotAfter(o.CA)
			}
		}
		return []string{strings.Join(holds, "+"), notAfter}
	}
	return nil
}

// leafNotAfter is the expiry date of the first certificate in pemText, ""
// when it does not parse.
func leafNotAfter(pemText string) string {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return ""
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return ""
	}
	return c.NotAfter.UTC().Format("2006-01-02")
}

func actionSummary(a model.Action) string {
	switch {
	case a.Redirect != nil:
		return "redirect"
	case a.Respond != nil:
		return fmt.Sprintf("respond %d", a.Respond.Status)
	}
	var parts []string
	for _, b := range a.Forward {
		if b.Weight > 0 && len(a.Forward) > 1 {
			parts = append(parts, fmt.Sprintf("%s=%d", b.Upstream, b.Weight))
		} else {
			parts = append(parts, b.Upstream)
		}
	}
	return "forward " + strings.Join(parts, ",")
}

func tableHeader(kind string) []string {
	switch kind {
	case model.KindGateway:
		return []string{"NAME", "VERSION", "LISTENERS"}
	case model.KindUpstream:
		return []string{"NAME", "VERSION", "SOURCE"}
	case model.KindSecret:
		return []string{"NAME", "VERSION", "HOLDS", "NOT AFTER"}
	}
	return []string{"NAME", "VERSION", "GATEWAY", "PRIORITY", "ACTION", "WHEN"}
}
