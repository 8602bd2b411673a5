package commands

import (
	"encoding/json"

	"github.com/e2hil/e2hil/dataset"
	"github.com/urfave/cli/v2"
)

// Dataset is `e2hil dataset`.
func Dataset() *cli.Command {
	return &cli.Command{
		Name:  "dataset",
		Usage: "work with LeRobot datasets",
		Subcommands: []*cli.Command{{
			Name:      "inspect",
			Usage:     "print a LeRobot dataset's version, fps, totals, features, tasks and episodes",
			UsageText: "e2hil dataset inspect DIR [--json]\n\nexample: e2hil dataset inspect outputs/demo/dataset",
			ArgsUsage: "DIR",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of tables"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usagef("dataset inspect: want one dataset directory, got %d arguments", c.NArg())
				}
				rep, err := dataset.Inspect(c.Args().First())
				if err != nil {
					return err
				}
				if c.Bool("json") {
					enc := json.NewEncoder(out(c))
					enc.SetIndent("", "  ")
					return enc.Encode(rep)
				}
				return rep.WriteText(out(c))
			},
		}},
	}
}
