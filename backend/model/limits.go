package model

// Limits on what one object may hold. Every input path (the API, the CLI's
// files, importers) decodes through backend/strictjson and validates with
// this package, so the same bounds hold everywhere; the README lists them.
// They keep one request's cost in memory and time small and predictable,
// and most are also what Envoy accepts, so a draft that passes them does
// not fail later at publish.
const (
	// MaxNameLen keeps names usable as DNS labels and Envoy resource
	// names (with the charset of validateName: lowercase letters, digits,
	// '-' and '.').
	MaxNameLen = 63

	// MaxObjectBytes bounds the JSON encoding of one object (a route, an
	// upstream, a gateway, a secret). Revisions, diffs and list pages are
	// proportional to it.
	MaxObjectBytes = 1 << 20

	// MaxJSONDepth bounds the nesting of any JSON document: deep enough
	// for a condition at MaxConditionDepth inside a workspace (an all or
	// any level is two JSON levels), and refused while reading, before
	// any tree is built.
	MaxJSONDepth = 2*MaxConditionDepth + 16

	// MaxConditionDepth bounds how deeply all, any and not nest: the same
	// bound as the condition text parser's, so both forms accept the same
	// trees.
	MaxConditionDepth = 200

	// MaxConditionNodes bounds the nodes (all, any, not and predicates)
	// of one condition tree. Publishing refuses far smaller trees anyway
	// when any and not expand to more than 64 Envoy routes.
	MaxConditionNodes = 1000

	// MaxInValues bounds the values of one in or not-in test.
	MaxInValues = 10_000

	// MaxValueBytes bounds one value a condition compares with, and a
	// header value set by a rule or a mock response: Envoy's bound for a
	// configured header value.
	MaxValueBytes = 16 << 10

	// MaxRegexBytes bounds the text of a regex. Longer patterns cost
	// memory to compile and cannot fit MaxRegexProgramSize anyway unless
	// they are mostly one character class.
	MaxRegexBytes = 4096

	// MaxRegexProgramSize bounds the compiled size of every regex, the
	// user's own and those the translator builds from conditions, as Go's
	// regexp/syntax counts instructions. Envoy refuses a regex whose RE2
	// program is larger than re2.max_program_size.error_level (100 unless
	// set), and the generated bootstrap raises that to twice this bound.
	// The two are not the same measure: RE2 (C++) compiles to UTF-8 byte
	// ranges where Go compiles to runes, so RE2's count is usually the
	// larger one, by a small factor for patterns with '.' or non-ASCII
	// classes; the factor of two is the headroom for that difference.
	MaxRegexProgramSize = 500

	// MaxHeaderNameBytes bounds a header, cookie or query parameter name
	// in a condition or a header policy.
	MaxHeaderNameBytes = 256

	// MaxDescriptionBytes and MaxDescriptionLines bound a description:
	// a note for people, kept in every revision.
	MaxDescriptionBytes = 4096
	MaxDescriptionLines = 100

	// MaxPEMBytes bounds a secret's certificate chain, private key or CA
	// bundle (a system CA bundle is about 220 KB).
	MaxPEMBytes = 512 << 10

	// MaxInlineJWKSBytes bounds an inline JWKS document.
	MaxInlineJWKSBytes = 64 << 10

	// MaxRouteListeners bounds the listeners one rule names; a gateway
	// with more listeners than this is served by leaving the list empty.
	MaxRouteListeners = 64

	// MaxUint32 is the largest value of Envoy's uint32 fields (weights,
	// thresholds, retry counts, token buckets): a larger number would wrap.
	MaxUint32 = 1<<32 - 1
)
