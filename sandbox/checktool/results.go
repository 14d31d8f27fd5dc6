package checktool

import (
	"fmt"
	"os"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

var (
	itemResultType   = schemaFile.Messages().ByName("ValidationItemResult")
	failureType      = schemaFile.Messages().ByName("ValidationFailure")
	headerFailureTyp = schemaFile.Messages().ByName("HeaderMatchFailure")
)

// failureRecord is one test's ValidationFailure: the expected and actual
// value of each assertion that failed, as Envoy's tool records them for
// --output-path.
type failureRecord struct{ m *dynamicpb.Message }

func newFailureRecord() failureRecord { return failureRecord{dynamicpb.NewMessage(failureType)} }

// pair sets expected_<name> and actual_<name>.
func (r failureRecord) pair(name string, expected, actual proto.Message) {
	fields := failureType.Fields()
	r.m.Set(fields.ByName(protoreflect.Name("expected_"+name)), protoreflect.ValueOfMessage(expected.ProtoReflect()))
	r.m.Set(fields.ByName(protoreflect.Name("actual_"+name)), protoreflect.ValueOfMessage(actual.ProtoReflect()))
}

func (r failureRecord) strings(name, expected, actual string) {
	r.pair(name, wrapperspb.String(expected), wrapperspb.String(actual))
}

// headerMatch appends a failed header matcher of one side ("request" or
// "response") with the header's value, "" when it is absent.
func (r failureRecord) headerMatch(side string, hm *routev3.HeaderMatcher, actual string) {
	hf := dynamicpb.NewMessage(headerFailureTyp)
	hf.Set(headerFailureTyp.Fields().ByName("header_matcher"), protoreflect.ValueOfMessage(hm.ProtoReflect()))
	hf.Set(headerFailureTyp.Fields().ByName("actual_header_value"), protoreflect.ValueOfMessage(wrapperspb.String(actual).ProtoReflect()))
	list := r.m.Mutable(failureType.Fields().ByName(protoreflect.Name(side + "_header_match_failures"))).List()
	list.Append(protoreflect.ValueOfMessage(hf))
}

// writeResults writes --output-path as Envoy's tool does: a
// ValidationResult in protobuf binary, one item per test (only the failed
// ones with --only-show-failures), a failed test carrying its failure
// record even when no assertion fills it.
func writeResults(path string, results []Result, onlyFailures bool) error {
	out := dynamicpb.NewMessage(resultType)
	list := out.Mutable(resultType.Fields().ByName("test_results")).List()
	fields := itemResultType.Fields()
	for _, r := range results {
		if onlyFailures && r.Passed {
			continue
		}
		item := dynamicpb.NewMessage(itemResultType)
		item.Set(fields.ByName("test_name"), protoreflect.ValueOfString(r.TestName))
		item.Set(fields.ByName("test_passed"), protoreflect.ValueOfBool(r.Passed))
		if !r.Passed {
			f := r.failure.m
			if f == nil {
				f = dynamicpb.NewMessage(failureType)
			}
			item.Set(fields.ByName("failure"), protoreflect.ValueOfMessage(f))
		}
		list.Append(protoreflect.ValueOfMessage(item))
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(out)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("Failed to open file for write %s", path)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("Failed to write output to file %s, error: %v", path, err)
	}
	return nil
}
