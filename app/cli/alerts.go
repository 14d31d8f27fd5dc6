package cli

import (
	"fmt"

	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/alert"
)

func newAlertsCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Show alert rules and their state",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List alert rules with their current state",
		Long: `list prints every alert rule: its state (firing, pending, ok, nodata,
disabled), what it watches, its condition and its last measurement.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var rules struct{ Items []alert.Rule }
			var states struct{ Items []alert.State }
			if err := c.do(cmd.Context(), "GET", "/alerts/rules", nil, &rules); err != nil {
				return err
			}
			if err := c.do(cmd.Context(), "GET", "/alerts/states", nil, &states); err != nil {
				return err
			}
			by := map[string]alert.State{}
			for _, s := range states.Items {
				by[s.Rule] = s
			}
			tw := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STATE\tNAME\tWATCHES\tCONDITION\tVALUE\tNOTIFIES")
			for _, r := range rules.Items {
				st := by[r.Name]
				state := st.State
				if state == "" {
					state = alert.StateUnknown
				}
				value := "-"
				if st.Value != nil {
					value = r.Format(*st.Value)
				}
				watches := r.Gateway
				if r.Rule != "" {
					watches += "/" + r.Rule
				}
				cond := r.What() + " " + r.Op + " " + r.Format(r.Threshold) + " over " + r.Window.String()
				if r.For > 0 {
					cond += " for " + r.For.String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", state, r.Name, watches, cond, value,
					strings.Join(append([]string(nil), r.Notifiers...), ","))
			}
			return tw.Flush()
		},
	})
	return cmd
}
