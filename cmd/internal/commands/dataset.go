package commands

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/e2hil/e2hil/dataset"
	"github.com/urfave/cli/v2"
)

// Dataset is `e2hil dataset`.
func Dataset() *cli.Command {
	return &cli.Command{
		Name:  "dataset",
		Usage: "work with LeRobot datasets (v3.0 and v2.1)",
		Subcommands: []*cli.Command{
			datasetInspect(),
			datasetValidate(),
			datasetConvert(),
		},
	}
}

func datasetInspect() *cli.Command {
	return &cli.Command{
		Name:  "inspect",
		Usage: "print a LeRobot dataset's version, fps, totals, features, tasks, episodes, videos and stats",
		UsageText: "e2hil dataset inspect DIR [--json] [--episode N]\n\n" +
			"examples: e2hil dataset inspect outputs/demo/dataset\n" +
			"          e2hil dataset inspect --json --episode 3 ~/lerobot/so101_pick",
		ArgsUsage: "DIR",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of tables"},
			&cli.IntFlag{Name: "episode", Value: -1, Usage: "also show episode `N` in detail: its stats and video segments"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("dataset inspect: want one dataset directory, got %d arguments", c.NArg())
			}
			rep, err := dataset.InspectContext(c.Context, c.Args().First(), dataset.InspectOptions{Episode: c.Int("episode")})
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
	}
}

func datasetValidate() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check a LeRobot dataset as LeRobot's loader would, and the integrity of every file",
		UsageText: "e2hil dataset validate DIR [--json] [--no-decode] [--repair]\n\n" +
			"Prints one line per problem and exits 1 when there is any, 0 when the dataset is valid.\n\n" +
			"example: e2hil dataset validate ~/lerobot/so101_pick",
		ArgsUsage: "DIR",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the result as one JSON object"},
			&cli.BoolFlag{Name: "no-decode", Usage: "check videos with ffprobe only, without decoding frames at episode boundaries"},
			&cli.BoolFlag{Name: "repair", Usage: "first complete an episode save that a crash interrupted (the only change it makes)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("dataset validate: want one dataset directory, got %d arguments", c.NArg())
			}
			root := c.Args().First()
			if c.Bool("repair") {
				done, err := dataset.Recover(root)
				if err != nil {
					return err
				}
				if done {
					fmt.Fprintf(c.App.ErrWriter, "repaired: completed an interrupted episode save in %s\n", root)
				}
			}
			v, err := dataset.Validate(c.Context, root, dataset.ValidateOptions{SkipDecode: c.Bool("no-decode")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(out(c))
				enc.SetIndent("", "  ")
				if err := enc.Encode(v); err != nil {
					return err
				}
			} else {
				for _, p := range v.Problems {
					fmt.Fprintln(out(c), p.String())
				}
				for _, w := range v.Warnings {
					fmt.Fprintln(c.App.ErrWriter, "warning: "+w)
				}
				if v.OK() {
					fmt.Fprintf(out(c), "%s: valid LeRobot %s dataset (%d frames checked)\n", root, v.CodebaseVersion, v.CheckedFrames)
				}
			}
			return v.Err()
		},
	}
}

func datasetConvert() *cli.Command {
	return &cli.Command{
		Name:  "convert",
		Usage: "convert a LeRobot v2.1 dataset to v3.0 (videos are concatenated without re-encoding)",
		UsageText: "e2hil dataset convert SRC DST [--episodes 1,2,5-9]\n\n" +
			"DST must not exist or be empty. --episodes converts only those episodes (renumbered from 0),\n" +
			"for instance the ones whose files are present in a partial copy.\n\n" +
			"example: e2hil dataset convert ~/lerobot/pusht_v21 ~/lerobot/pusht",
		ArgsUsage: "SRC DST",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "episodes", Usage: "comma-separated episode indices or ranges `LIST` to convert (default: all)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("dataset convert: want SRC and DST, got %d arguments", c.NArg())
			}
			eps, err := parseEpisodeList(c.String("episodes"))
			if err != nil {
				return usagef("dataset convert: --episodes: %v", err)
			}
			rep, err := dataset.ConvertV21(c.Context, c.Args().Get(0), c.Args().Get(1), dataset.ConvertOptions{Episodes: eps})
			if err != nil {
				return err
			}
			fmt.Fprintf(out(c), "converted %d episodes (%d frames) of %s to LeRobot v3.0 in %s\n", rep.Episodes, rep.Frames, c.Args().Get(0), c.Args().Get(1))
			return nil
		},
	}
}

// parseEpisodeList parses "1,2,5-9"; "" is nil (all episodes).
func parseEpisodeList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not an episode index or range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range low-high", part)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}
