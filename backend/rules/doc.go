// Package rules is routedeck's condition language and the reference
// semantics of a rule set: what a gateway does with a request. The
// translator must produce Envoy configuration that routes every request the
// way Evaluate says, and the sandbox checks that it does.
//
// # The condition language
//
// A rule's condition is written as text or as a tree (model.Condition); the
// two are interchangeable. Parse reads text, Format prints the canonical
// text, and Parse(Format(c)) equals Normalize(c) for every tree.
//
//	host == "shop.example.com" && (path.prefix("/v1") || header["x-canary"] == "1")
//	    && method in ["GET", "HEAD"] && !query["debug"].present()
//
// Grammar (|| binds looser than &&, ! binds tightest; whitespace and line
// breaks are free):
//
//	expr      = and { "||" and }
//	and       = unary { "&&" unary }
//	unary     = "!" unary | "(" expr ")" | predicate
//	predicate = field ( "==" str | "!=" str | "in" list | "not" "in" list
//	                  | "." method "(" [ arg { "," arg } ] ")" )
//	field     = "host" | "path" | "method" | "scheme"
//	          | "grpc" | "grpc.service" | "grpc.method"
//	          | ( "header" | "query" | "cookie" ) "[" str "]"
//	method    = "equals" | "notEquals" | "prefix" | "suffix" | "contains" | "regex"
//	          | "in" | "notIn" | "present" | "absent"
//	          | "exact" | "segmentPrefix" | "template"          (path only)
//	arg       = str | list | "ignoreCase"
//	list      = "[" [ str { "," str } ] "]"
//	str       = a JSON string literal: "a \"b\" \\ \n \t \u00e9"
//
// A predicate is one unit, so !header["x"] == "a" negates the whole
// comparison. Each operator has a method form (== is .equals(...), in is
// .in([...]), and so on); the method form is the only one that takes the
// ignoreCase flag: header["x-env"].equals("prod", ignoreCase),
// path.prefix("/API", ignoreCase). Regular expressions are written
// .regex("...") (there is no =~ operator). The empty text is the empty
// condition and matches every request.
//
// Parse checks syntax only and reports errors as "line:column: message"
// (*SyntaxError); model.Condition.Validate judges whether an operator suits
// a field (for example .present() on path, or ignoreCase with .regex).
//
// Format prints == != in and not in as operators unless ignoreCase is set,
// everything else in method form, and parentheses only where the tree needs
// them: around a group nested in another group (a nested group of the same
// kind is kept, not flattened) and always around the operand of !, so
// !(header["x"] == "a") cannot be misread. The frontend has a port of the
// same grammar and printer.
//
// Resolve and ResolveWorkspace replace every model.Condition.Text (text that
// arrived over the API or in a file) with the parsed tree; the API and the
// file loader call them before Validate.
//
// # Which rule matches
//
// Evaluate considers the rules of one gateway, ordered by priority (higher
// first), then by name. Disabled rules are skipped. The first rule whose
// condition holds wins; if none does, the gateway's default response (or
// Envoy's 404) applies.
//
// # What each field sees
//
// The request is first prepared the way the translated HTTP connection
// manager prepares it:
//
//   - host: the Host header (or :authority), else the URL's host, with any
//     ":port" ignored (the translator sets ignore_port_in_host_matching,
//     which leaves the header the upstream receives as sent; an IPv6
//     literal keeps its brackets). Every host comparison is ASCII
//     case-insensitive, including prefix, suffix, contains and regex.
//     "*.example.com" (in ==, !=, in, not in) matches a.example.com and
//     a.b.example.com but not example.com.
//   - path: the request target without "?query" and "#fragment", not
//     decoded and not normalised; "" is "/".
//   - method: as sent (GET when empty), case-sensitive.
//   - scheme: Request.Scheme, else the URL's scheme, else http; lower-cased.
//   - header["n"]: names are case-insensitive; repeated headers are joined
//     with "," before matching, except Cookie headers, which are joined with
//     "; " (Envoy coalesces cookies that way).
//   - query["n"]: the raw query is split on "&" and at the first "=", NOT
//     URL-decoded ("a%20b" stays as it is, "+" is not a space); only the
//     first value of a repeated key counts; a key without "=" has value "".
//   - cookie["n"]: every cookie of that name in any Cookie header,
//     surrounding double quotes removed, not decoded. A value test holds
//     when some of them passes it ("a=1; a=2" matches cookie["a"] == "2"),
//     and != / not in hold when there is one and none of them is equal,
//     as the translator's regex over the coalesced header does.
//   - grpc: present when content-type is exactly "application/grpc" or
//     starts with "application/grpc+" (so application/grpc-web is not).
//   - grpc.service / grpc.method: from a gRPC request's path
//     "/service/method" (two non-empty segments); for any other request
//     they are missing.
//
// # What each operator means
//
// Comparisons are case-sensitive unless the field is host or the predicate
// has ignoreCase, which folds ASCII letters only (as Envoy does).
//
//   - == / exact: equal. != : present and not equal. in / not in: equal to
//     one of / none of the values.
//   - prefix, suffix, contains: string tests (values must be non-empty).
//   - regex: RE2, full match (anchored at both ends).
//   - segmentPrefix("/api"): the path is /api or starts with /api/.
//   - template("/users/{id}/**"): Envoy's uri_template: * and {v} match one
//     non-empty segment, ** matches any run of segment characters and '/'
//     (only literals may follow it), so "/files/**" matches "/files/" and
//     "/files/a/b" but not "/files"; "/**.mpd" and "/v/{f}.mp4" end in a
//     literal suffix. See model.ParsePathTemplate.
//   - present / absent: the header, query parameter, cookie or gRPC-ness is
//     there or not (an empty value is present).
//
// Every value operator is false when the subject is missing, and that
// includes != and not in: header["x"] != "a" is false for a request without
// x, exactly like Envoy's invert_match on a missing header. To say "absent
// or different", negate the equality: !(header["x"] == "a"), which the
// translator expresses as a separate present_match:false route.
//
// # What a matched rule does
//
// Forward picks a backend as Envoy's weighted clusters do: with total = the
// sum of the weights (a lone backend without a weight counts 1),
// v = Request.Random % total, and the first backend with
// begin <= v < begin+weight wins, so weight-0 backends are never picked.
//
// Rewrites give the :path and Host the upstream receives (Result.Path,
// Result.Host; Host has the port already stripped):
//
//   - rewrite.pathPrefix replaces the first len(p) bytes of the full :path,
//     query included, where p is the value of the rule's single top-level
//     path prefix, segmentPrefix, exact or == predicate (Validate insists
//     there is exactly one). No slashes are fixed up: "/prefix" rewritten to
//     "/" turns "/prefix/etc" into "//etc".
//   - rewrite.pathRegex is a replace-all on the path without the query, with
//     Envoy's \1 substitution syntax; the query is appended unchanged.
//   - rewrite.pathTemplate fills the variables of the rule's top-level
//     path.template predicate; the query is kept.
//   - rewrite.host sets Host; hostFromHeader copies the first value of that
//     header unless it is missing or empty; autoHost depends on the endpoint
//     and is only flagged (Result.AutoHost).
//
// Redirect builds the Location as scheme://host[:port]path: the redirect's
// scheme, else the request's; its host, else the request's (already without
// port); ":port" only when redirect.port is set. The path is redirect.path
// (used verbatim if it contains "?", otherwise the request query is added
// unless stripQuery), or the :path with the matched prefix replaced by
// redirect.pathPrefix, or the request's :path; stripQuery drops the query.
// The status defaults to 301.
//
// Respond answers with its status and body.
//
// # Trace
//
// Result.Trace lists the rules tried in order up to and including the
// match. For each, Conditions holds every node of the condition in
// pre-order with its text and result; all predicates are evaluated (no
// short-circuit) so the trace shows each one. The members of a top-level
// && are the depth-0 conditions; FirstFailing names the first false one,
// the reason a near miss missed.
//
// A trace of every rule tried grows with the rule set. Program.Explain
// gives the same verdict with a bounded account instead: the winner's
// trace, how many rules were tried before it and the first of them in
// brief, and the first near misses (rules with two or more top-level
// conditions of which exactly one was false) in full; Program.TracePage
// gives the full trace a page at a time.
//
// Compile builds a Program once for many requests; Evaluate compiles on
// every call. Lint reports rules shadowed by an earlier catch-all, by an
// earlier rule with the same condition, or by an earlier rule that provably
// matches every request the later one does.
package rules
