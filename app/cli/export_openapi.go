package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/apidoc"
)

func newExportOpenAPICmd(o *options) *cobra.Command {
	var gateway, format, out string
	var version int64
	cmd := &cobra.Command{
		Use:   "openapi --gateway G [--version N] [--format json|yaml] [--out FILE]",
		Short: "Print an OpenAPI 3.1 document of the gateway's published routes, for API docs and SDK generators",
		Long: `openapi documents the gateway's latest published version (the draft when it
was never published; --version N for another): the hosts its rules match
as servers, path templates and methods as operations, the headers and
query parameters they require as parameters, and their JWT, API key and
basic authentication as security schemes. What the rules do that OpenAPI
cannot say (a prefix match, a condition with alternatives) is listed on
stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" && format != "yaml" {
				return fmt.Errorf("--format %q: use json or yaml", format)
			}
			if version < 0 {
				return fmt.Errorf("--version %d: use a published version (1, 2, ...)", version)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			path := "/gateways/" + url.PathEscape(gateway) + "/export/openapi"
			if version > 0 {
				path += "?version=" + strconv.FormatInt(version, 10)
			}
			var res struct {
				Version  string          `json:"version"`
				Document json.RawMessage `json:"document"`
				Report   []apidoc.Issue  `json:"report"`
			}
			if err := c.do(cmd.Context(), "GET", path, nil, &res); err != nil {
				return err
			}
			var doc bytes.Buffer
			if err := json.Indent(&doc, res.Document, "", "  "); err != nil {
				return fmt.Errorf("server sent a malformed document: %w", err)
			}
			doc.WriteByte('\n')
			data := doc.Bytes()
			if format == "yaml" {
				if data, err = yaml.JSONToYAML(res.Document); err != nil {
					return err
				}
			}
			for _, is := range res.Report {
				what := "documented loosely"
				if is.Skipped {
					what = "left out"
				}
				fmt.Fprintf(o.stderr, "routedeck: rule %s %s: %s\n", is.Rule, what, is.Reason)
			}
			if out == "" {
				_, err := o.stdout.Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(o.stderr, "wrote %s (gateway %s, version %s)\n", out, gateway, res.Version)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&gateway, "gateway", "", "gateway whose routes to document")
	f.Int64Var(&version, "version", 0, "published version to document (default: the latest, else the draft)")
	f.StringVar(&format, "format", "json", "json or yaml")
	f.StringVar(&out, "out", "", "write the document to this file instead of stdout")
	_ = cmd.MarkFlagRequired("gateway")
	return cmd
}
