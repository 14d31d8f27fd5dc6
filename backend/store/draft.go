package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// draftCache is the decoded draft as of one committed generation. Decoding
// thousands of routes for each write would dominate its cost, so the writer
// keeps the last committed draft and reuses it while the stored generation
// is unchanged. Objects in it are never mutated: each write makes a new
// cache from the last one and its changes, at a cost that follows the size
// of the change rather than the size of the draft.
type draftCache struct {
	gen int64
	// objs are the objects as of some earlier generation, shared by the
	// caches made since; over holds what changed since then (nil:
	// deleted). Copying ten thousand entries per write would cost more
	// than the write, so over grows up to maxOverlay entries before a
	// cache gets a map of its own.
	objs map[objKey]model.Object
	over map[objKey]model.Object
	// sorted holds the objects in workspace order.
	sorted []model.Object
	// problems are the validation problems of this draft by the object
	// they are about (the zero key: about none), nil until known. A
	// write is refused only for problems it adds, so a draft that became
	// invalid some other way (a stricter Validate after an upgrade) can
	// still be repaired one object at a time.
	problems      map[objKey][]keyedProblem
	problemsKnown bool
	// refs indexes references between the objects; only the writer
	// uses it, and it moves to the next cache when a write commits.
	refs *draftRefs
	// mu guards gateways, which readers fill in lazily.
	mu sync.Mutex
	// gateways holds the gateway workspaces built from this draft.
	gateways map[string]model.Workspace
	// prev holds, per gateway, the workspace an earlier generation built
	// and the changes written since, so a gateway's workspace after a
	// one-route edit is the last one built with that route replaced
	// (gatewaydraft.go).
	prev map[string]pendingWorkspace
}

// pendingWorkspace is a gateway workspace some generation built and the
// changes of the writes since, in the order written.
type pendingWorkspace struct {
	ws    model.Workspace
	delta []change
}

// maxPending bounds the changes a pendingWorkspace gathers: past it,
// building the workspace whole costs less than applying them.
const maxPending = 64

// change is one object a write changed: before nil for a create, after
// nil for a delete.
type change struct {
	key           objKey
	before, after model.Object
}

// maxOverlay bounds the changes a cache keeps on top of its shared map.
const maxOverlay = 512

// get returns the object of k, or nil.
func (c *draftCache) get(k objKey) model.Object {
	if obj, ok := c.over[k]; ok {
		return obj
	}
	return c.objs[k]
}

// loadDraft returns the committed draft as seen by q's transaction.
func (s *Store) loadDraft(ctx context.Context, q querier) (*draftCache, error) {
	var gen int64
	if err := q.QueryRowContext(ctx, `SELECT generation FROM draft_generation WHERE id = 1`).Scan(&gen); err != nil {
		return nil, fmt.Errorf("read draft generation: %w", err)
	}
	if s.hooks.generationRead != nil {
		s.hooks.generationRead(gen)
	}
	if c, err := s.cachedDraft(ctx, gen); c != nil || err != nil {
		return c, err
	}
	s.draftDecodes.Add(1)
	rows, err := q.QueryContext(ctx, `SELECT `+objectColumns+` FROM objects`)
	if err != nil {
		return nil, fmt.Errorf("read draft: %w", err)
	}
	defer rows.Close()
	c := &draftCache{gen: gen, objs: map[objKey]model.Object{}}
	for rows.Next() {
		obj, err := scanObject(s.keys, rows)
		if err != nil {
			return nil, fmt.Errorf("read draft: %w", err)
		}
		c.objs[keyOf(obj)] = obj
		c.sorted = append(c.sorted, obj)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read draft: %w", err)
	}
	sort.Slice(c.sorted, func(i, j int) bool { return objectLess(c.sorted[i], c.sorted[j]) })
	s.setDraft(c)
	return c, nil
}

// cachedDraft returns the kept draft of generation gen, or nil when none
// is kept. Decoding the whole draft again costs a large workspace tens of
// megabytes and a good part of a second, so a reader that sees the
// generation of a write that committed but has not yet handed its cache
// over waits for it: under a steady stream of writes, readers land in
// that window all the time, and each decoding the draft of its own is
// what made memory and latency grow with the rate of writes.
func (s *Store) cachedDraft(ctx context.Context, gen int64) (*draftCache, error) {
	s.mu.Lock()
	c, w := s.keptDraft(gen), s.committing
	s.mu.Unlock()
	if c != nil || w == nil || w.gen != gen {
		return c, nil
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keptDraft(gen), nil
}

// keptDraft is the kept draft of generation gen, or nil; s.mu held.
func (s *Store) keptDraft(gen int64) *draftCache {
	for _, c := range []*draftCache{s.draft, s.draftBefore} {
		if c != nil && c.gen == gen {
			return c
		}
	}
	return nil
}

func (s *Store) setDraft(c *draftCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draft == nil || c.gen > s.draft.gen {
		s.draftBefore, s.draft = s.draft, c
	} else if c.gen == s.draft.gen {
		s.draft = c
	}
}

// draftCommit is a draft write from its commit until the cache of what
// it committed is kept: done is closed then, or when the commit failed.
type draftCommit struct {
	gen  int64
	done chan struct{}
}

// beginCommit records that the write of generation gen is committing.
func (s *Store) beginCommit(gen int64) *draftCommit {
	w := &draftCommit{gen: gen, done: make(chan struct{})}
	s.mu.Lock()
	s.committing = w
	s.mu.Unlock()
	return w
}

// endCommit releases the readers waiting for w; it may be called again.
func (s *Store) endCommit(w *draftCommit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committing == w {
		s.committing = nil
		close(w.done)
	}
}

// wsKeys maps a list name ("routes") to the key of the object at each index.
type wsKeys map[string][]objKey

// ordered returns the cached objects in workspace order.
func (c *draftCache) ordered() []model.Object { return c.sorted }

// next is the cache after changes, at generation gen. The writer calls it
// once the write committed, and hands the reference index over.
func (c *draftCache) next(gen int64, changes []change, problems map[objKey][]keyedProblem) *draftCache {
	n := &draftCache{gen: gen, objs: c.objs, problems: problems, problemsKnown: problems != nil, refs: c.refs}
	c.refs = nil
	if len(c.over)+len(changes) > maxOverlay {
		n.objs = make(map[objKey]model.Object, len(c.objs)+len(changes))
		for _, obj := range c.sorted {
			n.objs[keyOf(obj)] = obj
		}
	} else {
		n.over = make(map[objKey]model.Object, len(c.over)+len(changes))
		for k, obj := range c.over {
			n.over[k] = obj
		}
	}
	for _, ch := range changes {
		if n.over != nil {
			n.over[ch.key] = ch.after
		} else if ch.after == nil {
			delete(n.objs, ch.key)
		} else {
			n.objs[ch.key] = ch.after
		}
		if n.refs != nil {
			if ch.before != nil {
				n.refs.update(ch.before, false)
			}
			if ch.after != nil {
				n.refs.update(ch.after, true)
			}
		}
	}
	n.sorted = reorder(c.sorted, changes)
	// Workspaces built from c, or carried by c from an earlier
	// generation, go on with this write's changes: writes come faster
	// than publishes under churn, and every publish should find one.
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(changes) > maxPending {
		return n
	}
	n.prev = make(map[string]pendingWorkspace, len(c.gateways)+len(c.prev))
	for g, ws := range c.gateways {
		n.prev[g] = pendingWorkspace{ws: ws, delta: changes}
	}
	for g, p := range c.prev {
		if _, built := c.gateways[g]; !built && len(p.delta)+len(changes) <= maxPending {
			n.prev[g] = pendingWorkspace{ws: p.ws, delta: slices.Concat(p.delta, changes)}
		}
	}
	return n
}

// reorder returns sorted (in workspace order) with changes applied, as a
// new slice. Few changes move by binary search; a big apply is cheaper to
// sort.
func reorder(sorted []model.Object, changes []change) []model.Object {
	if len(changes) > 64 {
		gone := make(map[objKey]bool, len(changes))
		for _, ch := range changes {
			gone[ch.key] = true
		}
		out := make([]model.Object, 0, len(sorted)+len(changes))
		for _, obj := range sorted {
			if !gone[keyOf(obj)] {
				out = append(out, obj)
			}
		}
		for _, ch := range changes {
			if ch.after != nil {
				out = append(out, ch.after)
			}
		}
		sort.Slice(out, func(i, j int) bool { return objectLess(out[i], out[j]) })
		return out
	}
	out := make([]model.Object, len(sorted), len(sorted)+len(changes))
	copy(out, sorted)
	for _, ch := range changes {
		if ch.before != nil {
			if i := position(out, ch.before); i >= 0 {
				out = slices.Delete(out, i, i+1)
			}
		}
		if ch.after != nil {
			i := sort.Search(len(out), func(i int) bool { return objectLess(ch.after, out[i]) })
			out = slices.Insert(out, i, ch.after)
		}
	}
	return out
}

// position finds obj in sorted by binary search, -1 if absent.
func position(sorted []model.Object, obj model.Object) int {
	k := keyOf(obj)
	for i := sort.Search(len(sorted), func(i int) bool { return !objectLess(sorted[i], obj) }); i < len(sorted); i++ {
		if keyOf(sorted[i]) == k {
			return i
		}
		if objectLess(obj, sorted[i]) {
			break
		}
	}
	return -1
}

// objectLess is workspace order: secrets, gateways, upstreams, routes;
// routes in rule order, the others by name.
func objectLess(a, b model.Object) bool {
	ka, kb := kindRank(a.Kind()), kindRank(b.Kind())
	if ka != kb {
		return ka < kb
	}
	ra, aok := a.(*model.Route)
	rb, bok := b.(*model.Route)
	if aok && bok {
		return routeLess(ra, rb)
	}
	return a.ObjectMeta().Name < b.ObjectMeta().Name
}

func kindRank(kind string) int {
	switch kind {
	case model.KindSecret:
		return 0
	case model.KindGateway:
		return 1
	case model.KindUpstream:
		return 2
	}
	return 3
}

// workspaceOf builds a Workspace of objs, which are in workspace order, and
// the key of the object at each index of its lists. The objects share
// memory with the cache, so the result is for validation only.
func workspaceOf(objs []model.Object) (model.Workspace, wsKeys) {
	var n [4]int
	for _, obj := range objs {
		n[kindRank(obj.Kind())]++
	}
	ws := model.Workspace{
		Secrets:   make([]model.Secret, 0, n[0]),
		Gateways:  make([]model.Gateway, 0, n[1]),
		Upstreams: make([]model.Upstream, 0, n[2]),
		Routes:    make([]model.Route, 0, n[3]),
	}
	keys := wsKeys{
		"secrets":   make([]objKey, 0, n[0]),
		"gateways":  make([]objKey, 0, n[1]),
		"upstreams": make([]objKey, 0, n[2]),
		"routes":    make([]objKey, 0, n[3]),
	}
	for _, obj := range objs {
		ws.Add(obj)
		list := listName(obj.Kind())
		keys[list] = append(keys[list], keyOf(obj))
	}
	return ws, keys
}

func routeLess(a, b *model.Route) bool {
	if a.Gateway != b.Gateway {
		return a.Gateway < b.Gateway
	}
	return model.CompareRoutes(a, b) < 0
}

func listName(kind string) string { return strings.ToLower(kind) + "s" }

// keyedProblem is a validation problem attached to the object it is about
// (zero key when it is about none), with the path inside that object.
type keyedProblem struct {
	key     objKey
	field   string
	message string
}

var listIndex = regexp.MustCompile(`^(secrets|gateways|upstreams|routes)\[(\d+)\]\.?`)

// validate runs model.Workspace.Validate (over part of the draft with
// part set, see objectChecks) and attaches each problem to its object, so
// problems can be compared across drafts and relabelled for the caller.
func validate(checks *objectChecks, ws model.Workspace, keys wsKeys, part bool) ([]keyedProblem, error) {
	var err error
	if part {
		err = checks.validatePart(ws)
	} else {
		err = checks.validate(ws)
	}
	if err == nil {
		return nil, nil
	}
	if model.ErrorCode(err) != model.EINVALID {
		return nil, fmt.Errorf("validate draft: %w", err)
	}
	fields := model.ErrorFields(err)
	if len(fields) == 0 {
		fields = []model.FieldError{{Message: model.ErrorMessage(err)}}
	}
	out := make([]keyedProblem, 0, len(fields))
	for _, f := range fields {
		p := keyedProblem{field: f.Field, message: f.Message}
		if m := listIndex.FindStringSubmatch(f.Field); m != nil {
			i, _ := strconv.Atoi(m[2])
			if i < len(keys[m[1]]) {
				p.key = keys[m[1]][i]
				p.field = f.Field[len(m[0]):]
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// draftWrite is one write transaction on the draft: changes are staged, the
// resulting draft validated, and only then written.
type draftWrite struct {
	ctx context.Context
	// checks keeps the objects' own validation across writes.
	checks  *objectChecks
	tx      *sql.Tx
	keys    *seal.Keyring
	now     time.Time
	base    *draftCache
	changes map[objKey]model.Object
	ops     []op
	flushed int // ops[:flushed] are written
	// problems holds, after a flush, the problems of the objects whose
	// problems the staged changes can change (no entry: as in base).
	problems map[objKey][]keyedProblem
	// published are the versions recorded, announced after the commit.
	published []Published
}

// op is one staged change and the revision it records.
type op struct {
	action        string // create, update, delete, rollback
	actor         string
	before, after model.Object
}

// writeDraft runs fn in a write transaction with the current draft loaded,
// commits, and keeps the resulting draft for the next write.
func (s *Store) writeDraft(ctx context.Context, fn func(*draftWrite) error) error {
	s.draftMu.Lock()
	defer s.draftMu.Unlock()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	defer tx.Rollback()
	base, err := s.loadDraft(ctx, tx)
	if err != nil {
		return err
	}
	w := &draftWrite{ctx: ctx, tx: tx, keys: s.keys, checks: s.checks, now: s.now(), base: base, changes: map[objKey]model.Object{}}
	if err := fn(w); err != nil {
		return err
	}
	var gen int64
	if len(w.ops) > 0 {
		if err := tx.QueryRowContext(ctx, `UPDATE draft_generation SET generation = generation + 1
			WHERE id = 1 RETURNING generation`).Scan(&gen); err != nil {
			return fmt.Errorf("bump draft generation: %w", err)
		}
	}
	var commit *draftCommit
	if len(w.ops) > 0 {
		commit = s.beginCommit(gen)
		defer s.endCommit(commit)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if s.hooks.committed != nil {
		s.hooks.committed()
	}
	if len(w.ops) > 0 {
		changes := w.changeList()
		next := base.next(gen, changes, w.nextProblems())
		for _, ch := range changes {
			if ch.after == nil {
				s.checks.forget(ch.key)
			}
		}
		s.setDraft(next)
		s.endCommit(commit)
		s.announceDraft(gen, changes)
	}
	for _, p := range w.published {
		s.announcePublished(p)
	}
	return nil
}

// changeList is the staged changes with what each replaced, in workspace
// order of the objects as they end.
func (w *draftWrite) changeList() []change {
	out := make([]change, 0, len(w.changes))
	for k, after := range w.changes {
		before := w.base.get(k)
		if before == nil && after == nil {
			continue // created and deleted in one write
		}
		out = append(out, change{key: k, before: before, after: after})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].after, out[j].after
		if a == nil {
			a = out[i].before
		}
		if b == nil {
			b = out[j].before
		}
		return objectLess(a, b)
	})
	return out
}

// nextProblems is the problems of the draft the write leaves: the base's,
// with those of the objects the write checked replaced.
func (w *draftWrite) nextProblems() map[objKey][]keyedProblem {
	if !w.base.problemsKnown {
		return nil
	}
	out := maps.Clone(w.base.problems)
	if out == nil {
		out = map[objKey][]keyedProblem{}
	}
	for k, ps := range w.problems {
		if len(ps) == 0 {
			delete(out, k)
		} else {
			out[k] = ps
		}
	}
	return out
}

// refs returns the base draft's reference index, building it on the
// first write after a load.
func (w *draftWrite) refs() *draftRefs {
	if w.base.refs == nil {
		w.base.refs = newDraftRefs(w.base.sorted)
	}
	return w.base.refs
}

// current returns the object as staged so far, or nil.
func (w *draftWrite) current(k objKey) model.Object {
	if obj, ok := w.changes[k]; ok {
		return obj
	}
	return w.base.get(k)
}

// stage records a change; after is nil for a delete.
func (w *draftWrite) stage(action, actor string, before, after model.Object) {
	if after != nil {
		w.changes[keyOf(after)] = after
	} else {
		w.changes[keyOf(before)] = nil
	}
	w.ops = append(w.ops, op{action: action, actor: actor, before: before, after: after})
}

// next returns a copy of obj carrying the metadata of its new version.
func (w *draftWrite) next(actor string, obj model.Object, version int64) model.Object {
	c := cloneObject(obj)
	*c.ObjectMeta() = model.Meta{Name: obj.ObjectMeta().Name, Version: version, UpdatedAt: w.now, UpdatedBy: actor}
	return c
}

// labeler names the object a problem belongs to, as a path prefix the
// caller understands ("" for the object being written).
type labeler func(objKey) string

// byName labels other objects "routes[web]": their index in the draft means
// nothing to a caller.
func byName(k objKey) string { return listName(k.kind) + "[" + k.name + "]" }

// flush validates the draft with every staged change and, if it adds no
// problem, writes the staged changes, their revisions and audit entries.
// Only the objects whose problems the changes can change are checked
// (affected): every other object keeps the problems the base draft has,
// so a one-route write checks one route and what it names, not the
// draft.
func (w *draftWrite) flush(label labeler) error {
	before, err := w.baseProblems()
	if err != nil {
		return err
	}
	check := w.affected()
	check[objKey{}] = true // problems about no object are the whole check's
	ws, keys := w.partialWorkspace(check)
	found, err := validate(w.checks, ws, keys, true)
	if err != nil {
		return err
	}
	after := make(map[objKey][]keyedProblem, len(check))
	for k := range check {
		after[k] = nil
	}
	for _, np := range found {
		if check[np.key] {
			after[np.key] = append(after[np.key], np)
		}
	}
	var p model.Problems
	for _, np := range found {
		if !check[np.key] || slices.Contains(before[np.key], np) {
			continue
		}
		prefix := ""
		if np.key != (objKey{}) {
			prefix = label(np.key)
		}
		p.Add(model.JoinPath(prefix, np.field), "%s", np.message)
	}
	if err := p.Err(); err != nil {
		return err
	}
	w.problems = after
	for _, o := range w.ops[w.flushed:] {
		if err := w.persist(o); err != nil {
			return err
		}
	}
	w.flushed = len(w.ops)
	return nil
}

// baseProblems are the base draft's problems by object, from a whole
// validation the first time a draft loaded from the database is written.
func (w *draftWrite) baseProblems() (map[objKey][]keyedProblem, error) {
	if w.base.problemsKnown {
		return w.base.problems, nil
	}
	ws, keys := workspaceOf(w.base.sorted)
	problems, err := validate(w.checks, ws, keys, false)
	if err != nil {
		return nil, err
	}
	byKey := map[objKey][]keyedProblem{}
	for _, p := range problems {
		byKey[p.key] = append(byKey[p.key], p)
	}
	// Only the writer reaches here and the cache is replaced, never
	// edited, once the write commits, so recording the result is safe.
	w.base.problems, w.base.problemsKnown = byKey, true
	return byKey, nil
}

// persist writes one change with its revision and audit entry.
func (w *draftWrite) persist(o op) error {
	ctx, tx := w.ctx, w.tx
	obj := o.after
	if obj == nil {
		obj = o.before
	}
	kind, name := obj.Kind(), obj.ObjectMeta().Name
	if o.after == nil {
		if _, err := tx.ExecContext(ctx, `DELETE FROM objects WHERE kind = ? AND name = ?`, kind, name); err != nil {
			return fmt.Errorf("delete %s %q: %w", kind, name, err)
		}
	} else {
		spec, err := sealedSpec(w.keys, obj)
		if err != nil {
			return err
		}
		m := obj.ObjectMeta()
		var gateway, description string
		var priority int
		switch v := obj.(type) {
		case *model.Route:
			gateway, priority, description = v.Gateway, v.Priority, v.Description
		case *model.Upstream:
			description = v.Description
		case *model.Gateway:
			description = v.Description
		case *model.Secret:
			description = v.Description
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO objects
			(kind, name, version, gateway, priority, description, spec, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, name) DO UPDATE SET version = excluded.version, gateway = excluded.gateway,
				priority = excluded.priority, description = excluded.description, spec = excluded.spec,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			kind, name, m.Version, gateway, priority, description, spec, unixNano(m.UpdatedAt), m.UpdatedBy); err != nil {
			return fmt.Errorf("write %s %q: %w", kind, name, err)
		}
	}
	if kind == model.KindRoute {
		if err := writeRouteRefs(ctx, tx, name, o.after); err != nil {
			return err
		}
	}
	rev, err := newRevision(w.keys, w.now, o)
	if err != nil {
		return err
	}
	if err := insertRevision(ctx, tx, &rev); err != nil {
		return err
	}
	return audit(ctx, tx, AuditEntry{At: w.now, Actor: rev.Actor, Action: strings.ToLower(kind) + "." + o.action,
		Target: name, Detail: fmt.Sprintf("version %d, revision %d", rev.Version, rev.ID)})
}

// writeRouteRefs replaces the filter rows of a route (after nil: deleted).
func writeRouteRefs(ctx context.Context, tx *sql.Tx, name string, after model.Object) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM route_refs WHERE route = ?`, name); err != nil {
		return fmt.Errorf("route %q: clear references: %w", name, err)
	}
	if after == nil {
		return nil
	}
	ups, hosts := routeRefs(after.(*model.Route))
	for _, ref := range []struct {
		kind   string
		values []string
	}{{"upstream", ups}, {"host", hosts}} {
		for _, v := range ref.values {
			if _, err := tx.ExecContext(ctx, `INSERT INTO route_refs (route, ref, value) VALUES (?, ?, ?)`,
				name, ref.kind, v); err != nil {
				return fmt.Errorf("route %q: record %s %q: %w", name, ref.kind, v, err)
			}
		}
	}
	return nil
}

func requireName(obj model.Object) error {
	if obj == nil || checkKind(obj.Kind()) != nil {
		return model.Errorf(model.EINVALID, "unknown object kind")
	}
	if strings.TrimSpace(obj.ObjectMeta().Name) == "" {
		var p model.Problems
		p.Add("name", "is required")
		return p.Err()
	}
	return nil
}

// only labels problems of the written object relative to it.
func only(k objKey) labeler {
	return func(o objKey) string {
		if o == k {
			return ""
		}
		return byName(o)
	}
}

func (w *draftWrite) create(actor string, obj model.Object) error {
	if err := requireName(obj); err != nil {
		return err
	}
	k := keyOf(obj)
	if w.current(k) != nil {
		return model.Errorf(model.ECONFLICT, "%s %q already exists", k.kind, k.name)
	}
	after := w.next(actor, obj, 1)
	w.stage("create", actor, nil, after)
	if err := w.flush(only(k)); err != nil {
		return err
	}
	*obj.ObjectMeta() = *after.ObjectMeta()
	return nil
}

func (w *draftWrite) update(actor string, obj model.Object) error {
	if err := requireName(obj); err != nil {
		return err
	}
	k := keyOf(obj)
	cur := w.current(k)
	if cur == nil {
		return model.Errorf(model.ENOTFOUND, "%s %q not found", k.kind, k.name)
	}
	if got, have := obj.ObjectMeta().Version, cur.ObjectMeta().Version; got != have {
		return staleVersion(k, have, got)
	}
	after := w.next(actor, obj, cur.ObjectMeta().Version+1)
	w.stage("update", actor, cur, after)
	if err := w.flush(only(k)); err != nil {
		return err
	}
	*obj.ObjectMeta() = *after.ObjectMeta()
	return nil
}

func staleVersion(k objKey, current, given int64) error {
	return model.Errorf(model.ECONFLICT,
		"%s %q was changed by someone else: current version is %d, given version %d; reload and retry",
		k.kind, k.name, current, given)
}

func (w *draftWrite) delete(actor, kind, name string, version int64) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	k := objKey{kind, name}
	cur := w.current(k)
	if cur == nil {
		return model.Errorf(model.ENOTFOUND, "%s %q not found", kind, name)
	}
	if have := cur.ObjectMeta().Version; version != 0 && version != have {
		return staleVersion(k, have, version)
	}
	if refs := w.referrers(k); len(refs) > 0 {
		users := "routes"
		if kind == model.KindSecret {
			users = "gateways and upstreams"
		}
		return model.Errorf(model.EINVALID, "%s %q is still used by %s %s", kind, name, users, strings.Join(refs, ", "))
	}
	w.stage("delete", actor, cur, nil)
	return w.flush(byName)
}

// referrers lists, sorted, the routes that refer to a gateway or upstream,
// or the gateways and upstreams ("gateways[edge]") that use a secret, as
// the staged changes leave them: the candidates are those the base's index
// names and those staged.
func (w *draftWrite) referrers(k objKey) []string {
	refs := w.refs()
	var candidates []objKey
	switch k.kind {
	case model.KindSecret:
		candidates = slices.Collect(maps.Keys(refs.secretUsers[k.name]))
	case model.KindGateway:
		candidates = routeKeys(refs.gatewayRoutes[k.name])
	case model.KindUpstream:
		candidates = routeKeys(refs.upstreamRoutes[k.name])
	}
	for ck := range w.changes {
		candidates = append(candidates, ck)
	}
	seen := map[objKey]bool{}
	var out []string
	for _, ck := range candidates {
		obj := w.current(ck)
		if seen[ck] || obj == nil {
			continue
		}
		seen[ck] = true
		if k.kind == model.KindSecret {
			if slices.Contains(model.ObjectSecretNames(obj), k.name) {
				out = append(out, byName(ck))
			}
			continue
		}
		r, ok := obj.(*model.Route)
		if !ok {
			continue
		}
		switch k.kind {
		case model.KindGateway:
			if r.Gateway == k.name {
				out = append(out, r.Name)
			}
		case model.KindUpstream:
			if slices.Contains(referencedUpstreams(r), k.name) {
				out = append(out, r.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (w *draftWrite) apply(actor string, ws model.Workspace) ([]ApplyResult, error) {
	// Problems are reported with the document's own paths ("routes[2]"),
	// which is what the author of the file can find.
	input := map[objKey]string{}
	var p model.Problems
	for _, list := range []struct {
		name string
		objs []model.Object
	}{
		{"secrets", objectsOf(ws.Secrets)},
		{"gateways", objectsOf(ws.Gateways)},
		{"upstreams", objectsOf(ws.Upstreams)},
		{"routes", objectsOf(ws.Routes)},
	} {
		for i, obj := range list.objs {
			path := model.Index(list.name, i)
			if err := requireName(obj); err != nil {
				p.Merge(path, err)
				continue
			}
			k := keyOf(obj)
			if first, dup := input[k]; dup {
				p.Add(model.JoinPath(path, "name"), "duplicate %s %q (also at %s)", k.kind, k.name, first)
				continue
			}
			input[k] = path
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	var results []ApplyResult
	for _, obj := range ws.Objects() {
		k := keyOf(obj)
		cur := w.current(k)
		res := ApplyResult{Kind: k.kind, Name: k.name}
		switch {
		case cur == nil:
			res.Action, res.Version = "created", 1
			w.stage("create", actor, nil, w.next(actor, obj, 1))
		default:
			same, err := sameSpec(cur, obj)
			if err != nil {
				return nil, err
			}
			res.Version = cur.ObjectMeta().Version
			if same {
				res.Action = "unchanged"
				break
			}
			res.Action = "updated"
			res.Version++
			w.stage("update", actor, cur, w.next(actor, obj, res.Version))
		}
		results = append(results, res)
	}
	err := w.flush(func(k objKey) string {
		if path, ok := input[k]; ok {
			return path
		}
		return byName(k)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

func objectsOf[T any, P interface {
	*T
	model.Object
}](list []T) []model.Object {
	out := make([]model.Object, len(list))
	for i := range list {
		out[i] = P(&list[i])
	}
	return out
}

func sameSpec(a, b model.Object) (bool, error) {
	sa, err := encodeSpec(a)
	if err != nil {
		return false, err
	}
	sb, err := encodeSpec(b)
	if err != nil {
		return false, err
	}
	return sa == sb, nil
}

// rollback restores a published version of gateway into the draft, then
// publishes it.
func (w *draftWrite) rollback(actor, gateway string, version int64) (Published, error) {
	old, err := getPublished(w.ctx, w.tx, w.keys, gateway, version)
	if err != nil {
		return Published{}, err
	}
	keep := map[objKey]bool{}
	restore := func(obj model.Object) error {
		k := keyOf(obj)
		keep[k] = true
		cur := w.current(k)
		if cur == nil {
			w.stage("rollback", actor, nil, w.next(actor, obj, 1))
			return nil
		}
		same, err := sameSpec(cur, obj)
		if err != nil || same {
			return err
		}
		w.stage("rollback", actor, cur, w.next(actor, obj, cur.ObjectMeta().Version+1))
		return nil
	}
	for _, obj := range old.Workspace.Objects() {
		if err := restore(obj); err != nil {
			return Published{}, err
		}
	}
	// Routes the gateway gained since that version go.
	var drop []model.Object
	for _, obj := range gatewayRoutes(w.base.sorted, gateway) {
		k := keyOf(obj)
		if keep[k] {
			continue
		}
		if _, changed := w.changes[k]; !changed {
			drop = append(drop, obj)
		}
	}
	sort.Slice(drop, func(i, j int) bool { return drop[i].ObjectMeta().Name < drop[j].ObjectMeta().Name })
	for _, obj := range drop {
		w.stage("rollback", actor, obj, nil)
	}
	if err := w.flush(byName); err != nil {
		return Published{}, err
	}
	p, err := publish(w.ctx, w.tx, w.keys, nil, w.now, actor, gateway, fmt.Sprintf("rollback to version %d", version))
	if err != nil {
		return Published{}, err
	}
	w.published = append(w.published, p)
	if err := audit(w.ctx, w.tx, AuditEntry{At: w.now, Actor: actor, Action: "gateway.rollback", Target: gateway,
		Detail: fmt.Sprintf("restored version %d as version %d", version, p.Version)}); err != nil {
		return Published{}, err
	}
	return p, nil
}
