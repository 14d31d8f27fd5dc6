// Package gwconformance runs the HTTPRoute conformance tests of the Gateway
// API module through routedeck: see the package's test.
package gwconformance
