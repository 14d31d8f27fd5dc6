package sim

import (
	"fmt"
	"os"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// inlineHeaders are the headers Envoy keeps in O(1) slots; appending to
// one of them comma-joins the value instead of adding a second entry.
var inlineHeaders = map[string]bool{
	":authority": true, ":path": true, ":method": true, ":scheme": true, ":status": true, ":protocol": true,
	"content-type": true, "content-length": true, "content-encoding": true, "user-agent": true,
	"x-forwarded-for": true, "x-forwarded-proto": true, "x-forwarded-host": true, "x-forwarded-port": true,
	"x-request-id": true, "te": true, "connection": true, "upgrade": true, "via": true, "transfer-encoding": true,
	"keep-alive": true, "proxy-connection": true, "accept-encoding": true, "cache-control": true, "expect": true,
	"x-envoy-internal": true, "x-envoy-original-path": true, "x-envoy-downstream-service-cluster": true,
	"x-envoy-downstream-service-node": true, "x-envoy-expected-rq-timeout-ms": true, "x-envoy-external-address": true,
	"x-envoy-force-trace": true, "x-envoy-hedge-on-per-try-timeout": true, "x-envoy-max-retries": true,
	"x-envoy-retry-on": true, "x-envoy-retry-grpc-on": true, "x-envoy-upstream-rq-timeout-ms": true,
	"x-envoy-upstream-rq-per-try-timeout-ms": true, "x-envoy-upstream-alt-stat-name": true,
	"x-envoy-decorator-operation": true, "x-envoy-original-url": true, "x-envoy-attempt-count": true,
	"x-envoy-upstream-service-time": true, "x-envoy-overloaded": true, "x-envoy-immediate-health-check-fail": true,
	"x-envoy-degraded": true, "x-envoy-upstream-canary": true, "x-envoy-upstream-healthchecked-cluster": true,
	"grpc-timeout": true, "grpc-accept-encoding": true, "grpc-status": true, "grpc-message": true,
	"date": true, "server": true, "location": true, "referer": true, "origin": true, "host": true,
	"access-control-request-method": true, "access-control-allow-origin": true,
	"access-control-allow-methods": true, "access-control-allow-headers": true,
	"access-control-expose-headers": true, "access-control-max-age": true, "access-control-allow-credentials": true,
}

// appendHeader adds a value the way Envoy's addReferenceKey does.
func appendHeader(h *Headers, name, value string) {
	if inlineHeaders[name] {
		for i := range *h {
			if (*h)[i].Name == name {
				if (*h)[i].Value == "" {
					(*h)[i].Value = value
				} else {
					(*h)[i].Value += "," + value
				}
				return
			}
		}
	}
	h.Add(name, value)
}

type headerAdd struct {
	name      string
	value     *formatter
	action    corev3.HeaderValueOption_HeaderAppendAction
	keepEmpty bool
}

// headerMutation is one level (cluster, route, virtual host, route
// configuration) of request_headers_to_add / _to_remove, or the response
// equivalents.
type headerMutation struct {
	adds    []headerAdd
	removes []string
}

func newHeaderMutation(adds []*corev3.HeaderValueOption, removes []string) (*headerMutation, error) {
	m := &headerMutation{}
	var errs []string
	for _, r := range removes {
		m.removes = append(m.removes, strings.ToLower(r))
	}
	for i, a := range adds {
		name := strings.ToLower(a.GetHeader().GetKey())
		if name == "" {
			errs = append(errs, fmt.Sprintf("[%d]: header key is empty", i))
			continue
		}
		// Envoy refuses to let header mutations touch pseudo-headers or Host.
		if strings.HasPrefix(name, ":") || name == "host" {
			errs = append(errs, fmt.Sprintf("[%d]: header %q cannot be modified", i, name))
			continue
		}
		value := a.GetHeader().GetValue()
		if value == "" && len(a.GetHeader().GetRawValue()) > 0 {
			value = string(a.GetHeader().GetRawValue())
		}
		f, err := parseFormatter(value)
		if err != nil {
			errs = append(errs, fmt.Sprintf("[%d] %s: %v", i, name, err))
			continue
		}
		act := a.GetAppendAction()
		if ap := a.GetAppend(); ap != nil {
			// The deprecated append field wins when set.
			if ap.GetValue() {
				act = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
			} else {
				act = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
			}
		}
		m.adds = append(m.adds, headerAdd{name: name, value: f, action: act, keepEmpty: a.GetKeepEmptyValue()})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return m, nil
}

// apply runs Envoy's HeaderParser::evaluateHeaders: removals first, then
// every value is formatted, then overwrites, then appends.
func (m *headerMutation) apply(h *Headers, fc *formatContext) {
	if m == nil {
		return
	}
	for _, r := range m.removes {
		h.Del(r)
	}
	type kv struct{ k, v string }
	var overwrite, add []kv
	for _, a := range m.adds {
		v := a.value.format(fc)
		if v == "" && !a.keepEmpty {
			continue
		}
		_, exists := h.Get(a.name)
		switch a.action {
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			add = append(add, kv{a.name, v})
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			if !exists {
				add = append(add, kv{a.name, v})
			}
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			if exists {
				overwrite = append(overwrite, kv{a.name, v})
			}
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			overwrite = append(overwrite, kv{a.name, v})
		}
	}
	for _, o := range overwrite {
		h.Set(o.k, o.v)
	}
	for _, a := range add {
		appendHeader(h, a.k, a.v)
	}
}

// formatContext is what header formatters can read.
type formatContext struct {
	req           Headers
	remote, local string
	routeName     string
}

type fmtPart struct {
	literal string
	op      string // command name, "" for a literal
	arg     string
	alt     string
}

// formatter is a compiled header value with %COMMAND% substitutions.
type formatter struct{ parts []fmtPart }

var knownCommands = map[string]bool{
	"DOWNSTREAM_REMOTE_ADDRESS": true, "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": true, "DOWNSTREAM_REMOTE_PORT": true,
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS": true, "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT": true,
	"DOWNSTREAM_LOCAL_ADDRESS": true, "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT": true, "DOWNSTREAM_LOCAL_PORT": true,
	"PROTOCOL": true, "HOSTNAME": true, "ROUTE_NAME": true, "REQ": true,
}

func parseFormatter(s string) (*formatter, error) {
	f := &formatter{}
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			return nil, fmt.Errorf("unterminated %% in %q", s)
		}
		cmd := s[i+1 : i+1+j]
		i += j + 1
		p := fmtPart{op: cmd}
		if k := strings.IndexByte(cmd, '('); k >= 0 {
			end := strings.LastIndexByte(cmd, ')')
			if end < k {
				return nil, fmt.Errorf("bad command %q", cmd)
			}
			p.op, p.arg = cmd[:k], cmd[k+1:end]
			if q := strings.IndexByte(p.arg, '?'); q >= 0 {
				p.arg, p.alt = p.arg[:q], p.arg[q+1:]
			}
			p.arg, p.alt = strings.ToLower(p.arg), strings.ToLower(p.alt)
		}
		if !knownCommands[p.op] {
			return nil, fmt.Errorf("formatter %%%s%% is not supported by the simulator", cmd)
		}
		if lit.Len() > 0 {
			f.parts = append(f.parts, fmtPart{literal: lit.String()})
			lit.Reset()
		}
		f.parts = append(f.parts, p)
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, fmtPart{literal: lit.String()})
	}
	return f, nil
}

func (f *formatter) format(fc *formatContext) string {
	var b strings.Builder
	for _, p := range f.parts {
		if p.op == "" {
			b.WriteString(p.literal)
			continue
		}
		b.WriteString(p.eval(fc))
	}
	return b.String()
}

func (p fmtPart) eval(fc *formatContext) string {
	switch p.op {
	case "DOWNSTREAM_REMOTE_ADDRESS", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS":
		return fc.remote
	case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT":
		return addrWithoutPort(fc.remote)
	case "DOWNSTREAM_REMOTE_PORT":
		return addrPort(fc.remote)
	case "DOWNSTREAM_LOCAL_ADDRESS":
		return fc.local
	case "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":
		return addrWithoutPort(fc.local)
	case "DOWNSTREAM_LOCAL_PORT":
		return addrPort(fc.local)
	case "PROTOCOL":
		return "HTTP/1.1"
	case "HOSTNAME":
		h, _ := os.Hostname()
		return h
	case "ROUTE_NAME":
		return fc.routeName
	case "REQ":
		if v, ok := fc.req.Get(p.arg); ok {
			return v
		}
		if p.alt != "" {
			if v, ok := fc.req.Get(p.alt); ok {
				return v
			}
		}
	}
	return ""
}

// addrWithoutPort strips the port of "ip:port" or "[v6]:port".
func addrWithoutPort(a string) string {
	if strings.HasPrefix(a, "[") {
		if i := strings.Index(a, "]"); i >= 0 {
			return a[1:i]
		}
		return a
	}
	if strings.Count(a, ":") == 1 {
		return a[:strings.IndexByte(a, ':')]
	}
	return a
}

func addrPort(a string) string {
	if i := strings.LastIndexByte(a, ':'); i >= 0 && (strings.HasPrefix(a, "[") || strings.Count(a, ":") == 1) {
		return a[i+1:]
	}
	return ""
}
