package commands

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/e2hil/e2hil/drivers/so101"
	"github.com/urfave/cli/v2"
)

// Calibrate is `e2hil calibrate`: LeRobot's lerobot-calibrate for an SO-101
// follower (--robot.*) or leader (--teleop.*).
func Calibrate() *cli.Command {
	return &cli.Command{
		Name:  "calibrate",
		Usage: "calibrate an SO-101 follower or leader arm (LeRobot's procedure and calibration files)",
		UsageText: "e2hil calibrate --robot.type so101_follower --robot.port PORT [--robot.id ID] [--robot.calibration_dir DIR]\n" +
			"e2hil calibrate --teleop.type so101_leader --teleop.port PORT [--teleop.id ID] [--teleop.calibration_dir DIR]\n\n" +
			"example: e2hil calibrate --robot.type so101_follower --robot.port /dev/ttyACM0 --robot.id my_arm\n" +
			"example: e2hil calibrate --robot.type so101_follower --robot.port emu://so101   (the built-in emulator)",
		Description: "Connects, then asks you to move the arm to the middle of its range (ENTER), sets each\n" +
			"motor's homing offset so that pose reads 2047, records each joint's range while you move\n" +
			"it (ENTER to stop), writes offsets and limits to the motors and saves LeRobot's JSON to\n" +
			"<HF_LEROBOT_CALIBRATION>/{robots|teleoperators}/<type>/<id>.json (or the calibration_dir).\n" +
			"With an existing file, ENTER writes it to the motors instead and 'c' recalibrates.\n" +
			"Torque is disabled on exit, on error and on Ctrl-C.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "robot.type", Usage: "so101_follower or so101_follower_end_effector"},
			&cli.StringFlag{Name: "robot.port", Usage: "serial port of the follower (/dev/ttyACM0), or emu://so101"},
			&cli.StringFlag{Name: "robot.id", Usage: "calibration file name (default: None, as LeRobot)"},
			&cli.StringFlag{Name: "robot.calibration_dir", Usage: "directory replacing LeRobot's default"},
			&cli.StringFlag{Name: "teleop.type", Usage: "so101_leader"},
			&cli.StringFlag{Name: "teleop.port", Usage: "serial port of the leader, or emu://so101"},
			&cli.StringFlag{Name: "teleop.id", Usage: "calibration file name (default: None)"},
			&cli.StringFlag{Name: "teleop.calibration_dir", Usage: "directory replacing LeRobot's default"},
		},
		Action: runCalibrate,
	}
}

// calibratable is what both arms offer the command.
type calibratable interface {
	ConnectWithoutCalibration(ctx context.Context) error
	Calibrate(ctx context.Context) error
	Disconnect(ctx context.Context) error
}

func runCalibrate(c *cli.Context) error {
	robotType, teleopType := c.String("robot.type"), c.String("teleop.type")
	if (robotType == "") == (teleopType == "") {
		return usagef("calibrate: give exactly one of --robot.type or --teleop.type")
	}
	op := so101.NewConsole(c.App.Reader, out(c))
	var arm calibratable
	switch {
	case robotType == so101.TypeFollower || robotType == so101.TypeFollowerEE:
		cfg := so101.DefaultFollowerConfig(c.String("robot.port"))
		cfg.Type, cfg.ID, cfg.CalibrationDir = robotType, c.String("robot.id"), c.String("robot.calibration_dir")
		f, err := so101.NewFollower(cfg, op)
		if err != nil {
			return err
		}
		arm = f
	case robotType != "":
		return usagef("calibrate: --robot.type %q is not supported (want %s or %s)", robotType, so101.TypeFollower, so101.TypeFollowerEE)
	case teleopType == so101.TypeLeader:
		cfg := so101.DefaultLeaderConfig(c.String("teleop.port"))
		cfg.ID, cfg.CalibrationDir = c.String("teleop.id"), c.String("teleop.calibration_dir")
		l, err := so101.NewLeader(cfg, op)
		if err != nil {
			return err
		}
		arm = l
	default:
		return usagef("calibrate: --teleop.type %q is not supported (want %s)", teleopType, so101.TypeLeader)
	}

	// Ctrl-C ends the procedure; the arm's own handler has already
	// disabled torque by then.
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := arm.ConnectWithoutCalibration(ctx); err != nil {
		return err
	}
	err := arm.Calibrate(ctx)
	// Disconnect even when interrupted, with a context of its own.
	if derr := arm.Disconnect(context.WithoutCancel(ctx)); derr != nil {
		err = errors.Join(err, derr)
	}
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	return nil
}
