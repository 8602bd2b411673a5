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
	"github.com/e2hil/e2hil/models/preprocess"
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
			"gripper critic output gripper [batch] (int64 argmax: 0 close, 1 stay, 2 open). A policy with\n" +
			"cameras also takes one input per camera, observation.images.NAME [batch, 3, H, W] in [0, 1], and\n" +
			"carries its frozen ResNet-10 (the checkpoint's backbone.safetensors). metadata_props carry the\n" +
			"normalisation stats, feature names, image sizes, fps, action bounds and versions.",
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
	info := models.PolicyExportInfo{FPS: c.Config.Env.FPS, ActionLow: c.Spec.ActionLow(), ActionHigh: c.Spec.ActionHigh()}
	var model []byte
	if len(c.Spec.Cameras) > 0 {
		model, err = exportImagePolicy(c, info)
	} else {
		model, err = c.Spec.ExportPolicy(c.Params, info)
	}
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

// exportImagePolicy exports a policy with cameras with the checkpoint's
// frozen backbone; images are normalised in the graph as the trainer does
// (ImageNet statistics on [0, 1] pixels).
func exportImagePolicy(c *checkpoint.Checkpoint, info models.PolicyExportInfo) ([]byte, error) {
	feats := c.Config.Policy.InputFeatures.Images()
	if len(feats) != len(c.Spec.Cameras) {
		return nil, fmt.Errorf("checkpoint: %d camera inputs in %s, %d in %s", len(feats), checkpoint.ConfigFile, len(c.Spec.Cameras), checkpoint.SpecFile)
	}
	cams := make([]models.PolicyCamera, len(feats))
	for i, f := range feats {
		if len(f.Shape) != 3 {
			return nil, fmt.Errorf("checkpoint: policy.input_features.%s: shape %v, want [3, H, W]", f.Name, f.Shape)
		}
		cams[i] = models.PolicyCamera{Key: f.Name, Height: f.Shape[1], Width: f.Shape[2]}
		copy(cams[i].Mean[:], preprocess.ImageNetMean)
		copy(cams[i].Std[:], preprocess.ImageNetStd)
	}
	return c.Spec.ExportImagePolicy(c.Params, *c.Backbone, c.BackboneParams, cams, info)
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
