package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// faultDef is the fault injection filter; the same HTTPFault configures
// it per route.
var faultDef = filterDef{
	kind:    filterFault,
	types:   []string{"type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"},
	perType: "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
	compile: func(a *anypb.Any) (filterImpl, error) {
		m, err := unpackAny(a, &faultv3.HTTPFault{})
		if err != nil {
			return nil, err
		}
		return compileFault(m)
	},
}

type faultFilter struct {
	delay        time.Duration
	delayPercent uint64 // per million
	abortStatus  int
	abortPercent uint64
}

func compileFault(m *faultv3.HTTPFault) (filterImpl, error) {
	f := &faultFilter{}
	if d := m.GetDelay(); d != nil {
		if d.GetFixedDelay() == nil {
			return nil, fmt.Errorf("fault delay: only fixed_delay is supported")
		}
		f.delay = d.GetFixedDelay().AsDuration()
		f.delayPercent = percentMillion(d.GetPercentage())
	}
	if a := m.GetAbort(); a != nil {
		switch a.GetErrorType().(type) {
		case *faultv3.FaultAbort_HttpStatus:
			f.abortStatus = int(a.GetHttpStatus())
		default:
			return nil, fmt.Errorf("fault abort: only http_status is supported")
		}
		f.abortPercent = percentMillion(a.GetPercentage())
	}
	return f, nil
}

func (f *faultFilter) decode(fc *filterCtx) *localReply {
	// Independent draws, as Envoy's fault filter consults the runtime
	// separately for the delay and the abort.
	if f.delay > 0 && rand.Uint64N(1_000_000) < f.delayPercent {
		fc.note("fault: delayed %v", f.delay)
		fc.flags = addFlag(fc.flags, "DI")
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-fc.ctx.Done():
			// The client is gone; nothing will be answered.
			t.Stop()
		}
	}
	if f.abortStatus != 0 && rand.Uint64N(1_000_000) < f.abortPercent {
		fc.note("fault: aborted with %d", f.abortStatus)
		return &localReply{status: f.abortStatus, body: "fault filter abort", by: "fault", flag: "FI"}
	}
	return nil
}
