package commands

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/e2hil/e2hil/internal/atomicfile"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/onnx"
	"github.com/e2hil/e2hil/training/checkpoint"
	"github.com/urfave/cli/v2"
)

// ExportONNX is `e2hil export-onnx`.
func ExportONNX() *cli.Command {
	return &cli.Command{
		Name:  "export-onnx",
		Usage: "export a trained checkpoint's policy to ONNX for the onnxruntime actor",
		UsageText: "e2hil export-onnx --checkpoint DIR --out FILE.onnx|DIR\n\n" +
			"example: e2hil export-onnx --checkpoint outputs/train/sim_touch_cube/checkpoints/last --out policy.onnx",
		Description: "Writes the deterministic policy: input observation.state [batch, S] (raw; the MIN_MAX or\n" +
			"MEAN_STD normalisation is inside the model), output action [batch, A] = tanh(mean), and with a\n" +
			"gripper critic output gripper [batch] (int64 argmax: 0 close, 1 stay, 2 open). metadata_props\n" +
			"carry the normalisation stats, feature names, fps, action bounds and versions.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "checkpoint", Usage: "checkpoint directory written by e2hil train", Required: true},
			&cli.StringFlag{Name: "out", Usage: "output .onnx file, or a directory (then DIR/policy.onnx)", Required: true},
		},
		Action: func(c *cli.Context) error {
			path, err := exportPolicy(c.String("checkpoint"), c.String("out"), out(c))
			if err != nil {
				return err
			}
			fmt.Fprintf(out(c), "next: e2hil act --policy %s --fast\n", path)
			return nil
		},
	}
}

// exportPolicy writes the checkpoint's policy and prints a summary; it
// returns the written path.
func exportPolicy(ckpt, dst string, w io.Writer) (string, error) {
	c, err := checkpoint.Load(ckpt)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(dst, ".onnx") {
		dst = filepath.Join(dst, "policy.onnx")
	}
	model, err := c.Spec.ExportPolicy(c.Params, models.PolicyExportInfo{
		FPS: c.Config.Env.FPS, ActionLow: c.Spec.ActionLow(), ActionHigh: c.Spec.ActionHigh(),
	})
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(dst, model, 0o644); err != nil {
		return "", err
	}
	ins, outs, err := onnx.ReadSignature(model)
	if err != nil {
		return "", err
	}
	meta, _ := onnx.ReadMetadata(model)
	fmt.Fprintf(w, "exported %s (%d bytes, opset %d, %s parameters)\n", dst, len(model), onnx.DefaultOpset, meta["e2hil.parameters"])
	for _, v := range ins {
		fmt.Fprintf(w, "  input  %-20s %-7s %s\n", v.Name, v.Type, dimsString(v.Dims))
	}
	for _, v := range outs {
		fmt.Fprintf(w, "  output %-20s %-7s %s\n", v.Name, v.Type, dimsString(v.Dims))
	}
	fmt.Fprintf(w, "  state normalisation %s; metadata: %d entries\n", c.Spec.StateNormalizationMode(), len(meta))
	return dst, nil
}

func dimsString(d []int64) string {
	parts := make([]string, len(d))
	for i, v := range d {
		if v < 0 {
			parts[i] = "batch"
		} else {
			parts[i] = fmt.Sprint(v)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
