package checktool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/input"

	// Register the extension types a route configuration may embed.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/path/match/uri_template/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/path/rewrite/uri_template/v3"
)

// toJSON reads a YAML or JSON file as JSON, within the input limits. JSON
// goes through the YAML reader when it is not strict JSON, which accepts
// what Envoy's lenient JSON reader accepts (such as a trailing comma).
func toJSON(path string) ([]byte, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	isJSON := strings.ToLower(filepath.Ext(path)) == ".json"
	if isJSON && json.Valid(data) {
		return data, nil
	}
	if err := input.CheckYAML(path, data); input.IsLimit(err) {
		return nil, err
	} else if err != nil {
		return nil, parseError(path, isJSON, data, err)
	}
	out, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, parseError(path, isJSON, data, err)
	}
	return out, nil
}

// parseError words a file that does not parse as Envoy does for a JSON
// file, with its content; a YAML file's error names it and the line.
func parseError(path string, isJSON bool, data []byte, err error) error {
	if isJSON {
		return fmt.Errorf("Unable to parse JSON as proto (INVALID_ARGUMENT:%v): %s", err, data)
	}
	return fmt.Errorf("unable to parse %s: %w", path, err)
}

// readFile reads path within the input limits; a file that is not there
// or cannot be read is reported in Envoy's words.
func readFile(path string) ([]byte, error) {
	data, err := input.ReadFile(path)
	switch {
	case err == nil || input.IsLimit(err):
		return data, err
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("Invalid path: %s", path)
	default:
		return nil, fmt.Errorf("unable to read file: %s", path)
	}
}

// loadMessage reads path into m in the format its extension names, as
// Envoy's loader chooses: ".pb" binary, ".pb_text" proto text, ".yaml" or
// ".yml" YAML, anything else JSON. Errors are worded as Envoy words them,
// naming the message type, so a file given in the wrong place says which
// type it was read as.
func loadMessage(path string, m proto.Message) error {
	typ := m.ProtoReflect().Descriptor().FullName()
	switch {
	case strings.HasSuffix(path, ".pb"):
		data, err := readFile(path)
		if err != nil {
			return err
		}
		if proto.Unmarshal(data, m) != nil {
			return fmt.Errorf("Unable to parse file \"%s\" as a binary protobuf (type %s)", path, typ)
		}
		return nil
	case strings.HasSuffix(path, ".pb_text"):
		data, err := readFile(path)
		if err != nil {
			return err
		}
		if prototext.Unmarshal(data, m) != nil {
			return fmt.Errorf("Unable to parse file \"%s\" as a text protobuf (type %s)", path, typ)
		}
		return nil
	}
	js, err := toJSON(path)
	if err != nil {
		return err
	}
	if js, err = normalizeDurations(js); err != nil {
		return fmt.Errorf("unable to parse %s: %w", path, err)
	}
	if err := protojson.Unmarshal(js, m); err != nil {
		if f := unknownField.FindStringSubmatch(err.Error()); f != nil {
			// Envoy reads again ignoring unknown fields and, when that
			// works, refuses the file for the field it does not know.
			// Positions are in the JSON read, which for YAML is its
			// conversion, as in Envoy.
			if (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(js, proto.Clone(m)) == nil {
				return fmt.Errorf("Protobuf message (type %s reason INVALID_ARGUMENT: invalid JSON in %s, near %s: no such field: '%s') has unknown fields", typ, typ, f[1], f[2])
			}
		}
		return fmt.Errorf("Unable to parse JSON as proto (INVALID_ARGUMENT:%s): %s", strings.TrimPrefix(err.Error(), "proto: "), js)
	}
	return nil
}

var unknownField = regexp.MustCompile(`\(line (\d+:\d+)\): unknown field "([^"]+)"`)

// LoadRouteConfig reads an Envoy v3 RouteConfiguration from JSON, YAML,
// proto text or binary, rejecting unknown fields like Envoy does.
func LoadRouteConfig(path string) (*routev3.RouteConfiguration, error) {
	rc := &routev3.RouteConfiguration{}
	if err := loadMessage(path, rc); err != nil {
		return nil, err
	}
	if err := rc.ValidateAll(); err != nil {
		return nil, fmt.Errorf("Proto constraint validation failed (%s)", constraintText(err))
	}
	return rc, nil
}

// constraintText words the constraint violations of a generated validator
// as Envoy's C++ validators word one ("RouteValidationError.Match:
// embedded message failed validation | caused by ..."), and lists every
// violation, separated by "; ", where Envoy stops at the first.
func constraintText(err error) string {
	var parts []string
	if multi, ok := err.(interface{ AllErrors() []error }); ok {
		for _, e := range multi.AllErrors() {
			parts = append(parts, constraintText(e))
		}
		return strings.Join(parts, "; ")
	}
	ve, ok := err.(interface {
		Field() string
		Reason() string
		Cause() error
		ErrorName() string
	})
	if !ok {
		return err.Error()
	}
	out := ve.ErrorName() + "." + ve.Field() + ": " + ve.Reason()
	if c := ve.Cause(); c != nil {
		out += " | caused by " + constraintText(c)
	}
	return out
}

// TestFile is Envoy's router check test schema (validation.proto).
type TestFile struct {
	Tests []TestCase `json:"tests"`
	// Runtime is loaded as a static runtime layer.
	Runtime map[string]any `json:"runtime,omitempty"`
}

// TestCase is one ValidationItem.
type TestCase struct {
	TestName string     `json:"test_name"`
	Input    *Input     `json:"input"`
	Validate *Assertion `json:"validate"`
}

// HeaderValue is envoy.config.core.v3.HeaderValue.
type HeaderValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// DynamicMetadata is one namespace of stream dynamic metadata set before
// routing.
type DynamicMetadata struct {
	Namespace      string          `json:"metadata_namespace"`
	Value          json.RawMessage `json:"value"`
	AllowOverwrite bool            `json:"allow_overwrite"`
}

// Input is ValidationInput.
type Input struct {
	Authority                 string            `json:"authority"`
	Path                      string            `json:"path"`
	Method                    string            `json:"method"`
	RandomValue               Uint64            `json:"random_value"`
	SSL                       bool              `json:"ssl"`
	Internal                  bool              `json:"internal"`
	Runtime                   string            `json:"runtime"`
	AdditionalRequestHeaders  []HeaderValue     `json:"additional_request_headers"`
	AdditionalResponseHeaders []HeaderValue     `json:"additional_response_headers"`
	DynamicMetadata           []DynamicMetadata `json:"dynamic_metadata"`
}

// Assertion is ValidationAssert. Pointers distinguish "not asserted"
// from an asserted empty value.
type Assertion struct {
	ClusterName           *string           `json:"cluster_name"`
	VirtualClusterName    *string           `json:"virtual_cluster_name"`
	VirtualHostName       *string           `json:"virtual_host_name"`
	HostRewrite           *string           `json:"host_rewrite"`
	PathRewrite           *string           `json:"path_rewrite"`
	PathRedirect          *string           `json:"path_redirect"`
	CodeRedirect          *uint32           `json:"code_redirect"`
	RequestHeaderFields   []HeaderValue     `json:"request_header_fields"`
	ResponseHeaderFields  []HeaderValue     `json:"response_header_fields"`
	RequestHeaderMatches  []json.RawMessage `json:"request_header_matches"`
	ResponseHeaderMatches []json.RawMessage `json:"response_header_matches"`
	// Timeout is the matched route's timeout in proto3 JSON form ("15s").
	Timeout       *string               `json:"timeout,omitempty"`
	RouteMetadata []RouteMetadataAssert `json:"route_metadata,omitempty"`
}

// RouteMetadataAssert expects a string value in the matched route's
// filter metadata.
type RouteMetadataAssert struct {
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

// Uint64 accepts a JSON number or a decimal string, as proto3 JSON does
// for 64-bit integers.
type Uint64 uint64

// UnmarshalJSON implements json.Unmarshaler.
func (u *Uint64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("random_value %s is not an unsigned integer", b)
	}
	*u = Uint64(n)
	return nil
}

// LoadTestFile reads and validates a test file in any format Envoy reads
// (see loadMessage).
func LoadTestFile(path string) (*TestFile, error) {
	m := dynamicpb.NewMessage(validationType)
	if err := loadMessage(path, m); err != nil {
		return nil, err
	}
	// The schema has been checked; the typed view is read from its JSON.
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	tf := &TestFile{}
	if err := json.Unmarshal(js, tf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := tf.validate(); err != nil {
		return nil, fmt.Errorf("Proto constraint validation failed (%w)", err)
	}
	return tf, nil
}

// validate applies validation.proto's constraints, reporting them all,
// each worded as Envoy's validators word it.
func (tf *TestFile) validate() error {
	var errs []string
	if len(tf.Tests) == 0 {
		errs = append(errs, "ValidationValidationError.Tests: value must contain at least 1 item(s)")
	}
	for i, t := range tf.Tests {
		item := func(field, reason string) {
			errs = append(errs, fmt.Sprintf("ValidationValidationError.Tests[%d]: embedded message failed validation | caused by ValidationItemValidationError.%s: %s", i, field, reason))
		}
		input := func(field, reason string) {
			item("Input", "embedded message failed validation | caused by ValidationInputValidationError."+field+": "+reason)
		}
		if t.TestName == "" {
			item("TestName", "value length must be at least 1 characters")
		}
		if t.Input == nil {
			item("Input", "value is required")
		} else {
			if t.Input.Authority == "" {
				input("Authority", "value length must be at least 1 characters")
			}
			if t.Input.Path == "" {
				input("Path", "value length must be at least 1 characters")
			}
			if utf8.RuneCountInString(t.Input.Method) < 3 {
				input("Method", "value length must be at least 3 characters")
			}
		}
		if t.Validate == nil {
			item("Validate", "value is required")
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// normalizeDurations rewrites {seconds, nanos} objects to the "1.5s"
// string form proto3 JSON requires; Envoy's loader accepts both.
func normalizeDurations(js []byte) ([]byte, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(walkDurations(v))
}

func walkDurations(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) > 0 && len(t) <= 2 {
			secs, hasS := t["seconds"]
			nanos, hasN := t["nanos"]
			if (hasS || hasN) && len(t) == btoi(hasS)+btoi(hasN) {
				s, _ := strconv.ParseInt(fmt.Sprint(orZero(secs)), 10, 64)
				n, _ := strconv.ParseInt(fmt.Sprint(orZero(nanos)), 10, 64)
				return strconv.FormatFloat(float64(s)+float64(n)/1e9, 'f', -1, 64) + "s"
			}
		}
		for k, e := range t {
			t[k] = walkDurations(e)
		}
	case []any:
		for i, e := range t {
			t[i] = walkDurations(e)
		}
	}
	return v
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orZero(v any) any {
	if v == nil {
		return 0
	}
	return v
}
