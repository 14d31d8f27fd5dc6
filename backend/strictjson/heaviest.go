package strictjson

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/routedeck/routedeck/backend/model"
)

// Heaviest is heaviest for callers that refuse a body over their own
// limit and want to name the field that filled it.
func Heaviest(raw []byte) string { return heaviest(raw) }

// heaviest names the part of the JSON value raw that makes it large: from
// the top, it follows the member or element holding more than half of its
// parent's bytes, a few levels at most, so an object over the size bound
// is reported at the field to shorten ("then.respond.body",
// "then.forward") rather than as a whole. It returns "" when no single
// part dominates. raw may be cut short (a body over its limit): the value
// being read when the input ends counts up to the end.
func heaviest(raw []byte) string {
	path := ""
	for range 8 {
		key, child, ok := largestPart(raw)
		if !ok || 2*len(child) <= len(raw) {
			break
		}
		path = model.JoinPath(path, key)
		raw = child
	}
	return path
}

// largestPart returns the largest member of the object (or element of the
// list) raw, with its key ("name" or "[3]") and its text.
func largestPart(raw []byte) (key string, part []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return "", nil, false
	}
	delim, isDelim := tok.(json.Delim)
	if !isDelim || (delim != '{' && delim != '[') {
		return "", nil, false
	}
	for i := 0; dec.More(); i++ {
		k := "[" + strconv.Itoa(i) + "]"
		if delim == '{' {
			t, err := dec.Token()
			if err != nil {
				break
			}
			s, _ := t.(string)
			k = s
		}
		start := dec.InputOffset()
		var skip json.RawMessage
		err := dec.Decode(&skip)
		end := dec.InputOffset()
		if err != nil {
			end = int64(len(raw)) // cut short: this value runs to the end
		}
		if v := bytes.TrimLeft(raw[start:end], " \t\r\n:,"); len(v) > len(part) {
			key, part, ok = k, v, true
		}
		if err != nil {
			break
		}
	}
	return key, part, ok
}
