// Package gwconformance runs the HTTPRoute and GRPCRoute conformance tests of the Gateway
// API module through routedeck: see the package's test.
package gwconformance
