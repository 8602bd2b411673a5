// Package teleop turns human input into HIL-SERL's typed teleoperation
// events and end-effector actions: a Linux joystick gamepad, a keyboard
// (Linux evdev, so it works without a display), and the SO-101 leader arm
// (shared/design/SO101.md §8, shared/design/HILSERL.md §4.7).
//
// Devices are read from byte streams by goroutines each device owns and
// stops on Close; the parsers are fuzzed. It must not talk to the bus
// itself: the leader arm comes in through the small LeaderArm interface.
package teleop

import (
	"fmt"
	"sync"
	"time"
)

// EventKind is what the operator signalled.
type EventKind int

const (
	// InterventionStart and InterventionEnd bracket the steps where the
	// human's action replaces the policy's (is_intervention).
	InterventionStart EventKind = iota + 1
	InterventionEnd
	// Success ends the episode with reward 1 ("success").
	Success
	// Failure ends the episode ("failure").
	Failure
	// Rerecord ends the episode and discards it ("rerecord_episode").
	Rerecord
)

func (k EventKind) String() string {
	switch k {
	case InterventionStart:
		return "intervention_start"
	case InterventionEnd:
		return "intervention_end"
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Rerecord:
		return "rerecord_episode"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one operator signal.
type Event struct {
	Kind EventKind
	Time time.Time
}

// Gripper commands (HIL-SERL's discrete gripper action).
const (
	GripperClose = 0.0
	GripperStay  = 1.0
	GripperOpen  = 2.0
)

// Action is the operator's end-effector command for one step: deltas in
// [-1, 1] (scaled by end_effector_step_sizes downstream) and the gripper
// command; Intervention reports whether the human is in control.
type Action struct {
	Delta        [3]float64
	Gripper      float64
	Intervention bool
}

// eventQueue is a device's event channel. Sends never block the device's
// reader: when the consumer lags by more than the buffer, the oldest
// events are dropped and counted.
type eventQueue struct {
	ch      chan Event
	mu      sync.Mutex
	dropped int
}

func newEventQueue() *eventQueue { return &eventQueue{ch: make(chan Event, 64)} }

func (q *eventQueue) push(k EventKind) {
	e := Event{Kind: k, Time: time.Now()}
	for {
		select {
		case q.ch <- e:
			return
		default:
		}
		select {
		case <-q.ch:
			q.mu.Lock()
			q.dropped++
			q.mu.Unlock()
		default:
		}
	}
}

// Dropped counts events lost because nobody read them.
func (q *eventQueue) Dropped() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
