package so101_test

import (
	"github.com/e2hil/e2hil/drivers/so101"
	"github.com/e2hil/e2hil/drivers/teleop"
	"github.com/e2hil/e2hil/env"
)

// The follower is the real robot behind env's joint-level interface, and
// the leader is what leader-arm teleoperation drives.
var (
	_ env.Robot        = (*so101.Follower)(nil)
	_ teleop.LeaderArm = (*so101.Leader)(nil)
)
