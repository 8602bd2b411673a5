package env

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/drivers/kinematics"
)

// Action layout of the end-effector action space.
var actionNames = []string{"delta_x", "delta_y", "delta_z", "gripper"}

// Manipulator is LeRobot's gym_manipulator over a joint-level robot: the
// action is an end-effector delta plus a gripper command, turned into joint
// goals by IK inside the configured end-effector bounds.
//
// observation.state, in order (Spec().StateNames):
//
//	0–4   shoulder_pan.pos … wrist_roll.pos   joint positions, degrees (0 = middle of the calibrated range)
//	5     gripper.pos                         0 (closed) … 100 (open)
//	6–8   ee.x, ee.y, ee.z                    gripper_frame_link position in base_link, metres
//	9…    the scene's environment state      simulation only: cube.x, cube.y, cube.z (metres)
//
// With cameras, every observation also carries one frame per camera in
// Observation.Images, read after the arm moved.
type Manipulator struct {
	cfg    configs.EnvConfig
	robot  Robot
	scene  Scene // nil for a real robot (reward then comes from a classifier or the operator)
	chain  *kinematics.Chain
	ee     kinematics.EEDelta
	ik     kinematics.IKOptions
	spec   Spec
	wantR  kinematics.Mat3 // gripper orientation held during the episode
	steps  int
	joints []float64
	cams   []NamedCamera
}

// NewManipulator connects robot and builds the env. scene may be nil;
// cameras may be empty.
func NewManipulator(ctx context.Context, cfg configs.EnvConfig, robot Robot, scene Scene, robotType string, cameras ...NamedCamera) (*Manipulator, error) {
	motors := robot.Motors()
	if len(motors) != 6 {
		return nil, fmt.Errorf("env: robot has %d motors %v, want the SO-101's 6", len(motors), motors)
	}
	chain := kinematics.SO101()
	if p := cfg.Processor.InverseKinematics.URDFPath; p != "" {
		return nil, fmt.Errorf("env: processor.inverse_kinematics.urdf_path %q: only the embedded SO-101 URDF is supported so far (leave it empty)", p)
	}
	b := cfg.Processor.InverseKinematics.EndEffectorBounds
	s := cfg.Processor.InverseKinematics.EndEffectorStepSizes
	m := &Manipulator{
		cfg: cfg, robot: robot, scene: scene, chain: chain,
		ee: kinematics.EEDelta{
			StepSizes: kinematics.Vec3{s.X, s.Y, s.Z},
			Min:       kinematics.Vec3{b.Min[0], b.Min[1], b.Min[2]},
			Max:       kinematics.Vec3{b.Max[0], b.Max[1], b.Max[2]},
		},
		ik:   kinematics.DefaultIKOptions(),
		cams: append([]NamedCamera(nil), cameras...),
	}
	seen := map[string]bool{}
	for _, c := range m.cams {
		if c.Name == "" || c.Camera == nil || seen[c.Name] {
			return nil, fmt.Errorf("env: camera %q: cameras need distinct names", c.Name)
		}
		seen[c.Name] = true
		if h, w := c.Camera.Size(); h < 1 || w < 1 {
			return nil, fmt.Errorf("env: camera %q has size %d×%d", c.Name, h, w)
		}
	}
	m.spec = m.buildSpec(motors, robotType)
	if err := robot.Connect(ctx); err != nil {
		return nil, fmt.Errorf("env: connect robot: %w", err)
	}
	return m, nil
}

func (m *Manipulator) buildSpec(motors []string, robotType string) Spec {
	sp := Spec{
		RobotType: robotType, Task: m.cfg.Task, FPS: m.cfg.FPS, MaxEpisodeSteps: m.cfg.MaxEpisodeSteps(),
		ActionNames: append([]string(nil), actionNames...),
		ActionLow:   []float32{-1, -1, -1, 0},
		ActionHigh:  []float32{1, 1, 1, 2},
		HasGripper:  true,
	}
	lo, hi := m.chain.Limits()
	for i, name := range motors {
		sp.StateNames = append(sp.StateNames, name+".pos")
		if i < len(lo) {
			sp.StateLow = append(sp.StateLow, float32(kinematics.Rad2Deg(lo[i])))
			sp.StateHigh = append(sp.StateHigh, float32(kinematics.Rad2Deg(hi[i])))
		} else { // gripper
			sp.StateLow = append(sp.StateLow, 0)
			sp.StateHigh = append(sp.StateHigh, 100)
		}
	}
	for i, axis := range []string{"ee.x", "ee.y", "ee.z"} {
		sp.StateNames = append(sp.StateNames, axis)
		sp.StateLow = append(sp.StateLow, float32(m.ee.Min[i]))
		sp.StateHigh = append(sp.StateHigh, float32(m.ee.Max[i]))
	}
	if m.scene != nil {
		lo, hi := m.scene.EnvironmentBounds()
		for i, name := range m.scene.EnvironmentNames() {
			sp.StateNames = append(sp.StateNames, name)
			sp.StateLow = append(sp.StateLow, float32(lo[i]))
			sp.StateHigh = append(sp.StateHigh, float32(hi[i]))
		}
	}
	for _, c := range m.cams {
		h, w := c.Camera.Size()
		sp.Cameras = append(sp.Cameras, CameraSpec{Key: ImageKey(c.Name), H: h, W: w})
	}
	return sp
}

// Spec describes the env.
func (m *Manipulator) Spec() Spec { return m.spec }

// Reset moves the arm to the fixed reset pose, re-randomises the scene from
// seed, waits reset_time_s (real robots settle), and observes.
func (m *Manipulator) Reset(ctx context.Context, seed int64) (Observation, error) {
	if m.scene != nil {
		m.scene.ResetScene(seed)
	}
	reset := m.cfg.Processor.Reset.FixedResetJointPositions
	if err := m.robot.WriteJoints(ctx, reset); err != nil {
		return Observation{}, fmt.Errorf("env: reset: %w", err)
	}
	if d := m.cfg.Processor.Reset.ResetTimeS; d > 0 {
		t := time.NewTimer(time.Duration(d * float64(time.Second)))
		select {
		case <-ctx.Done():
			t.Stop()
			return Observation{}, ctx.Err()
		case <-t.C:
		}
	}
	joints, err := m.robot.ReadJoints(ctx)
	if err != nil {
		return Observation{}, fmt.Errorf("env: reset: %w", err)
	}
	pose, err := m.chain.FK(bodyRadians(joints))
	if err != nil {
		return Observation{}, err
	}
	m.wantR = pose.R
	m.steps = 0
	m.joints = joints
	obs, err := m.observe(ctx, joints, pose.P)
	if err != nil {
		return Observation{}, fmt.Errorf("env: reset: %w", err)
	}
	return obs, nil
}

// Step applies [delta_x, delta_y, delta_z, gripper]: the deltas (clipped to
// [-1, 1]) times end_effector_step_sizes move the tip target, which is
// clipped to end_effector_bounds and reached by IK; gripper 0 closes, 1
// stays, 2 opens by max_gripper_pos. A 3-value action leaves the gripper.
func (m *Manipulator) Step(ctx context.Context, action []float32) (StepResult, error) {
	if m.joints == nil {
		return StepResult{}, fmt.Errorf("env: Step before Reset")
	}
	if len(action) != 3 && len(action) != 4 {
		return StepResult{}, fmt.Errorf("env: action has %d values, want %v (or the first 3)", len(action), actionNames)
	}
	for i, a := range action {
		if math.IsNaN(float64(a)) || math.IsInf(float64(a), 0) {
			return StepResult{}, fmt.Errorf("env: action %s = %g is not finite", actionNames[i], a)
		}
	}
	q := bodyRadians(m.joints)
	pose, err := m.chain.FK(q)
	if err != nil {
		return StepResult{}, err
	}
	target := m.ee.Target(pose.P, [3]float64{float64(action[0]), float64(action[1]), float64(action[2])})
	sol, _, err := m.chain.SolveIK(q, target, m.wantR, m.ik)
	if err != nil {
		return StepResult{}, err
	}
	goal := make([]float64, len(m.joints))
	for i, r := range sol {
		goal[i] = kinematics.Rad2Deg(r)
	}
	g := len(m.joints) - 1
	goal[g] = m.joints[g]
	if len(action) == 4 && m.cfg.Processor.Gripper.UseGripper {
		cmd := math.Max(0, math.Min(2, float64(action[3])))
		goal[g] = math.Max(0, math.Min(100, m.joints[g]+(cmd-1)*m.cfg.Processor.MaxGripperPos))
	}
	if err := m.robot.WriteJoints(ctx, goal); err != nil {
		return StepResult{}, fmt.Errorf("env: step: %w", err)
	}
	joints, err := m.robot.ReadJoints(ctx)
	if err != nil {
		return StepResult{}, fmt.Errorf("env: step: %w", err)
	}
	m.joints = joints
	now, err := m.chain.FK(bodyRadians(joints))
	if err != nil {
		return StepResult{}, err
	}
	m.steps++
	obs, err := m.observe(ctx, joints, now.P)
	if err != nil {
		return StepResult{}, fmt.Errorf("env: step: %w", err)
	}
	res := StepResult{Observation: obs}
	if m.scene != nil {
		res.Reward, res.Success = m.scene.Evaluate()
	}
	res.Terminated = res.Success && m.cfg.Processor.Reset.TerminateOnSuccess
	res.Truncated = !res.Terminated && m.steps >= m.spec.MaxEpisodeSteps
	return res, nil
}

// Close disconnects the robot.
func (m *Manipulator) Close(ctx context.Context) error {
	return m.robot.Disconnect(ctx)
}

// Scene is the simulated world around the robot (nil for a real robot).
func (m *Manipulator) Scene() Scene { return m.scene }

func (m *Manipulator) observe(ctx context.Context, joints []float64, ee kinematics.Vec3) (Observation, error) {
	state := make([]float32, 0, len(m.spec.StateNames))
	for _, j := range joints {
		state = append(state, float32(j))
	}
	state = append(state, float32(ee[0]), float32(ee[1]), float32(ee[2]))
	if m.scene != nil {
		for _, v := range m.scene.EnvironmentState() {
			state = append(state, float32(v))
		}
	}
	obs := Observation{State: state}
	if len(m.cams) > 0 {
		obs.Images = make(map[string]Image, len(m.cams))
		for i, c := range m.cams {
			sp := m.spec.Cameras[i]
			pix := make([]uint8, 3*sp.H*sp.W) // fresh: the previous observation may still be in use
			if err := c.Camera.Read(ctx, pix); err != nil {
				return Observation{}, fmt.Errorf("camera %s: %w", c.Name, err)
			}
			obs.Images[sp.Key] = Image{H: sp.H, W: sp.W, Pix: pix}
		}
	}
	return obs, nil
}

// bodyRadians converts the five body joints from degrees to radians.
func bodyRadians(joints []float64) []float64 {
	q := make([]float64, 5)
	for i := range q {
		q[i] = kinematics.Deg2Rad(joints[i])
	}
	return q
}
