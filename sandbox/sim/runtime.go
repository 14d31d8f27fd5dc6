package sim

import (
	"strconv"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// Runtime is the part of Envoy's runtime the router reads.
type Runtime interface {
	// FeatureEnabled reports whether a runtime_fraction is on for this
	// random value; def is the configured default_value.
	FeatureEnabled(key string, def *typev3.FractionalPercent, random uint64) bool
	// Integer returns the integer value of key, or def when it is unset.
	Integer(key string, def uint64) uint64
}

// StaticRuntime is a runtime layer of string values, like Envoy's static
// layer. A nil map is the empty runtime.
type StaticRuntime map[string]string

// FeatureEnabled follows Envoy's Snapshot::featureEnabled: an integer value
// of key is a percentage out of 100, otherwise the default applies.
func (s StaticRuntime) FeatureEnabled(key string, def *typev3.FractionalPercent, random uint64) bool {
	if v, ok := s[key]; ok && key != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return EvaluateFraction(n, 100, random)
		}
	}
	return EvaluateFraction(uint64(def.GetNumerator()), denominator(def.GetDenominator()), random)
}

// Integer returns the value of key parsed as an unsigned integer, or def.
func (s StaticRuntime) Integer(key string, def uint64) uint64 {
	if v, ok := s[key]; ok {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

// EvaluateFraction is Envoy's evaluateFractionalPercent: on iff
// random % denominator < numerator (strictly less).
func EvaluateFraction(numerator, denom, random uint64) bool {
	if denom == 0 {
		return false
	}
	return random%denom < numerator
}

func denominator(d typev3.FractionalPercent_DenominatorType) uint64 {
	switch d {
	case typev3.FractionalPercent_TEN_THOUSAND:
		return 10000
	case typev3.FractionalPercent_MILLION:
		return 1000000
	}
	return 100
}

// fractionalPercent keeps the configured default of a runtime_fraction.
type fractionalPercent struct {
	proto *typev3.FractionalPercent
}

func newFractionalPercent(p *typev3.FractionalPercent) *fractionalPercent {
	if p == nil {
		p = &typev3.FractionalPercent{}
	}
	return &fractionalPercent{proto: p}
}

// DenominatorValue returns the numeric denominator of a FractionalPercent.
func DenominatorValue(p *typev3.FractionalPercent) uint64 { return denominator(p.GetDenominator()) }
