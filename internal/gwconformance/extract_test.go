package gwconformance

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"
	gwgrpc "sigs.k8s.io/gateway-api/conformance/utils/grpc"
	gwhttp "sigs.k8s.io/gateway-api/conformance/utils/http"
	"sigs.k8s.io/gateway-api/conformance/utils/roundtripper"
)

// The conformance tests keep their expectations in Go: each test's Test
// function builds []http.ExpectedResponse literals and sends each one to
// a gateway address obtained from kubernetes.GatewayAndHTTPRoutesMustBeAccepted.
// Running those functions needs a Kubernetes cluster, so the runner reads
// the same literals from the test sources instead, with the module's own
// types, and binds each case to the gateway (and listener) its address
// came from.

// confTest is one conformance test read from its source file.
type confTest struct {
	Name      string
	Features  []string
	Manifests []string
	Cases     []confCase
	// Unread counts the expectations the reader could not evaluate;
	// reported, so a new construct in the sources cannot pass silently.
	Unread []string
}

// confCase is one expected response and where it is sent.
type confCase struct {
	Gateway   string // Gateway name (namespace gateway-conformance-infra)
	Namespace string
	Listener  string // first listener named in the gateway ref; "" for the first listener
	// ByHostPort: the listener on the port of the Host header.
	ByHostPort bool
	Expected   gwhttp.ExpectedResponse
	// GRPC is set instead of Expected for a GRPCRoute test.
	GRPC *gwgrpc.ExpectedResponse
	// Weights, when set, make the case a traffic distribution: the
	// request is sent many times and the share each backend gets is
	// checked against its weight, by the module's own check.
	Weights map[string]float64
	// Server, when set, sends the request over TLS with this SNI, to the
	// HTTPS listener of the port in its URL (443 without one).
	Server string
	// transcribed, when set, is the check to make instead (see transcribed).
	transcribed func(t *testing.T, l *loaded, c confCase) error
}

type gwRef struct {
	namespace, name, listener string
	// byHostPort: the listener is the one on the port of the request's
	// Host header (port 80 without one).
	byHostPort bool
}

// readTests parses one test source file: its ConformanceTests, whose Test
// may be another test's (Test: Other.Test).
func readTests(path string) ([]*confTest, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		return nil, err
	}
	lits := map[string]*ast.CompositeLit{}
	var names []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, sp := range gd.Specs {
			vs, ok := sp.(*ast.ValueSpec)
			if !ok || len(vs.Values) != 1 {
				continue
			}
			if cl, ok := vs.Values[0].(*ast.CompositeLit); ok && exprString(cl.Type) == "suite.ConformanceTest" {
				lits[vs.Names[0].Name] = cl
				names = append(names, vs.Names[0].Name)
			}
		}
	}
	var out []*confTest
	for _, name := range names {
		ct := &confTest{}
		for _, el := range lits[name].Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			switch exprString(kv.Key) {
			case "ShortName":
				ct.Name, _ = strconv.Unquote(exprString(kv.Value))
			case "Features":
				for _, e := range kv.Value.(*ast.CompositeLit).Elts {
					ct.Features = append(ct.Features, strings.TrimPrefix(exprString(e), "features."))
				}
			case "Manifests":
				for _, e := range kv.Value.(*ast.CompositeLit).Elts {
					s, _ := strconv.Unquote(exprString(e))
					ct.Manifests = append(ct.Manifests, s)
				}
			case "Test":
				fn, ok := kv.Value.(*ast.FuncLit)
				if sel, isSel := kv.Value.(*ast.SelectorExpr); isSel {
					fn, ok = testFunc(lits[exprString(sel.X)])
				}
				if !ok {
					ct.Unread = append(ct.Unread, "Test "+exprString(kv.Value))
					continue
				}
				ct.readBody(fn.Body)
			}
		}
		out = append(out, ct)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no suite.ConformanceTest", path)
	}
	return out, nil
}

// testFunc is the Test function literal of a ConformanceTest literal.
func testFunc(cl *ast.CompositeLit) (*ast.FuncLit, bool) {
	if cl == nil {
		return nil, false
	}
	for _, el := range cl.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok && exprString(kv.Key) == "Test" {
			fn, ok := kv.Value.(*ast.FuncLit)
			return fn, ok
		}
	}
	return nil, false
}

// body walks a Test function in source order, tracking the string
// variables, gateway names and addresses, and the pending test cases.
type body struct {
	ct          *confTest
	strs        map[string]string
	nns         map[string]gwRef // NamespacedName variables
	addrs       map[string]gwRef // gateway address variables
	pending     []gwhttp.ExpectedResponse
	pendingGRPC []gwgrpc.ExpectedResponse
	// single and singleGRPC are ExpectedResponse variables, sent by name.
	single     map[string]gwhttp.ExpectedResponse
	singleGRPC map[string]gwgrpc.ExpectedResponse
	// weights are map[string]float64 variables: expected traffic shares.
	weights map[string]map[string]float64
	// senders are weight senders by variable, each the case it repeats:
	// the last request sent before it was built.
	senders map[string]confCase
	last    *confCase
	// tables are slices of anonymous structs (test tables), each row its
	// fields' expressions; row is the row a range over one is at, bound
	// to the range's value variable rowVar.
	tables map[string][]map[string]ast.Expr
	row    map[string]ast.Expr
	rowVar string
}

func (ct *confTest) readBody(b *ast.BlockStmt) {
	w := &body{ct: ct, strs: map[string]string{}, nns: map[string]gwRef{}, addrs: map[string]gwRef{},
		single: map[string]gwhttp.ExpectedResponse{}, singleGRPC: map[string]gwgrpc.ExpectedResponse{},
		weights: map[string]map[string]float64{}, senders: map[string]confCase{}, tables: map[string][]map[string]ast.Expr{}}
	ast.Inspect(b, w.visit)
}

func (w *body) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.AssignStmt:
		if len(n.Lhs) != 1 || len(n.Rhs) != 1 {
			// gwAddr, err := ... style: take the first name.
			if len(n.Rhs) == 1 && len(n.Lhs) > 1 {
				w.assign(exprString(n.Lhs[0]), n.Rhs[0])
			}
			return true
		}
		w.assign(exprString(n.Lhs[0]), n.Rhs[0])
		if call, ok := n.Rhs[0].(*ast.CallExpr); ok && exprString(call.Fun) == "weight.NewFunctionBasedSender" {
			return false // what the sender sends is the case it repeats
		}
	case *ast.ValueSpec:
		for i, name := range n.Names {
			if i < len(n.Values) {
				w.assign(name.Name, n.Values[i])
			} else if exprString(n.Type) == "[]http.ExpectedResponse" {
				w.pending = nil
			}
		}
	case *ast.RangeStmt:
		rows, ok := w.tables[exprString(n.X)]
		if !ok || n.Value == nil {
			return true
		}
		// Each row of a test table, with the range's variable bound to it.
		for _, row := range rows {
			w.row, w.rowVar = row, exprString(n.Value)
			ast.Inspect(n.Body, w.visit)
		}
		w.row, w.rowVar = nil, ""
		return false
	case *ast.CallExpr:
		fn := exprString(n.Fun)
		if fn == "tls.MakeTLSRequestAndExpectEventuallyConsistentResponse" && len(n.Args) == 8 {
			w.tlsCall(n)
			return false
		}
		if fn == "grpc.MakeRequestAndExpectEventuallyConsistentResponse" && len(n.Args) == 5 {
			w.grpcCall(n)
			return false
		}
		if fn == "weight.TestWeightedDistribution" && len(n.Args) == 2 {
			w.distribution(n)
			return false
		}
		if !strings.HasPrefix(fn, "http.MakeRequestAndExpect") || len(n.Args) < 5 {
			if sends(fn) {
				// A request the reader cannot bind to an expectation:
				// reported, never skipped in silence.
				w.ct.Unread = append(w.ct.Unread, fn)
			}
			return true
		}
		addr, ok := w.addrs[exprString(n.Args[3])]
		if !ok {
			w.ct.Unread = append(w.ct.Unread, "a request to "+exprString(n.Args[3]))
			return true
		}
		if fn != "http.MakeRequestAndExpectEventuallyConsistentResponse" {
			w.ct.Unread = append(w.ct.Unread, fn)
			return true
		}
		cases := w.pending
		if lit, ok := n.Args[4].(*ast.CompositeLit); ok {
			var er gwhttp.ExpectedResponse
			if err := w.eval(lit, reflect.ValueOf(&er).Elem()); err != nil {
				w.ct.Unread = append(w.ct.Unread, err.Error())
				return true
			}
			cases = []gwhttp.ExpectedResponse{er}
		} else if er, ok := w.single[exprString(n.Args[4])]; ok {
			cases = []gwhttp.ExpectedResponse{er}
		} else {
			w.pending = nil // sent: the next call has its own cases
		}
		for _, c := range cases {
			w.add(confCase{Gateway: addr.name, Namespace: addr.namespace, Listener: addr.listener, ByHostPort: addr.byHostPort, Expected: c})
		}
		return false
	}
	return true
}

func (w *body) assign(name string, rhs ast.Expr) {
	switch v := rhs.(type) {
	case *ast.BasicLit:
		if s, err := strconv.Unquote(v.Value); err == nil {
			w.strs[name] = s
		}
	case *ast.CompositeLit:
		if at, ok := v.Type.(*ast.ArrayType); ok {
			if _, ok := at.Elt.(*ast.StructType); ok {
				w.table(name, v)
				return
			}
		}
		switch exprString(v.Type) {
		case "types.NamespacedName":
			var ref gwRef
			for _, el := range v.Elts {
				kv := el.(*ast.KeyValueExpr)
				s, _ := w.str(kv.Value)
				if exprString(kv.Key) == "Name" {
					ref.name = s
				} else {
					ref.namespace = s
				}
			}
			w.nns[name] = ref
		case "[]http.ExpectedResponse":
			w.pending = nil
			w.appendCases(v.Elts)
		case "http.ExpectedResponse":
			var er gwhttp.ExpectedResponse
			if err := w.eval(v, reflect.ValueOf(&er).Elem()); err != nil {
				w.ct.Unread = append(w.ct.Unread, err.Error())
				return
			}
			w.single[name] = er
		case "grpc.ExpectedResponse":
			var er gwgrpc.ExpectedResponse
			if err := w.eval(v, reflect.ValueOf(&er).Elem()); err != nil {
				w.ct.Unread = append(w.ct.Unread, err.Error())
				return
			}
			w.singleGRPC[name] = er
		case "map[string]float64":
			m := map[string]float64{}
			for _, el := range v.Elts {
				kv := el.(*ast.KeyValueExpr)
				k, ok := w.str(kv.Key)
				f, err := strconv.ParseFloat(exprString(kv.Value), 64)
				if !ok || err != nil {
					w.ct.Unread = append(w.ct.Unread, "weight "+exprString(kv.Key)+": "+exprString(kv.Value))
					continue
				}
				m[k] = f
			}
			w.weights[name] = m
		case "[]grpc.ExpectedResponse":
			w.pendingGRPC = nil
			for _, e := range v.Elts {
				var er gwgrpc.ExpectedResponse
				if err := w.eval(e, reflect.ValueOf(&er).Elem()); err != nil {
					w.ct.Unread = append(w.ct.Unread, err.Error())
					continue
				}
				w.pendingGRPC = append(w.pendingGRPC, er)
			}
		}
	case *ast.Ident:
		if a, ok := w.addrs[v.Name]; ok {
			if _, again := w.addrs[name]; again {
				// An address chosen in code (by the request's port):
				// the request goes to the listener its Host names.
				a = gwRef{namespace: a.namespace, name: a.name, byHostPort: true}
			}
			w.addrs[name] = a
		}
	case *ast.CallExpr:
		fn := exprString(v.Fun)
		switch {
		case fn == "weight.NewFunctionBasedSender":
			if w.last == nil {
				w.ct.Unread = append(w.ct.Unread, "a weight sender before any request")
				return
			}
			w.senders[name] = *w.last
		case fn == "append" && len(v.Args) > 0 && exprString(v.Args[0]) == name:
			w.appendCases(v.Args[1:])
		case strings.HasPrefix(fn, "kubernetes.GatewayAndHTTPRoutesMustBeAccepted") || strings.HasPrefix(fn, "kubernetes.GatewayAndRoutesMustBeAccepted"):
			for _, a := range v.Args {
				ref, ok := a.(*ast.CallExpr)
				if !ok || exprString(ref.Fun) != "kubernetes.NewGatewayRef" {
					continue
				}
				gw := w.nns[exprString(ref.Args[0])]
				if len(ref.Args) > 1 {
					gw.listener, _ = w.str(ref.Args[1])
				}
				w.addrs[name] = gw
			}
		}
	}
}

// grpcCall binds the pending gRPC cases (or the literal) to the gateway of
// the call's address.
func (w *body) grpcCall(n *ast.CallExpr) {
	addr, ok := w.addrs[exprString(n.Args[3])]
	if !ok {
		w.ct.Unread = append(w.ct.Unread, "a request to "+exprString(n.Args[3]))
		return
	}
	cases := w.pendingGRPC
	if lit, ok := n.Args[4].(*ast.CompositeLit); ok {
		var er gwgrpc.ExpectedResponse
		if err := w.eval(lit, reflect.ValueOf(&er).Elem()); err != nil {
			w.ct.Unread = append(w.ct.Unread, err.Error())
			return
		}
		cases = []gwgrpc.ExpectedResponse{er}
	} else if er, ok := w.singleGRPC[exprString(n.Args[4])]; ok {
		cases = []gwgrpc.ExpectedResponse{er}
	} else {
		w.pendingGRPC = nil
	}
	for _, c := range cases {
		w.add(confCase{Gateway: addr.name, Namespace: addr.namespace, Listener: addr.listener, GRPC: &c})
	}
}

// table records a test table: a slice literal of anonymous structs whose
// rows are keyed literals.
func (w *body) table(name string, lit *ast.CompositeLit) {
	var rows []map[string]ast.Expr
	for _, e := range lit.Elts {
		cl, ok := e.(*ast.CompositeLit)
		if !ok {
			w.ct.Unread = append(w.ct.Unread, "a row of "+name)
			return
		}
		row := map[string]ast.Expr{}
		for _, el := range cl.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				w.ct.Unread = append(w.ct.Unread, "a positional row of "+name)
				return
			}
			row[exprString(kv.Key)] = kv.Value
		}
		rows = append(rows, row)
	}
	w.tables[name] = rows
}

// tlsCall binds a request over TLS: tls.MakeTLSRequestAndExpect...(t, r,
// timeouts, gwAddr, cert, key, serverName, expected).
func (w *body) tlsCall(n *ast.CallExpr) {
	addr, ok := w.addrs[exprString(n.Args[3])]
	server, sok := w.str(n.Args[6])
	if !ok || !sok {
		w.ct.Unread = append(w.ct.Unread, "a TLS request to "+exprString(n.Args[3])+" for "+exprString(n.Args[6]))
		return
	}
	cases := w.pending
	if er, ok := w.single[exprString(n.Args[7])]; ok {
		cases = []gwhttp.ExpectedResponse{er}
	} else {
		w.pending = nil
	}
	for _, c := range cases {
		w.add(confCase{Gateway: addr.name, Namespace: addr.namespace, Listener: addr.listener, Expected: c, Server: server})
	}
}

// add appends a case sent by the test.
func (w *body) add(c confCase) {
	w.ct.Cases = append(w.ct.Cases, c)
	w.last = &c
}

// distribution adds a traffic distribution case:
// weight.TestWeightedDistribution(sender, weights) repeats the case the
// sender was built after.
func (w *body) distribution(n *ast.CallExpr) {
	c, ok := w.senders[exprString(n.Args[0])]
	weights, wok := w.weights[exprString(n.Args[1])]
	if !ok || !wok {
		w.ct.Unread = append(w.ct.Unread, "weight.TestWeightedDistribution("+exprString(n.Args[0])+", "+exprString(n.Args[1])+")")
		return
	}
	c.Weights = weights
	w.ct.Cases = append(w.ct.Cases, c)
}

// sends reports whether a function the tests call sends requests to a
// gateway: the reader must bind each such call to its expectations.
func sends(fn string) bool {
	for _, p := range []string{"http.MakeRequestAndExpect", "grpc.MakeRequestAndExpect", "tls.MakeTLSRequest", "weight.TestWeighted", "http.AwaitConvergence"} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return strings.HasSuffix(fn, ".CaptureRoundTrip") || strings.HasSuffix(fn, ".SendRPC")
}

func (w *body) appendCases(elts []ast.Expr) {
	for _, e := range elts {
		if cl, ok := e.(*ast.CompositeLit); ok && exprString(cl.Type) == "[]http.ExpectedResponse" {
			w.appendCases(cl.Elts) // append(testCases, []http.ExpectedResponse{...}...)
			continue
		}
		var er gwhttp.ExpectedResponse
		if err := w.eval(e, reflect.ValueOf(&er).Elem()); err != nil {
			w.ct.Unread = append(w.ct.Unread, err.Error())
			continue
		}
		w.pending = append(w.pending, er)
	}
}

func (w *body) str(e ast.Expr) (string, bool) {
	if x, ok := w.field(e); ok {
		return w.str(x)
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.Ident:
		s, ok := w.strs[e.Name]
		return s, ok
	}
	return "", false
}

// field resolves tc.name, where tc is bound to a row of a test table, to
// the row's expression for the field.
func (w *body) field(e ast.Expr) (ast.Expr, bool) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || w.row == nil || exprString(sel.X) != w.rowVar {
		return nil, false
	}
	x, ok := w.row[sel.Sel.Name]
	if !ok {
		// A field the row leaves out has its zero value.
		return &ast.Ident{Name: "nil"}, true
	}
	return x, true
}

// named are the types the literals of the tests use, by their name in
// the sources.
var named = map[string]reflect.Type{
	"http.ExpectedResponse":        reflect.TypeFor[gwhttp.ExpectedResponse](),
	"http.Request":                 reflect.TypeFor[gwhttp.Request](),
	"http.ExpectedRequest":         reflect.TypeFor[gwhttp.ExpectedRequest](),
	"http.Response":                reflect.TypeFor[gwhttp.Response](),
	"http.MirroredBackend":         reflect.TypeFor[gwhttp.MirroredBackend](),
	"http.BackendRef":              reflect.TypeFor[gwhttp.BackendRef](),
	"roundtripper.RedirectRequest": reflect.TypeFor[roundtripper.RedirectRequest](),
	"grpc.ExpectedResponse":        reflect.TypeFor[gwgrpc.ExpectedResponse](),
	"grpc.RequestMetadata":         reflect.TypeFor[gwgrpc.RequestMetadata](),
	"grpc.Response":                reflect.TypeFor[gwgrpc.Response](),
	"pb.EchoRequest":               reflect.TypeFor[pb.EchoRequest](),
}

// eval sets v from the literal expression e, for the kinds of values the
// test literals hold; anything else is an error naming the expression.
func (w *body) eval(e ast.Expr, v reflect.Value) error {
	if x, ok := w.field(e); ok {
		return w.eval(x, v)
	}
	switch x := e.(type) {
	case *ast.UnaryExpr:
		if x.Op == token.AND && v.Kind() == reflect.Pointer {
			nv := reflect.New(v.Type().Elem())
			if err := w.eval(x.X, nv.Elem()); err != nil {
				return err
			}
			v.Set(nv)
			return nil
		}
	case *ast.CompositeLit:
		if x.Type != nil {
			if t, ok := named[exprString(x.Type)]; ok && v.Kind() == reflect.Pointer && v.Type().Elem() == t {
				nv := reflect.New(t)
				if err := w.eval(x, nv.Elem()); err != nil {
					return err
				}
				v.Set(nv)
				return nil
			}
		}
		switch v.Kind() {
		case reflect.Struct:
			for _, el := range x.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					return fmt.Errorf("positional literal %s", exprString(x))
				}
				f := v.FieldByName(exprString(kv.Key))
				if !f.IsValid() {
					return fmt.Errorf("no field %s in %s", exprString(kv.Key), v.Type())
				}
				if err := w.eval(kv.Value, f); err != nil {
					return err
				}
			}
			return nil
		case reflect.Slice:
			s := reflect.MakeSlice(v.Type(), len(x.Elts), len(x.Elts))
			for i, el := range x.Elts {
				if err := w.eval(el, s.Index(i)); err != nil {
					return err
				}
			}
			v.Set(s)
			return nil
		case reflect.Map:
			m := reflect.MakeMap(v.Type())
			for _, el := range x.Elts {
				kv := el.(*ast.KeyValueExpr)
				k, val := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				if err := w.eval(kv.Key, k); err != nil {
					return err
				}
				if err := w.eval(kv.Value, val); err != nil {
					return err
				}
				m.SetMapIndex(k, val)
			}
			v.Set(m)
			return nil
		case reflect.Pointer:
			nv := reflect.New(v.Type().Elem())
			if err := w.eval(x, nv.Elem()); err != nil {
				return err
			}
			v.Set(nv)
			return nil
		}
	case *ast.BasicLit:
		switch v.Kind() {
		case reflect.String:
			s, err := strconv.Unquote(x.Value)
			if err != nil {
				return err
			}
			v.SetString(s)
			return nil
		case reflect.Int, reflect.Int32, reflect.Int64:
			n, err := strconv.ParseInt(x.Value, 0, 64)
			if err != nil {
				return err
			}
			v.SetInt(n)
			return nil
		}
	case *ast.Ident:
		switch {
		case x.Name == "true" || x.Name == "false":
			v.SetBool(x.Name == "true")
			return nil
		case x.Name == "nil":
			return nil
		case v.Kind() == reflect.String:
			if s, ok := w.strs[x.Name]; ok {
				v.SetString(s)
				return nil
			}
		}
	case *ast.SelectorExpr:
		// codes.Unimplemented and the other gRPC codes.
		if v.Type() == reflect.TypeFor[codes.Code]() && exprString(x.X) == "codes" {
			for c := range codes.Code(17) {
				if c.String() == x.Sel.Name {
					v.SetUint(uint64(c))
					return nil
				}
			}
		}
	case *ast.CallExpr:
		// int32(20) and the like: a conversion of a constant.
		if len(x.Args) == 1 && strings.HasPrefix(exprString(x.Fun), "int") && v.CanInt() {
			return w.eval(x.Args[0], v)
		}
		// ptr.To[int32](50) and the like.
		if strings.HasPrefix(exprString(x.Fun), "ptr.To") && len(x.Args) == 1 && v.Kind() == reflect.Pointer {
			nv := reflect.New(v.Type().Elem())
			if err := w.eval(x.Args[0], nv.Elem()); err != nil {
				return err
			}
			v.Set(nv)
			return nil
		}
	}
	return fmt.Errorf("cannot read %s as %s", exprString(e), v.Type())
}

// exprString prints an expression back as source, enough to compare names.
func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case nil:
		return ""
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name
	case *ast.BasicLit:
		return x.Value
	case *ast.ArrayType:
		return "[]" + exprString(x.Elt)
	case *ast.MapType:
		return "map[" + exprString(x.Key) + "]" + exprString(x.Value)
	case *ast.StarExpr:
		return "*" + exprString(x.X)
	case *ast.IndexExpr:
		return exprString(x.X) + "[" + exprString(x.Index) + "]"
	case *ast.CallExpr:
		return exprString(x.Fun) + "(...)"
	case *ast.CompositeLit:
		return exprString(x.Type) + "{...}"
	}
	return fmt.Sprintf("%T", e)
}
