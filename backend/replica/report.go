package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/xds"
)

// ReportPrefix is the Consul KV folder replicas report under, outside the
// published tree (routedeck/v1), so a report never wakes the replicas'
// watch of that tree:
//
//	routedeck/replicas/status/<replica>                  the replica's Status
//	routedeck/replicas/proxies/<gateway>/<replica>/<n>   its proxies of the gateway
//
// Every key is held by the replica's Consul session (TTL reportTTL,
// deleted with it): a replica that dies leaves no report behind once
// Consul notices, and its proxies show up under the replica they move to.
const ReportPrefix = "routedeck/replicas"

// Proxy is one proxy of a gateway as a replica reports it: what the
// writer's console lists for the proxies it serves itself, plus the
// replica that holds its stream.
type Proxy struct {
	Node           string            `json:"node"`
	Replica        string            `json:"replica"`
	Connected      bool              `json:"connected"`
	ConnectedSince time.Time         `json:"connectedSince"`
	LastSeen       time.Time         `json:"lastSeen"`
	Acked          map[string]string `json:"acked"`
	// InSync: the proxy runs what the replica serves now.
	InSync bool      `json:"inSync"`
	Nack   *xds.Nack `json:"nack"`
}

// proxiesPerKey bounds one report key's value far below Consul's 512 KiB
// limit on a value (a proxy takes well under 1 KiB).
const proxiesPerKey = 200

// reportTTL is the TTL of the session holding the reports; Consul's
// least. It is renewed at half of it.
const reportTTL = "10s"

// reportEvery is the least time between two writes of the reports: a
// burst of ACKs after a publish is one write, not a thousand.
const reportEvery = 500 * time.Millisecond

func statusKey(replica string) string { return ReportPrefix + "/status/" + replica }

func proxiesFolder(gateway string) string { return ReportPrefix + "/proxies/" + gateway + "/" }

// Proxies are the replica's proxies of gateway, sorted by node.
func (r *Replica) Proxies(gateway string) []Proxy {
	out := []Proxy{}
	for _, p := range r.opts.ADS.Proxies(gateway) {
		out = append(out, Proxy{Node: p.Node, Replica: r.opts.ID, Connected: p.Connected, ConnectedSince: p.ConnectedSince,
			LastSeen: p.LastSeen, Acked: p.Acked, InSync: r.opts.ADS.InSync(gateway, p.Acked), Nack: p.Nack})
	}
	return out
}

// reportValues is every report key of the replica with its value now.
func (r *Replica) reportValues() (map[string][]byte, error) {
	st := r.Status()
	out := map[string][]byte{}
	body, err := json.Marshal(reportedStatus{Status: st, Updated: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	out[statusKey(r.opts.ID)] = body
	for _, gw := range st.Gateways {
		proxies := r.Proxies(gw.Name)
		for i, chunk := range slices.Collect(slices.Chunk(proxies, proxiesPerKey)) {
			body, err := json.Marshal(chunk)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprintf("%s%s/%d", proxiesFolder(gw.Name), r.opts.ID, i)] = body
		}
	}
	return out, nil
}

// reportedStatus is a replica's status key.
type reportedStatus struct {
	Status
	Updated time.Time `json:"updated"`
}

// Report writes the replica's status and proxies to Consul whenever they
// change, at most every reportEvery, until ctx is done; then it destroys
// its session, which deletes the reports. While Consul fails it tries
// again with a growing pause, and rewrites everything once it has a new
// session.
func (r *Replica) Report(ctx context.Context) {
	var (
		session string
		lost    chan struct{} // closed when the session's renewal gave up
		stop    chan struct{} // closed to stop renewing
		written = map[string][]byte{}
		retry   = 200 * time.Millisecond
		timer   <-chan time.Time
		last    time.Time
	)
	endSession := func() {
		if session == "" {
			return
		}
		close(stop)
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		_, _ = r.opts.Consul.Session().Destroy(session, (&consulapi.WriteOptions{}).WithContext(dctx))
		session = ""
	}
	defer endSession()
	proxiesChanged := r.opts.ADS.WatchProxies(ctx)
	dirty := true
	for {
		if dirty && timer == nil {
			timer = time.After(max(0, reportEvery-time.Since(last)))
		}
		select {
		case <-ctx.Done():
			return
		case <-proxiesChanged:
			dirty = true
			continue
		case <-r.changed:
			dirty = true
			continue
		case <-lost:
			r.log.Warn("the consul session holding this replica's reports ended; reporting again with a new one")
			close(stop)
			session, lost, written, dirty = "", nil, map[string][]byte{}, true
			continue
		case <-timer:
			timer = nil
		}
		last = time.Now()
		err := func() error {
			if session == "" {
				id, _, err := r.opts.Consul.Session().Create(&consulapi.SessionEntry{
					Name: "routedeck replica " + r.opts.ID, TTL: reportTTL, Behavior: consulapi.SessionBehaviorDelete,
					LockDelay: time.Millisecond,
				}, (&consulapi.WriteOptions{}).WithContext(ctx))
				if err != nil {
					return fmt.Errorf("create consul session: %w", err)
				}
				session, lost, stop = id, make(chan struct{}), make(chan struct{})
				go func(id string, lost, stop chan struct{}) {
					_ = r.opts.Consul.Session().RenewPeriodic(reportTTL, id, nil, stop)
					close(lost)
				}(id, lost, stop)
			}
			want, err := r.reportValues()
			if err != nil {
				return err
			}
			return r.writeReports(ctx, session, written, want)
		}()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("report proxies to consul", "err", err, "retry_in", retry)
			timer, retry = time.After(retry), min(2*retry, r.opts.RetryMax)
			continue
		}
		retry, dirty = 200*time.Millisecond, false
	}
}

// writeReports brings Consul from written to want, updating written as
// transactions commit.
func (r *Replica) writeReports(ctx context.Context, session string, written, want map[string][]byte) error {
	var ops consulapi.TxnOps
	for _, key := range slices.Sorted(maps.Keys(want)) {
		if old, ok := written[key]; ok && bytes.Equal(old, want[key]) && !strings.HasPrefix(key, statusKey("")) {
			continue
		}
		ops = append(ops, &consulapi.TxnOp{KV: &consulapi.KVTxnOp{Verb: consulapi.KVLock, Key: key, Value: want[key], Session: session}})
	}
	for _, key := range slices.Sorted(maps.Keys(written)) {
		if _, ok := want[key]; !ok {
			ops = append(ops, &consulapi.TxnOp{KV: &consulapi.KVTxnOp{Verb: consulapi.KVDelete, Key: key}})
		}
	}
	for batch := range slices.Chunk(ops, 64) {
		ok, resp, _, err := r.opts.Consul.Txn().Txn(batch, (&consulapi.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return fmt.Errorf("write reports: %w", err)
		}
		if !ok {
			var msgs []string
			for _, e := range resp.Errors {
				msgs = append(msgs, e.What)
			}
			return fmt.Errorf("write reports: %s", strings.Join(msgs, "; "))
		}
		for _, op := range batch {
			if op.KV.Verb == consulapi.KVDelete {
				delete(written, op.KV.Key)
			} else {
				written[op.KV.Key] = op.KV.Value
			}
		}
	}
	return nil
}

// ReadProxies reads the proxies of gateway the replicas report, sorted by
// node and replica. A proxy reported by two replicas (it moved, and the
// one it left has not yet dropped its report) is listed once: connected
// before disconnected, the later connection first.
func ReadProxies(ctx context.Context, client *consulapi.Client, gateway string) ([]Proxy, error) {
	pairs, _, err := client.KV().List(proxiesFolder(gateway), (&consulapi.QueryOptions{AllowStale: true}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read the replicas' proxies from consul: %w", err)
	}
	var all []Proxy
	var errs []error
	for _, p := range pairs {
		var chunk []Proxy
		if err := json.Unmarshal(p.Value, &chunk); err != nil {
			errs = append(errs, fmt.Errorf("consul kv %s: %w", p.Key, err))
			continue
		}
		all = append(all, chunk...)
	}
	return Dedupe(all), errors.Join(errs...)
}

// Dedupe keeps one entry per node: connected before disconnected, then
// the most recent connection. The result is sorted by node.
func Dedupe(proxies []Proxy) []Proxy {
	best := map[string]Proxy{}
	for _, p := range proxies {
		cur, ok := best[p.Node]
		if !ok || better(p, cur) {
			best[p.Node] = p
		}
	}
	out := make([]Proxy, 0, len(best))
	for _, node := range slices.Sorted(maps.Keys(best)) {
		out = append(out, best[node])
	}
	return out
}

func better(a, b Proxy) bool {
	if a.Connected != b.Connected {
		return a.Connected
	}
	if !a.ConnectedSince.Equal(b.ConnectedSince) {
		return a.ConnectedSince.After(b.ConnectedSince)
	}
	return a.Replica < b.Replica
}

// ReadStatuses reads the status every live replica reports, by replica.
func ReadStatuses(ctx context.Context, client *consulapi.Client) ([]Status, error) {
	pairs, _, err := client.KV().List(statusKey(""), (&consulapi.QueryOptions{AllowStale: true}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read the replicas' status from consul: %w", err)
	}
	var out []Status
	var errs []error
	for _, p := range pairs {
		var st reportedStatus
		if err := json.Unmarshal(p.Value, &st); err != nil {
			errs = append(errs, fmt.Errorf("consul kv %s: %w", p.Key, err))
			continue
		}
		out = append(out, st.Status)
	}
	return out, errors.Join(errs...)
}
