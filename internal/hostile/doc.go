// Package hostile holds the hostile-input corpus: requests and command
// lines an attacker or a careless script might send, each with the answer
// routedeck must give. The test builds the routedeck binary, runs `serve`
// on loopback ports and sends every case of testdata/ (plus the variants
// generated from the full objects in testdata/base) to the API or runs it
// through the CLI. Every case must end in the expected status or exit code
// with the offending field named, store nothing, leave the server
// answering, within 5 s, and without the server's peak RSS passing 300 MiB.
//
// Run it alone with
//
//	go test ./internal/hostile
//	go test ./internal/hostile -run 'TestHostileInput/api/deep-conditions/'
//
// Every failing case is reported under its own name, so one run shows
// which behaviours remain to be fixed.
package hostile
