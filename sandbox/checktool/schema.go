package checktool

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// The schema's field types, resolved from the global registry.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/set_metadata/v3"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// The test-file schema is Envoy's validation.proto, whose Go code nobody
// publishes. It is described here field by field, so every format Envoy
// reads (JSON, YAML, proto text, binary) is parsed by the protobuf
// runtime with Envoy's strictness, and a field Envoy adds is one line.
const schemaPackage = "envoy.RouterCheckToolSchema"

// schemaField is one field: its name, number, type ("string", "uint64",
// "bool" or a message's full name) and whether it repeats.
type schemaField struct {
	name     string
	number   int32
	typ      string
	repeated bool
}

var schemaMessages = []struct {
	name   string
	fields []schemaField
}{
	{"Validation", []schemaField{
		{"tests", 1, ".envoy.RouterCheckToolSchema.ValidationItem", true},
		// A static runtime layer for the whole file.
		{"runtime", 2, ".google.protobuf.Struct", false},
	}},
	{"ValidationItem", []schemaField{
		{"test_name", 1, "string", false},
		{"input", 2, ".envoy.RouterCheckToolSchema.ValidationInput", false},
		{"validate", 3, ".envoy.RouterCheckToolSchema.ValidationAssert", false},
	}},
	{"ValidationInput", []schemaField{
		{"authority", 1, "string", false},
		{"path", 2, "string", false},
		{"method", 4, "string", false},
		{"random_value", 5, "uint64", false},
		{"ssl", 6, "bool", false},
		{"internal", 7, "bool", false},
		// 8 was additional_headers, reserved since.
		{"runtime", 9, "string", false},
		{"additional_request_headers", 10, ".envoy.config.core.v3.HeaderValue", true},
		{"additional_response_headers", 11, ".envoy.config.core.v3.HeaderValue", true},
		{"dynamic_metadata", 12, ".envoy.extensions.filters.http.set_metadata.v3.Metadata", true},
	}},
	{"ValidationAssert", []schemaField{
		{"cluster_name", 1, ".google.protobuf.StringValue", false},
		{"virtual_cluster_name", 2, ".google.protobuf.StringValue", false},
		{"virtual_host_name", 3, ".google.protobuf.StringValue", false},
		{"host_rewrite", 4, ".google.protobuf.StringValue", false},
		{"path_rewrite", 5, ".google.protobuf.StringValue", false},
		{"path_redirect", 6, ".google.protobuf.StringValue", false},
		// 7 and 8 were header_fields and custom_header_fields.
		{"request_header_fields", 9, ".envoy.config.core.v3.HeaderValue", true},
		{"response_header_fields", 10, ".envoy.config.core.v3.HeaderValue", true},
		{"request_header_matches", 11, ".envoy.config.route.v3.HeaderMatcher", true},
		{"response_header_matches", 12, ".envoy.config.route.v3.HeaderMatcher", true},
		{"code_redirect", 13, ".google.protobuf.UInt32Value", false},
		{"timeout", 14, ".google.protobuf.Duration", false},
		{"route_metadata", 15, ".envoy.RouterCheckToolSchema.RouteMetadata", true},
	}},
	// One string value of the matched route's filter metadata.
	{"RouteMetadata", []schemaField{
		{"namespace", 1, "string", false},
		{"key", 2, "string", false},
		{"value", 3, "string", false},
	}},
	// What --output-path holds: the results, serialized in binary.
	{"ValidationResult", []schemaField{
		{"test_results", 1, ".envoy.RouterCheckToolSchema.ValidationItemResult", true},
	}},
	{"ValidationItemResult", []schemaField{
		{"test_name", 1, "string", false},
		{"test_passed", 2, "bool", false},
		{"failure", 3, ".envoy.RouterCheckToolSchema.ValidationFailure", false},
	}},
	// Each pair is set only when that assertion failed.
	{"ValidationFailure", []schemaField{
		{"expected_cluster_name", 1, ".google.protobuf.StringValue", false},
		{"actual_cluster_name", 2, ".google.protobuf.StringValue", false},
		{"expected_virtual_cluster_name", 3, ".google.protobuf.StringValue", false},
		{"actual_virtual_cluster_name", 4, ".google.protobuf.StringValue", false},
		{"expected_virtual_host_name", 5, ".google.protobuf.StringValue", false},
		{"actual_virtual_host_name", 6, ".google.protobuf.StringValue", false},
		{"expected_host_rewrite", 7, ".google.protobuf.StringValue", false},
		{"actual_host_rewrite", 8, ".google.protobuf.StringValue", false},
		{"expected_path_rewrite", 9, ".google.protobuf.StringValue", false},
		{"actual_path_rewrite", 10, ".google.protobuf.StringValue", false},
		{"expected_path_redirect", 11, ".google.protobuf.StringValue", false},
		{"actual_path_redirect", 12, ".google.protobuf.StringValue", false},
		{"expected_code_redirect", 13, ".google.protobuf.UInt32Value", false},
		{"actual_code_redirect", 14, ".google.protobuf.UInt32Value", false},
		{"request_header_match_failures", 15, ".envoy.RouterCheckToolSchema.HeaderMatchFailure", true},
		{"response_header_match_failures", 16, ".envoy.RouterCheckToolSchema.HeaderMatchFailure", true},
	}},
	{"HeaderMatchFailure", []schemaField{
		{"header_matcher", 1, ".envoy.config.route.v3.HeaderMatcher", false},
		{"actual_header_value", 2, ".google.protobuf.StringValue", false},
	}},
}

// schemaFile describes envoy.RouterCheckToolSchema; validationType reads
// test files and resultType is what --output-path writes.
var (
	schemaFile     = buildSchema()
	validationType = schemaFile.Messages().ByName("Validation")
	resultType     = schemaFile.Messages().ByName("ValidationResult")
)

func buildSchema() protoreflect.FileDescriptor {
	scalars := map[string]descriptorpb.FieldDescriptorProto_Type{
		"string": descriptorpb.FieldDescriptorProto_TYPE_STRING,
		"uint64": descriptorpb.FieldDescriptorProto_TYPE_UINT64,
		"bool":   descriptorpb.FieldDescriptorProto_TYPE_BOOL,
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("routedeck/checktool/validation.proto"),
		Package: proto.String(schemaPackage),
		Syntax:  proto.String("proto3"),
		Dependency: []string{
			"envoy/config/core/v3/base.proto",
			"envoy/config/route/v3/route_components.proto",
			"envoy/extensions/filters/http/set_metadata/v3/set_metadata.proto",
			"google/protobuf/duration.proto",
			"google/protobuf/struct.proto",
			"google/protobuf/wrappers.proto",
		},
	}
	for _, m := range schemaMessages {
		md := &descriptorpb.DescriptorProto{Name: proto.String(m.name)}
		for _, f := range m.fields {
			fp := &descriptorpb.FieldDescriptorProto{
				Name: proto.String(f.name), Number: proto.Int32(f.number),
				JsonName: proto.String(jsonName(f.name)),
				Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}
			if f.repeated {
				fp.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
			}
			if t, ok := scalars[f.typ]; ok {
				fp.Type = t.Enum()
			} else {
				fp.Type = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
				fp.TypeName = proto.String(f.typ)
			}
			md.Field = append(md.Field, fp)
		}
		fd.MessageType = append(fd.MessageType, md)
	}
	file, err := protodesc.NewFile(fd, protoregistry.GlobalFiles)
	if err != nil {
		panic(fmt.Sprintf("router check schema: %v", err))
	}
	return file
}

// jsonName is protoc's lowerCamelCase JSON name, which JSON files may use
// instead of the field name.
func jsonName(s string) string {
	out := make([]byte, 0, len(s))
	up := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			up = true
		case up && 'a' <= c && c <= 'z':
			out, up = append(out, c-'a'+'A'), false
		default:
			out, up = append(out, c), false
		}
	}
	return string(out)
}
