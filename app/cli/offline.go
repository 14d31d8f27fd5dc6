package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/store"
)

// offlineActor names the CLI in revisions and the audit log when it writes
// to the data directory itself.
const offlineActor = "cli"

// withStore runs f on the data directory's store, opened for it alone
// and closed after: the offline commands' one way in.
func (o *options) withStore(cmd *cobra.Command, f func(ctx context.Context, st *store.Store) error) error {
	st, err := app.OpenStore(cmd.Context(), o.dataDir)
	if err != nil {
		return err
	}
	return errors.Join(f(cmd.Context(), st), st.Close())
}

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
			hash, err := o.readPassword(fromStdin)
			if err != nil {
				return err
			}
			return o.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if err := st.CreateUser(ctx, offlineActor, &store.User{Name: name, Role: role, PasswordHash: hash}); err != nil {
					return fmt.Errorf("add user %q: %w", name, err)
				}
				fmt.Fprintf(o.stderr, "added user %s (%s)\n", name, role)
				return nil
			})
		},
	}
	add.Flags().StringVar(&name, "name", "", "user name")
	add.Flags().StringVar(&role, "role", "", "viewer, editor or admin")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin")
	_ = add.MarkFlagRequired("name")
	_ = add.MarkFlagRequired("role")
	setPassword := &cobra.Command{
		Use:   "set-password --name NAME --password-stdin",
		Short: "Set a user's password, read from the first line of stdin; ends the user's sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hash, err := o.readPassword(fromStdin)
			if err != nil {
				return err
			}
			return o.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if err := st.SetUserPassword(ctx, offlineActor, name, hash); err != nil {
					return fmt.Errorf("set password of %q: %w", name, err)
				}
				fmt.Fprintf(o.stderr, "password of %s set; their sessions ended\n", name)
				return nil
			})
		},
	}
	setPassword.Flags().StringVar(&name, "name", "", "user name")
	setPassword.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin")
	_ = setPassword.MarkFlagRequired("name")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users with their roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				users, err := st.ListUsers(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
				for _, u := range users {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete --name NAME",
		Short: "Delete a user and end their sessions (not the last admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if err := st.DeleteUser(ctx, offlineActor, name); err != nil {
					return fmt.Errorf("delete user %q: %w", name, err)
				}
				fmt.Fprintf(o.stderr, "deleted user %s\n", name)
				return nil
			})
		},
	}
	del.Flags().StringVar(&name, "name", "", "user name")
	_ = del.MarkFlagRequired("name")
	cmd.AddCommand(add, setPassword, list, del)
	return cmd
}

// readPassword reads a password from the first line of stdin, checked as
// the server checks them, and returns its hash.
func (o *options) readPassword(fromStdin bool) (string, error) {
	if !fromStdin {
		return "", fmt.Errorf("--password-stdin is required: passwords are not taken as arguments, where they would end up in shell history")
	}
	// Read no more than a password may hold (plus its line end and one
	// byte to tell "too long"), so endless stdin costs nothing.
	line, err := bufio.NewReader(io.LimitReader(o.stdin, auth.MaxPasswordLen+3)).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if msg := auth.PasswordProblem(password); msg != "" {
		return "", fmt.Errorf("password %s", msg)
	}
	return auth.HashPassword(password)
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
			return o.withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if err := st.CreateToken(ctx, offlineActor, &store.Token{Name: name, Role: role, Hash: hash}); err != nil {
					return fmt.Errorf("create token %q: %w", name, err)
				}
				fmt.Fprintln(o.stdout, tok)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "token name (who or what uses it)")
	create.Flags().StringVar(&role, "role", "", "viewer, editor or admin")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}
