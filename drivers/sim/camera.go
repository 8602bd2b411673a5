package sim

import (
	"context"
	"fmt"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

// Camera names of the simulated SO-101 (recorded as observation.images.<name>).
const (
	// CameraFront is fixed in front of the table, above it, looking back at
	// the arm and the cube's area.
	CameraFront = "front"
	// CameraWrist rides on the gripper, beside the jaws, looking along them.
	CameraWrist = "wrist"
)

// CameraNames lists the available cameras.
func CameraNames() []string { return []string{CameraFront, CameraWrist} }

// mount places a camera: eye, target and up in the base frame, or in the
// gripper_link frame when onGripper.
type mount struct {
	onGripper       bool
	eye, target, up kinematics.Vec3
	fovY            float64 // vertical field of view, degrees
}

var mounts = map[string]mount{
	CameraFront: {eye: kinematics.Vec3{0.50, 0.30, 0.30}, target: kinematics.Vec3{0.18, 0, 0.08}, up: kinematics.Vec3{0, 0, 1}, fovY: 50},
	// Beside the jaws (−y), a little behind their tops, looking past the
	// tip; the image's up points back towards the wrist.
	CameraWrist: {onGripper: true, eye: kinematics.Vec3{-0.004, -0.048, -0.030}, target: kinematics.Vec3{-0.008, 0, -0.125}, up: kinematics.Vec3{0, 0, 1}, fovY: 78},
}

// Camera renders one of the world's views at a fixed size. It implements
// env.Camera. Not safe for concurrent use (it owns its buffers).
type Camera struct {
	world *World
	name  string
	m     mount
	r     *renderer
	sc    scene
}

// NewCamera returns the camera name ("front" or "wrist") rendering h×w RGB
// frames, supersampled ss×ss (1: one sample per pixel; 2 smooths edges at
// 4× the cost).
func (w *World) NewCamera(name string, h, wd, ss int) (*Camera, error) {
	m, ok := mounts[name]
	if !ok {
		return nil, fmt.Errorf("sim: camera %q unknown (available: %q)", name, CameraNames())
	}
	if h < 8 || wd < 8 || h > 4096 || wd > 4096 {
		return nil, fmt.Errorf("sim: camera %q size %d×%d out of range [8, 4096]", name, h, wd)
	}
	if ss < 1 || ss > 4 {
		return nil, fmt.Errorf("sim: camera %q supersampling %d out of range [1, 4]", name, ss)
	}
	return &Camera{world: w, name: name, m: m, r: newRenderer(h, wd, ss)}, nil
}

// Name is the camera's name.
func (c *Camera) Name() string { return c.name }

// Size is the frame's height and width in pixels.
func (c *Camera) Size() (h, w int) { return c.r.h, c.r.w }

// Read renders the world as it is now into dst (h·w·3 bytes, HWC RGB,
// row-major).
func (c *Camera) Read(ctx context.Context, dst []uint8) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(dst) != 3*c.r.h*c.r.w {
		return fmt.Errorf("sim: camera %q frame buffer has %d bytes, want %d (%d×%d×3)", c.name, len(dst), 3*c.r.h*c.r.w, c.r.h, c.r.w)
	}
	c.world.build(&c.sc)
	c.r.draw(&c.sc, c.view(), !c.m.onGripper, dst)
	return nil
}

// view is the camera's pinhole at the world's current state.
func (c *Camera) view() view {
	eye, target, up := c.m.eye, c.m.target, c.m.up
	if c.m.onGripper {
		g := c.world.frames().gripper
		eye, target, up = g.R.Apply(eye).Add(g.P), g.R.Apply(target).Add(g.P), g.R.Apply(up)
	}
	return newView(eye, target, up, c.m.fovY, c.r.rh)
}
