// Package model holds routedeck's domain types: gateways, upstreams, routes
// with their condition trees, actions and policies, and the error kinds every
// other package reports. It depends on the standard library only, so that the
// translator, the store, the API and the rules engine all agree on one
// vocabulary without importing each other.
package model
