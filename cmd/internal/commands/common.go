package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/internal/version"
	"github.com/urfave/cli/v2"
)

// configFlags are shared by every command that reads a train config.
func configFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name: "config_path", Aliases: []string{"config"},
			Usage: "JSON config (LeRobot HIL-SERL keys); default: the embedded " + configs.DefaultConfigName,
		},
		&cli.StringSliceFlag{
			Name:  "set",
			Usage: "override a config value by its dotted JSON path, e.g. --set policy.online_steps=2000 or --set 'env.image_size=[64, 64]' (repeatable)",
		},
	}
}

// loadConfig loads --config_path with --set overrides and prints warnings.
func loadConfig(c *cli.Context) (*configs.Loaded, error) {
	l, err := configs.LoadTrain(c.String("config_path"), c.StringSlice("set"))
	if err != nil {
		return nil, err
	}
	for _, w := range l.Warnings {
		fmt.Fprintln(c.App.ErrWriter, "warning: "+w)
	}
	return l, nil
}

// NewApp builds a CLI app around commands; main packages call Run on it.
func NewApp(name, usage string, cmds ...*cli.Command) *cli.App {
	return &cli.App{
		Name: name, Usage: usage, Version: version.Version,
		Commands: cmds, HideHelpCommand: true,
		Writer: os.Stdout, ErrWriter: os.Stderr,
		ExitErrHandler: func(*cli.Context, error) {}, // Main prints errors once
		// One --set is one value, commas included (JSON lists and objects:
		// --set 'env.cameras=["front", "wrist"]').
		DisableSliceFlagSeparator: true,
	}
}

// NewSingleApp makes a binary out of one command (e2hil-train is `e2hil train`).
func NewSingleApp(name string, cmd *cli.Command) *cli.App {
	app := NewApp(name, cmd.Usage)
	app.Description = cmd.Description
	app.UsageText = strings.ReplaceAll(cmd.UsageText, "e2hil "+cmd.Name, name)
	app.Flags = cmd.Flags
	app.Action = cmd.Action
	app.ArgsUsage = cmd.ArgsUsage
	return app
}

// Main runs app and exits: 0 on success, 1 on error (one line on stderr
// with the cause chain), 2 on usage errors.
func Main(app *cli.App) {
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// out returns the command's stdout.
func out(c *cli.Context) io.Writer { return c.App.Writer }
