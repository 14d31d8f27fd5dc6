package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/routedeck/routedeck/backend/model"
)

// FieldManager owns the fields routedeck applies.
const FieldManager = "routedeck"

// Applier applies objects with server-side apply.
type Applier struct {
	dyn  dynamic.Interface
	disc discovery.DiscoveryInterface
}

// NewApplier returns an applier for the cluster cfg points at.
func NewApplier(cfg *rest.Config) (*Applier, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client for %s: %w", cfg.Host, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes discovery client for %s: %w", cfg.Host, err)
	}
	return &Applier{dyn: dyn, disc: disc}, nil
}

// Applied is the outcome of applying one object.
type Applied struct {
	APIVersion      string `json:"apiVersion"`
	Kind            string `json:"kind"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Changed is false when the apply left the object as it was (or, in a
	// dry run, would leave it).
	Changed bool `json:"changed"`
	// Action is what the apply did, or in a dry run would do, to the
	// object: ActionCreated, ActionConfigured or ActionUnchanged.
	Action string `json:"action"`
	// Note says what the caller should know about this object's outcome,
	// such as a dry run that could not have the API server check it.
	Note string `json:"note,omitempty"`
}

// What an apply does to one object, in kubectl's words.
const (
	ActionCreated    = "created"
	ActionConfigured = "configured"
	ActionUnchanged  = "unchanged"
)

// Apply applies objs in order with server-side apply under FieldManager,
// taking over fields other managers set (routedeck owns these objects).
// With dryRun the API server validates and admits every object but stores
// nothing, like `kubectl apply --server-side --dry-run=server`.
func (a *Applier) Apply(ctx context.Context, objs []runtime.Object, dryRun bool) ([]Applied, error) {
	groups, err := restmapper.GetAPIGroupResources(a.disc)
	if err != nil {
		return nil, fmt.Errorf("discover the cluster's resources: %w", err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out := make([]Applied, 0, len(objs))
	// Namespaces a dry run would create: the API server refuses objects in
	// a namespace that does not exist, so their dry run cannot go to it.
	dryNamespaces := map[string]bool{}
	for _, obj := range objs {
		u, err := toUnstructured(obj)
		if err != nil {
			return out, err
		}
		gvk := u.GroupVersionKind()
		what := fmt.Sprintf("%s %s", gvk.Kind, qualified(u.GetNamespace(), u.GetName()))
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			if meta.IsNoMatchError(err) {
				return out, model.Errorf(model.EINVALID, "apply %s: the cluster does not serve %s", what, gvk.GroupVersion())
			}
			return out, fmt.Errorf("apply %s: %w", what, err)
		}
		if dryRun && mapping.Scope.Name() == meta.RESTScopeNameNamespace && dryNamespaces[u.GetNamespace()] {
			out = append(out, Applied{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName(),
				Changed: true, Action: ActionCreated, Note: "not checked by the API server: its namespace does not exist until the apply creates it"})
			continue
		}
		var ri dynamic.ResourceInterface = a.dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = a.dyn.Resource(mapping.Resource).Namespace(u.GetNamespace())
		}
		body, err := json.Marshal(u.Object)
		if err != nil {
			return out, fmt.Errorf("encode %s: %w", what, err)
		}
		cur, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cur = nil
		} else if err != nil {
			return out, fmt.Errorf("read %s: %w", what, err)
		}
		got, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, opts)
		if err != nil {
			return out, applyError(what, err)
		}
		action := applyAction(cur, got)
		if dryRun && gvk.GroupKind() == (schema.GroupKind{Kind: "Namespace"}) && action == ActionCreated {
			dryNamespaces[u.GetName()] = true
		}
		out = append(out, Applied{
			APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Namespace: got.GetNamespace(), Name: got.GetName(),
			ResourceVersion: got.GetResourceVersion(), Changed: action != ActionUnchanged, Action: action,
		})
	}
	return out, nil
}

// applyAction says what an apply did to an object that was cur before (nil
// when it did not exist) and is got after. A dry run stores nothing, so the
// resource version does not tell: the objects are compared without the
// bookkeeping an apply touches even when nothing else changes.
func applyAction(cur, got *unstructured.Unstructured) string {
	if cur == nil {
		return ActionCreated
	}
	if cur.GetResourceVersion() != got.GetResourceVersion() {
		return ActionConfigured
	}
	if !equality.Semantic.DeepEqual(withoutBookkeeping(cur), withoutBookkeeping(got)) {
		return ActionConfigured
	}
	return ActionUnchanged
}

// withoutBookkeeping is a copy of u without the metadata the API server
// maintains on every write (managed fields, generation, resource version).
func withoutBookkeeping(u *unstructured.Unstructured) map[string]any {
	c := u.DeepCopy()
	c.SetManagedFields(nil)
	c.SetGeneration(0)
	c.SetResourceVersion("")
	return c.Object
}

// applyError keeps the API server's verdict on an invalid object an
// invalid-input error, so the caller sees a 400 with its message.
func applyError(what string, err error) error {
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		return model.Errorf(model.EINVALID, "apply %s: %v", what, err)
	}
	if apierrors.IsForbidden(err) {
		return model.Errorf(model.EFORBIDDEN, "apply %s: %v", what, err)
	}
	return fmt.Errorf("apply %s: %w", what, err)
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// toUnstructured turns a typed object into the map form apply sends,
// without the empty status and null creation timestamp that typed objects
// carry: an apply configuration should hold only what routedeck sets.
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %T: %w", obj, err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if tmpl, ok := spec["template"].(map[string]any); ok {
			if md, ok := tmpl["metadata"].(map[string]any); ok {
				delete(md, "creationTimestamp")
			}
		}
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// ServesGroupVersion reports whether the cluster serves groupVersion
// (e.g. gateway.networking.k8s.io/v1), i.e. its CRDs are installed.
func (a *Applier) ServesGroupVersion(groupVersion, kind string) (bool, error) {
	list, err := a.disc.ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", groupVersion, err)
	}
	for _, r := range list.APIResources {
		if r.Kind == kind {
			return true, nil
		}
	}
	return false, nil
}
