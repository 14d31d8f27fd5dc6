package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// listPage is one answer of a list endpoint.
type listPage struct {
	Items    []json.RawMessage `json:"items"`
	Total    *int              `json:"total"`
	Limit    int               `json:"limit"`
	MaxLimit int               `json:"maxLimit"`
	Next     string            `json:"next"`
}

func (a *testAPI) listPage(t *testing.T, role, path string) (listPage, reply) {
	t.Helper()
	r := a.do(t, role, "GET", path, nil).must(t, http.StatusOK)
	var p listPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, r.body)
	}
	return p, r
}

func TestEveryListIsPagedWithACursor(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	for _, name := range []string{"ana", "bob", "cy"} {
		a.do(t, "admin", "POST", "/api/v1/users", map[string]any{"name": name, "role": "viewer", "password": "long enough"}).must(t, http.StatusCreated)
		a.do(t, "", "POST", "/api/v1/auth/login", map[string]any{"name": name, "password": "long enough"}).must(t, http.StatusOK)
	}
	a.do(t, "editor", "POST", "/api/v1/upstreams", map[string]any{"name": "shop",
		"static": map[string]any{"endpoints": []any{map[string]any{"address": "127.0.0.1", "port": 9003}}}}).must(t, http.StatusCreated)
	a.do(t, "editor", "POST", "/api/v1/gateways", map[string]any{"name": "internal", "listeners": []any{
		map[string]any{"name": "http", "port": 8081, "protocol": "HTTP"}}}).must(t, http.StatusCreated)

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		role, path, doc string
	}{
		"gateways":         {"viewer", "/api/v1/gateways", "/gateways"},
		"upstreams":        {"viewer", "/api/v1/upstreams", "/upstreams"},
		"routes":           {"viewer", "/api/v1/routes", "/routes"},
		"filtered routes":  {"viewer", "/api/v1/routes?gateway=public", "/routes"},
		"revisions":        {"viewer", "/api/v1/revisions", "/revisions"},
		"audit, no total":  {"admin", "/api/v1/audit", "/audit"},
		"users":            {"admin", "/api/v1/users", "/users"},
		"tokens":           {"admin", "/api/v1/tokens", "/tokens"},
		"route tests":      {"viewer", "/api/v1/tests", "/tests"},
		"published (none)": {"viewer", "/api/v1/gateways/public/published", "/gateways/{name}/published"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var op struct {
				Parameters []struct {
					Name string `json:"name"`
				} `json:"parameters"`
			}
			if err := json.Unmarshal(doc.Paths[tc.doc]["get"], &op); err != nil {
				t.Fatalf("openapi.json: GET %s: %v", tc.doc, err)
			}
			var documented []string
			for _, p := range op.Parameters {
				documented = append(documented, p.Name)
			}
			for _, want := range []string{"limit", "offset", "cursor"} {
				if !strings.Contains(strings.Join(documented, " "), want) {
					t.Errorf("openapi.json: GET %s lacks the %s parameter", tc.doc, want)
				}
			}
			sep := "?"
			if strings.Contains(tc.path, "?") {
				sep = "&"
			}
			whole, _ := a.listPage(t, tc.role, tc.path+sep+"limit=5000")
			if whole.Limit != 1000 || whole.MaxLimit != 1000 || whole.Next != "" {
				t.Fatalf("limit=5000: limit %d, maxLimit %d, next %q; want the cap 1000 said and no next", whole.Limit, whole.MaxLimit, whole.Next)
			}
			if def, _ := a.listPage(t, tc.role, tc.path); def.Limit != 100 {
				t.Errorf("default limit %d, want 100", def.Limit)
			}
			// One item per page, following the cursors, gives the same
			// list; every page but the last says where the next is.
			var got []json.RawMessage
			path := tc.path + sep + "limit=1"
			for pages := 0; ; pages++ {
				if pages > len(whole.Items)+1 {
					t.Fatalf("cursors did not end after %d pages", pages)
				}
				p, r := a.listPage(t, tc.role, path)
				got = append(got, p.Items...)
				if p.Next == "" {
					if link := r.header.Get("Link"); link != "" {
						t.Errorf("last page has a Link header %q", link)
					}
					break
				}
				link := r.header.Get("Link")
				if !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "cursor="+url.QueryEscape(p.Next)) {
					t.Errorf("Link %q does not lead to cursor %q", link, p.Next)
				}
				path = tc.path + sep + "limit=1&cursor=" + url.QueryEscape(p.Next)
			}
			if !reflect.DeepEqual(got, whole.Items) && !(len(got) == 0 && len(whole.Items) == 0) {
				t.Errorf("paging by cursor gave %d items, the whole list %d", len(got), len(whole.Items))
			}
			if whole.Total != nil && *whole.Total != len(whole.Items) {
				t.Errorf("total %d, items %d", *whole.Total, len(whole.Items))
			}
		})
	}

	t.Run("more than one item per list", func(t *testing.T) {
		for _, path := range []string{"/api/v1/gateways", "/api/v1/upstreams", "/api/v1/routes", "/api/v1/users", "/api/v1/audit"} {
			if p, _ := a.listPage(t, "admin", path+"?limit=1"); p.Next == "" {
				t.Errorf("%s: one item per page gave no next", path)
			}
		}
	})

	t.Run("bad cursors", func(t *testing.T) {
		first, _ := a.listPage(t, "viewer", "/api/v1/routes?limit=1")
		c := url.QueryEscape(first.Next)
		for name, path := range map[string]string{
			"garbage":             "/api/v1/routes?cursor=nope",
			"another list filter": "/api/v1/routes?gateway=public&cursor=" + c,
			"with an offset":      "/api/v1/routes?offset=1&cursor=" + c,
			"negative limit":      "/api/v1/routes?limit=-1",
		} {
			r := a.do(t, "viewer", "GET", path, nil).must(t, http.StatusBadRequest)
			fields := r.problemFields(t)
			if _, ok := fields["cursor"]; !ok && name != "negative limit" {
				t.Errorf("%s: problem does not name cursor: %s", name, r.body)
			}
		}
		// Offsets still work as they did.
		byOffset, _ := a.listPage(t, "viewer", "/api/v1/routes?limit=1&offset=1")
		byCursor, _ := a.listPage(t, "viewer", "/api/v1/routes?limit=1&cursor="+c)
		if fmt.Sprint(byOffset.Items) != fmt.Sprint(byCursor.Items) {
			t.Errorf("offset 1 and the first cursor give different pages")
		}
	})
}
