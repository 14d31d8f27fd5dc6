package strictjson

import (
	"strconv"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// Hidden reports whether a problem at path, found by checking a value that
// decoded with the problems decoded, only follows from one of them: path
// is the field of one of them or lies under it. A field that failed to
// decode was left at its zero value, so "required" there would repeat the
// decoding problem in misleading words. An unknown key hides the field it
// was meant to be as well: the one its suggestion names (`Name: unknown
// field (did you mean "name"?)`), or a field beside it spelt within two
// letters of it ("gatway" hides "gateway: required").
func Hidden(path string, decoded []model.FieldError) bool {
	for _, fe := range decoded {
		if fe.Field == "" {
			continue
		}
		if under(path, fe.Field) {
			return true
		}
		if !strings.HasPrefix(fe.Message, "unknown field") {
			continue
		}
		if meant, ok := suggested(fe); ok && under(path, meant) {
			return true
		}
		parent, key, ok := splitLast(fe.Field)
		p, k, pok := splitLast(path)
		if ok && pok && p == parent && misspelt(key, k) {
			return true
		}
	}
	return false
}

// under reports whether path is field or a path inside it.
func under(path, field string) bool {
	rest, ok := strings.CutPrefix(path, field)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

// suggested is the path of the field a problem's "did you mean" names.
func suggested(fe model.FieldError) (string, bool) {
	_, q, ok := strings.Cut(fe.Message, "did you mean ")
	if !ok {
		return "", false
	}
	q, _, ok = strings.Cut(q, "?)")
	if !ok {
		return "", false
	}
	name, err := strconv.Unquote(q)
	if err != nil {
		return "", false
	}
	parent, _, _ := splitLast(fe.Field)
	return model.JoinPath(parent, name), true
}

// splitLast splits the last key off a path: "then.forwrd" is "then" and
// "forwrd". A path that ends in an index has no last key.
func splitLast(path string) (parent, key string, ok bool) {
	if path == "" || strings.HasSuffix(path, "]") {
		return "", "", false
	}
	i := strings.LastIndexByte(path, '.')
	return path[:max(i, 0)], path[i+1:], true
}

// misspelt reports whether typed is within two edits of name, and not
// name itself: a typo of it. Lengths are compared first, so a long
// hostile key costs nothing.
func misspelt(typed, name string) bool {
	if typed == name || len(name) < 4 || len(typed) > len(name)+2 || len(name) > len(typed)+2 {
		return false
	}
	prev := make([]int, len(name)+1)
	cur := make([]int, len(name)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(typed); i++ {
		cur[0] = i
		for j := 1; j <= len(name); j++ {
			cost := 1
			if typed[i-1] == name[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(name)] <= 2
}
