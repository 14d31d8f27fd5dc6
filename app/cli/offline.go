package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/store"
)

// offlineActor names the CLI in revisions and the audit log when it writes
// to the data directory itself.
const offlineActor = "cli"

// checkAccount reports a bad --name, --role or password in flag terms.
func checkAccount(name, role string, password *string) error {
	if !auth.ValidRole(role) {
		return fmt.Errorf("--role %q: use viewer, editor or admin", role)
	}
	if msg := auth.AccountNameProblem(name); msg != "" {
		return fmt.Errorf("--name %q: %s", name, msg)
	}
	if password != nil {
		if msg := auth.PasswordProblem(*password); msg != "" {
			return fmt.Errorf("password %s", msg)
		}
	}
	return nil
}

func newUserCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users in the data directory (offline)", Args: cobra.NoArgs}
	var name, role string
	var fromStdin bool
	add := &cobra.Command{
		Use:   "add --name NAME --role viewer|editor|admin --password-stdin",
		Short: "Add a user; the password is read from the first line of stdin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkAccount(name, role, nil); err != nil {
				return err
			}
			if !fromStdin {
				return fmt.Errorf("--password-stdin is required: passwords are not taken as arguments, where they would end up in shell history")
			}
			// Read no more than a password may hold (plus its line end and one
			// byte to tell "too long"), so endless stdin costs nothing.
			line, err := bufio.NewReader(io.LimitReader(o.stdin, auth.MaxPasswordLen+3)).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("read password from stdin: %w", err)
			}
			password := strings.TrimRight(line, "\r\n")
			if err := checkAccount(name, role, &password); err != nil {
				return err
			}
			hash, err := auth.HashPassword(password)
			if err != nil {
				return err
			}
			st, err := app.OpenStore(cmd.Context(), o.dataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.CreateUser(cmd.Context(), offlineActor, &store.User{Name: name, Role: role, PasswordHash: hash}); err != nil {
				return fmt.Errorf("add user %q: %w", name, err)
			}
			fmt.Fprintf(o.stderr, "added user %s (%s)\n", name, role)
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "user name")
	add.Flags().StringVar(&role, "role", "", "viewer, editor or admin")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin")
	_ = add.MarkFlagRequired("name")
	_ = add.MarkFlagRequired("role")
	cmd.AddCommand(add)
	return cmd
}

func newTokenCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens in the data directory (offline)", Args: cobra.NoArgs}
	var name, role string
	create := &cobra.Command{
		Use:   "create --name NAME --role viewer|editor|admin",
		Short: "Create an API token and print it alone on stdout (shown once, stored hashed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkAccount(name, role, nil); err != nil {
				return err
			}
			tok, hash, err := auth.NewToken()
			if err != nil {
				return err
			}
			st, err := app.OpenStore(cmd.Context(), o.dataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.CreateToken(cmd.Context(), offlineActor, &store.Token{Name: name, Role: role, Hash: hash}); err != nil {
				return fmt.Errorf("create token %q: %w", name, err)
			}
			fmt.Fprintln(o.stdout, tok)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "token name (who or what uses it)")
	create.Flags().StringVar(&role, "role", "", "viewer, editor or admin")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}
