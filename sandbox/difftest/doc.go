// Package difftest holds the differential test that keeps the translator
// honest: random rule sets and random requests, routed by the reference
// evaluator (what the rules mean) and by the simulated Envoy running the
// translated configuration, part of it delivered over a real ADS stream and
// exercised with real HTTP requests. Any disagreement is shrunk to a
// minimal rule set and request before it is reported.
//
// TestGatewayAPIDifferential compares the Gateway API path the same way
// random HTTPRoutes routed by a small reference of the specification
// (hostname intersection, precedence across routes, ReplacePrefixMatch)
// and by the simulated Envoy running their import.
//
// Run more with: go test ./sandbox/difftest -difftest.n=2000000 -difftest.sets=20000
package difftest
