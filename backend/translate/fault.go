package translate

import (
	faultcommonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"

	"github.com/routedeck/routedeck/backend/model"
)

// faultPolicy injects delays and aborts (then.fault) with Envoy's fault
// filter, configured per route.
var faultPolicy = httpPolicy{
	filter: "envoy.filters.http.fault",
	perRoute: func(r *model.Route, _ map[string]*model.Upstream, problems *model.Problems) (validatable, string, any) {
		if r.Then.Fault == nil {
			return nil, "", nil
		}
		return fault(r.Then.Fault, problems), "then.fault", nil
	},
	hcm: func(map[string]any) (validatable, bool) { return &faultv3.HTTPFault{}, false },
	key: func(e *keyEncoder, a *model.Action) {
		if f := a.Fault; e.present(f != nil) {
			if d := f.Delay; e.present(d != nil) {
				e.dur(d.Duration)
				e.float(d.Percent)
			}
			if ab := f.Abort; e.present(ab != nil) {
				e.int(int64(ab.Status))
				e.float(ab.Percent)
			}
		}
	},
}

func fault(f *model.Fault, problems *model.Problems) *faultv3.HTTPFault {
	out := &faultv3.HTTPFault{}
	if f.Delay == nil && f.Abort == nil {
		problems.Add("then.fault", "set delay, abort or both")
	}
	if d := f.Delay; d != nil {
		if d.Duration <= 0 {
			problems.Add("then.fault.delay.duration", "must be positive")
		}
		checkPercent(problems, "then.fault.delay.percent", d.Percent)
		out.Delay = &faultcommonv3.FaultDelay{
			FaultDelaySecifier: &faultcommonv3.FaultDelay_FixedDelay{FixedDelay: duration(d.Duration)},
			Percentage:         fraction(d.Percent),
		}
	}
	if ab := f.Abort; ab != nil {
		if ab.Status < 200 || ab.Status > 599 {
			problems.Add("then.fault.abort.status", "must be between 200 and 599")
		}
		checkPercent(problems, "then.fault.abort.percent", ab.Percent)
		out.Abort = &faultv3.FaultAbort{
			ErrorType:  &faultv3.FaultAbort_HttpStatus{HttpStatus: uint32(ab.Status)},
			Percentage: fraction(ab.Percent),
		}
	}
	return out
}

func checkPercent(problems *model.Problems, path string, p float64) {
	if p < 0 || p > 100 {
		problems.Add(path, "must be between 0 and 100")
	}
}
