package commands

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/e2hil/e2hil/internal/atomicfile"
	"github.com/urfave/cli/v2"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plotField is a train.jsonl field `e2hil plot` draws.
type plotField struct {
	name, title string
	// overview: one of the main curves tiled in overview.png.
	overview bool
}

// plotFields are the fields training/online.go logs per update, in the
// order they are drawn; other fields are ignored.
var plotFields = []plotField{
	{"episode_return_recent", "episode return (recent mean)", true},
	{"success_rate_recent", "success rate (recent episodes)", true},
	{"loss_critic", "critic loss", true},
	{"loss_actor", "actor loss", true},
	{"loss_temperature", "temperature loss", false},
	{"temperature", "temperature (alpha)", true},
	{"policy_entropy", "policy entropy", true},
	{"entropy_delta", "policy entropy change per update", false},
	{"mean_q", "mean Q", true},
	{"critic_grad_norm", "critic gradient norm", false},
	{"actor_grad_norm", "actor gradient norm", false},
	{"loss_discrete_critic", "gripper critic loss", false},
	{"discrete_critic_grad_norm", "gripper critic gradient norm", false},
	{"updates_per_s", "updates per second", false},
	{"keep_ratio", "E2HiL keep ratio", true},
	{"keep_ratio_tag0", "E2HiL keep ratio, policy samples (tag 0)", false},
	{"keep_ratio_tag1", "E2HiL keep ratio, human samples (tag 1)", false},
	{"c_lower", "E2HiL lower |c| quantile", false},
	{"c_upper", "E2HiL upper |c| quantile", false},
	{"c_abs_mean_tag0", "E2HiL mean |c|, policy samples (tag 0)", false},
	{"c_abs_mean_tag1", "E2HiL mean |c|, human samples (tag 1)", false},
	{"cov_batch_mean", "E2HiL mean c over the batch", false},
}

// Image sizes in pixels at plotDPI: one field, and one tile of the overview.
const (
	plotDPI                 = 100
	fieldWidth, fieldHeight = 800, 500
	tileWidth, tileHeight   = 500, 320
	overviewCols            = 2
	// maxPlotPoints bounds the points drawn per curve; longer runs are
	// reduced to each bucket's minimum and maximum, keeping spikes.
	maxPlotPoints = 4000
	// From smoothFrom points on, a trailing mean over 1/smoothDivisor of
	// the run is drawn over the (lighter) raw curve.
	smoothFrom, smoothDivisor = 100, 50
)

// plotXFields are the x axes --x accepts.
var plotXFields = []string{"optimization_step", "interaction_step"}

// Plot is `e2hil plot`.
func Plot() *cli.Command {
	return &cli.Command{
		Name:  "plot",
		Usage: "draw a training run's metrics (RUN_DIR/logs/train.jsonl) as PNG curves",
		UsageText: "e2hil plot [--out DIR] [--x optimization_step|interaction_step] RUN_DIR\n\n" +
			"example: e2hil plot outputs/train/sim_touch_cube\n" +
			"         e2hil plot --x interaction_step --out /tmp/plots outputs/train/pendulum",
		Description: "Reads RUN_DIR/logs/train.jsonl, which `e2hil train` writes under its output_dir (one JSON\n" +
			"object per update), and writes one <field>.png per logged metric (losses, temperature,\n" +
			"entropy, mean Q, gradient norms, updates/s, recent return and success rate, and with E2HiL\n" +
			"the keep ratio, the |c| quantiles and mean |c| per tag) plus overview.png, a grid of the\n" +
			"main curves. Lines without the x field are skipped; other fields are ignored. Works on a\n" +
			"run still in progress. Flags go before RUN_DIR.",
		ArgsUsage: "RUN_DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "directory for the PNGs (default: RUN_DIR/plots)"},
			&cli.StringFlag{Name: "x", Value: "optimization_step", Usage: "x axis: optimization_step or interaction_step"},
		},
		Action: runPlot,
	}
}

func runPlot(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("plot: want one RUN_DIR, got %d arguments %q (flags go before RUN_DIR)", c.NArg(), c.Args().Slice())
	}
	runDir := c.Args().First()
	xField := c.String("x")
	if xField != plotXFields[0] && xField != plotXFields[1] {
		return usagef("plot: --x %q: want %s or %s", xField, plotXFields[0], plotXFields[1])
	}
	outDir := c.String("out")
	if outDir == "" {
		outDir = filepath.Join(runDir, "plots")
	}
	logPath := filepath.Join(runDir, "logs", "train.jsonl")
	f, err := os.Open(logPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("plot: no training log in %s (`e2hil train` writes it under output_dir/logs/train.jsonl): %w", runDir, err)
		}
		return fmt.Errorf("plot: %w", err)
	}
	defer f.Close()
	log, err := readTrainLog(f, logPath, xField)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if log.skipped > 0 {
		fmt.Fprintf(c.App.ErrWriter, "plot: %s: skipped %d line(s) without %s\n", logPath, log.skipped, xField)
	}
	if log.partial > 0 {
		fmt.Fprintf(c.App.ErrWriter, "plot: %s:%d: skipped an incomplete last line (the run is still writing it)\n", logPath, log.partial)
	}
	if log.records == 0 {
		return fmt.Errorf("plot: %s: no line has a numeric %s, nothing to plot", logPath, xField)
	}
	written, err := writePlots(log, xField, outDir)
	for _, p := range written {
		fmt.Fprintln(out(c), p)
	}
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// trainLog is train.jsonl as curves.
type trainLog struct {
	series  map[string]plotter.XYs // by field name, in file order
	records int                    // lines with x
	skipped int                    // lines without x
	partial int                    // line number of an incomplete last line, or 0
}

// readTrainLog reads JSON lines from r (named path in errors) and collects
// every plotField against xField. A malformed line is an error naming
// path:line, except an unterminated last line, which a running trainer may
// be writing: it is skipped and reported in partial.
func readTrainLog(r io.Reader, path, xField string) (*trainLog, error) {
	log := &trainLog{series: map[string]plotter.XYs{}}
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, readErr := br.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			return nil, fmt.Errorf("read %s: %w", path, readErr)
		}
		last := readErr == io.EOF
		if line = bytes.TrimSpace(line); len(line) > 0 {
			var rec map[string]any
			if err := json.Unmarshal(line, &rec); err != nil || rec == nil {
				if last {
					log.partial = n
					return log, nil
				}
				if err == nil {
					err = errors.New("want a JSON object, got null")
				}
				return nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
			if err := log.add(rec, xField); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
		}
		if last {
			return log, nil
		}
	}
}

func (l *trainLog) add(rec map[string]any, xField string) error {
	xv, ok := rec[xField]
	if !ok || xv == nil {
		l.skipped++
		return nil
	}
	x, ok := xv.(float64)
	if !ok {
		return fmt.Errorf("%s: want a number, got %v", xField, xv)
	}
	l.records++
	for _, f := range plotFields {
		v, ok := rec[f.name]
		if !ok || v == nil {
			continue
		}
		y, ok := v.(float64)
		if !ok {
			return fmt.Errorf("%s: want a number, got %v", f.name, v)
		}
		l.series[f.name] = append(l.series[f.name], plotter.XY{X: x, Y: y})
	}
	return nil
}

// writePlots writes <field>.png for every field with points and
// overview.png, each atomically, and returns the paths written.
func writePlots(log *trainLog, xField, outDir string) ([]string, error) {
	if err := atomicfile.MkdirAll(outDir); err != nil {
		return nil, err
	}
	var written []string
	var main []*plot.Plot
	for _, f := range plotFields {
		pts, ok := log.series[f.name]
		if !ok {
			continue
		}
		p, err := curve(f, pts, xField)
		if err != nil {
			return written, err
		}
		path := filepath.Join(outDir, f.name+".png")
		if err := writePNG(path, fieldWidth, fieldHeight, func(dc draw.Canvas) { p.Draw(dc) }); err != nil {
			return written, err
		}
		written = append(written, path)
		if f.overview {
			main = append(main, p)
		}
	}
	if len(main) == 0 {
		return written, nil
	}
	cols := min(overviewCols, len(main))
	rows := (len(main) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
		for col := range grid[r] {
			if i := r*cols + col; i < len(main) {
				grid[r][col] = main[i]
			}
		}
	}
	path := filepath.Join(outDir, "overview.png")
	err := writePNG(path, cols*tileWidth, rows*tileHeight, func(dc draw.Canvas) {
		pad := 4 * vg.Millimeter
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: pad, PadY: pad, PadTop: pad, PadBottom: pad, PadLeft: pad, PadRight: pad}
		canvases := plot.Align(grid, tiles, dc)
		for r := range grid {
			for col, p := range grid[r] {
				if p != nil {
					p.Draw(canvases[r][col])
				}
			}
		}
	})
	if err != nil {
		return written, err
	}
	return append(written, path), nil
}

// Curve colours: the raw values, and their trailing mean drawn over them.
var (
	rawColor    = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	lightColor  = color.RGBA{R: 0xa6, G: 0xc8, B: 0xe3, A: 0xff}
	smoothColor = color.RGBA{R: 0x08, G: 0x30, B: 0x6b, A: 0xff}
)

// curve is one field against x: a line (with its trailing mean when long),
// or a dot for a single point.
func curve(f plotField, pts plotter.XYs, xField string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = f.title
	p.X.Label.Text = xField
	p.Y.Label.Text = f.name
	p.Add(plotter.NewGrid())
	if len(pts) == 1 {
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		p.Add(s)
		return p, nil
	}
	raw, err := plotter.NewLine(decimate(pts, maxPlotPoints))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	raw.Color, raw.Width = rawColor, vg.Points(1.2)
	p.Add(raw)
	if len(pts) >= smoothFrom {
		mean, err := plotter.NewLine(decimate(smooth(pts, len(pts)/smoothDivisor), maxPlotPoints))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		raw.Color = lightColor
		mean.Color, mean.Width = smoothColor, vg.Points(1.5)
		p.Add(mean)
	}
	return p, nil
}

// smooth is the trailing mean of the last window values at every point
// (fewer at the start).
func smooth(pts plotter.XYs, window int) plotter.XYs {
	window = max(window, 1)
	out := make(plotter.XYs, len(pts))
	sum := 0.0
	for i, pt := range pts {
		sum += pt.Y
		if i >= window {
			sum -= pts[i-window].Y
		}
		out[i] = plotter.XY{X: pt.X, Y: sum / float64(min(i+1, window))}
	}
	return out
}

// writePNG renders draw onto a width×height pixel canvas and writes it to
// path atomically.
func writePNG(path string, width, height int, render func(draw.Canvas)) error {
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / plotDPI }
	img := vgimg.NewWith(vgimg.UseWH(px(width), px(height)), vgimg.UseDPI(plotDPI), vgimg.UseBackgroundColor(color.White))
	render(draw.New(img))
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}

// decimate returns pts when it has at most limit points, else, per bucket of
// consecutive points, the minimum and the maximum in their original order:
// at most limit points that keep every spike.
func decimate(pts plotter.XYs, limit int) plotter.XYs {
	if len(pts) <= limit || limit < 2 {
		return pts
	}
	buckets := limit / 2
	out := make(plotter.XYs, 0, 2*buckets)
	for b := range buckets {
		lo, hi := b*len(pts)/buckets, (b+1)*len(pts)/buckets
		iMin, iMax := lo, lo
		for i := lo + 1; i < hi; i++ {
			if pts[i].Y < pts[iMin].Y {
				iMin = i
			}
			if pts[i].Y > pts[iMax].Y {
				iMax = i
			}
		}
		switch {
		case iMin == iMax:
			out = append(out, pts[iMin])
		case iMin < iMax:
			out = append(out, pts[iMin], pts[iMax])
		default:
			out = append(out, pts[iMax], pts[iMin])
		}
	}
	return out
}
