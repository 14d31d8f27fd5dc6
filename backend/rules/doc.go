// Package rules is the condition language and the reference semantics of
// routedeck's rules.
package rules
