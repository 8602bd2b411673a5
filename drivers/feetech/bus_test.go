package feetech_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	ft "github.com/e2hil/e2hil/drivers/feetech"
	"github.com/e2hil/e2hil/drivers/feetech/emulator"
)

var allIDs = []byte{1, 2, 3, 4, 5, 6}

var names = map[byte]string{1: "shoulder_pan", 2: "shoulder_lift", 3: "elbow_flex", 4: "wrist_flex", 5: "wrist_roll", 6: "gripper"}

// transports are the two lines the emulator serves: the in-memory pipe and
// a real pseudo-terminal opened through go.bug.st/serial.
var transports = []string{"pipe", "pty"}

func sixServos(raws ...int) emulator.Config {
	var c emulator.Config
	for i, id := range allIDs {
		raw := 2048
		if i < len(raws) {
			raw = raws[i]
		}
		c.Servos = append(c.Servos, emulator.ServoConfig{ID: id, Raw: raw})
	}
	return c
}

// newBus starts an emulator with ecfg on transport and returns a bus on it.
func newBus(t testing.TB, transport string, ecfg emulator.Config, bcfg ft.Config) (*ft.Bus, *emulator.Emulator) {
	t.Helper()
	var (
		emu  *emulator.Emulator
		port ft.Port
		err  error
	)
	switch transport {
	case "pipe":
		emu, port, err = emulator.OpenPipe(ecfg)
	case "pty":
		emu, err = emulator.Open(ecfg)
		if err == nil {
			port, err = ft.OpenSerial(emu.Path(), ft.DefaultBaud)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	bcfg.Names = names
	bus, err := ft.NewBus(port, bcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bus.Close()
		if err := emu.Close(); err != nil {
			t.Errorf("emulator close: %v", err)
		}
	})
	return bus, emu
}

// fastConfig is LeRobot's timing with a shorter broadcast-ping window
// (still far above the emulator's reply time, also on a loaded machine).
func fastConfig() ft.Config {
	c := ft.DefaultConfig()
	c.BroadcastPingWindow = 250 * time.Millisecond
	return c
}

func TestBusPingReadWrite(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ctx := context.Background()
			bus, emu := newBus(t, tr, sixServos(), ft.DefaultConfig())
			for _, id := range allIDs {
				model, err := bus.Ping(ctx, id)
				if err != nil || model != ft.ModelSTS3215 {
					t.Fatalf("ping %d: model %d, %v", id, model, err)
				}
			}
			major, err := bus.Read(ctx, 2, ft.FirmwareMajorVersion)
			if err != nil || major != 3 {
				t.Fatalf("firmware major %d, %v", major, err)
			}
			if err := bus.Write(ctx, 2, ft.HomingOffset, -1000); err != nil {
				t.Fatal(err)
			}
			if got, err := bus.Read(ctx, 2, ft.HomingOffset); err != nil || got != -1000 {
				t.Fatalf("Homing_Offset read back %d, %v", got, err)
			}
			if got := emu.Servo(2).Register(ft.HomingOffset); got != -1000 {
				t.Fatalf("emulator holds Homing_Offset %d", got)
			}
			// Present = Actual − Homing_Offset (§2.1): 2048 + 1000.
			if got, err := bus.Read(ctx, 2, ft.PresentPosition); err != nil || got != 3048 {
				t.Fatalf("Present_Position %d, %v; want 3048", got, err)
			}
		})
	}
}

func TestBusSyncReadWrite(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ctx := context.Background()
			bus, emu := newBus(t, tr, sixServos(2047, 1800, 2300, 2100, 2047, 1500), ft.DefaultConfig())
			got, err := bus.SyncRead(ctx, ft.PresentPosition, allIDs)
			if err != nil {
				t.Fatal(err)
			}
			want := []int{2047, 1800, 2300, 2100, 2047, 1500}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("positions %v, want %v", got, want)
				}
			}
			// Reversed order: replies come in request order.
			rev := []byte{6, 5, 4, 3, 2, 1}
			got, err = bus.SyncRead(ctx, ft.PresentPosition, rev)
			if err != nil || got[0] != 1500 || got[5] != 2047 {
				t.Fatalf("reversed sync read %v, %v", got, err)
			}
			goals := []int{2048, 1900, 2200, 2000, 2048, 1600}
			if err := bus.SyncWrite(ctx, ft.GoalPosition, allIDs, goals); err != nil {
				t.Fatal(err)
			}
			// SYNC_WRITE has no reply: read back to be sure it arrived.
			back, err := bus.SyncRead(ctx, ft.GoalPosition, allIDs)
			if err != nil {
				t.Fatal(err)
			}
			for i := range goals {
				if back[i] != goals[i] {
					t.Fatalf("goals read back %v, want %v", back, goals)
				}
			}
			if n := emu.Count(ft.InstrSyncWrite); n != 1 {
				t.Fatalf("%d SYNC_WRITE packets, want 1", n)
			}
		})
	}
}

// TestBusSilentServo: a servo that never answers fails the sync read with
// a timeout naming it, after LeRobot's 1 + 8 tries.
func TestBusSilentServo(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ctx := context.Background()
			bus, emu := newBus(t, tr, sixServos(), fastConfig())
			emu.Servo(3).SetSilent(true)
			_, err := bus.SyncRead(ctx, ft.PresentPosition, allIDs)
			if !errors.Is(err, ft.ErrTimeout) {
				t.Fatalf("err %v, want ErrTimeout", err)
			}
			var me *ft.MotorError
			if !errors.As(err, &me) || me.ID != 3 || me.Tries != 9 {
				t.Fatalf("err %#v, want a MotorError for id 3 after 9 tries", err)
			}
			msg := err.Error()
			for _, want := range []string{"sync read", "Present_Position", `"elbow_flex"`, "id 3", "after 9 tries", "no status packet"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
			if n := emu.Count(ft.InstrSyncRead); n != 9 {
				t.Errorf("%d SYNC_READ packets sent, want 9", n)
			}
			_, err = bus.Ping(ctx, 3)
			if !errors.Is(err, ft.ErrTimeout) || !strings.Contains(err.Error(), "elbow_flex") {
				t.Fatalf("ping of a silent servo: %v", err)
			}
			emu.Servo(3).SetSilent(false)
			if _, err := bus.SyncRead(ctx, ft.PresentPosition, allIDs); err != nil {
				t.Fatalf("after the servo came back: %v", err)
			}
		})
	}
}

func TestBusStatusErrors(t *testing.T) {
	ctx := context.Background()
	bus, emu := newBus(t, "pipe", sixServos(), fastConfig())
	emu.Servo(4).SetFault(ft.ErrBitOverload | ft.ErrBitOverheat)
	_, err := bus.Read(ctx, 4, ft.PresentPosition)
	if !errors.Is(err, ft.ErrOverload) || !errors.Is(err, ft.ErrOverheat) || errors.Is(err, ft.ErrVoltage) {
		t.Fatalf("read with fault: %v", err)
	}
	if !strings.Contains(err.Error(), "wrist_flex") {
		t.Errorf("error %q does not name the motor", err)
	}
	if err := bus.Write(ctx, 4, ft.TorqueEnable, 1); !errors.Is(err, ft.ErrOverload) {
		t.Fatalf("write with fault: %v", err)
	}
	if _, err := bus.Ping(ctx, 4); !errors.Is(err, ft.ErrOverload) {
		t.Fatalf("ping with fault: %v", err)
	}
	// SYNC_READ ignores ERR, as the SDK does.
	if _, err := bus.SyncRead(ctx, ft.PresentPosition, allIDs); err != nil {
		t.Fatalf("sync read with fault: %v", err)
	}
	if got, err := bus.Read(ctx, 5, ft.StatusRegister); err != nil || got != 0 {
		t.Fatalf("healthy servo's Status %d, %v", got, err)
	}
}

func TestBusCorruptReplies(t *testing.T) {
	tests := []struct {
		name     string
		c        emulator.Corruption
		readErr  error // a single READ with no retry
		syncOK   bool  // a SYNC_READ with LeRobot's retries recovers
		syncSent int   // SYNC_READ packets for that
	}{
		{"checksum", emulator.CorruptChecksum, ft.ErrCorrupt, true, 2},
		{"truncate", emulator.CorruptTruncate, ft.ErrCorrupt, true, 2},
		{"drop", emulator.CorruptDrop, ft.ErrTimeout, true, 2},
		{"noise", emulator.CorruptNoise, nil, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			// The retry count is exact only if no healthy reply misses its
			// deadline: a 300 ms latency allowance keeps a loaded machine
			// (CI, parallel test binaries) from adding retries.
			cfg := fastConfig()
			cfg.LatencyTimer = 300 * time.Millisecond
			bus, emu := newBus(t, "pipe", sixServos(), cfg)
			emu.Servo(2).Corrupt(tt.c)
			_, err := bus.Read(ctx, 2, ft.PresentPosition)
			if tt.readErr == nil && err != nil || tt.readErr != nil && !errors.Is(err, tt.readErr) {
				t.Fatalf("read: %v, want %v", err, tt.readErr)
			}
			emu.ResetLog()
			emu.Servo(2).Corrupt(tt.c)
			_, err = bus.SyncRead(ctx, ft.PresentPosition, allIDs)
			if (err == nil) != tt.syncOK {
				t.Fatalf("sync read: %v", err)
			}
			if n := emu.Count(ft.InstrSyncRead); n != tt.syncSent {
				t.Fatalf("%d SYNC_READ packets, want %d", n, tt.syncSent)
			}
		})
	}
}

func TestBusContextCancel(t *testing.T) {
	// Without the context, 9 attempts × 3 s would take 27 s; the context
	// ends the call after 80 ms. The bound below only has to tell the two
	// apart, with room for a loaded machine.
	cfg := ft.DefaultConfig()
	cfg.LatencyTimer = 3 * time.Second
	bus, emu := newBus(t, "pty", sixServos(), cfg)
	emu.Servo(1).SetSilent(true)
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := bus.SyncRead(ctx, ft.PresentPosition, allIDs)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("cancelled call took %s: the context was not honoured", el)
	}
}

func TestBroadcastPing(t *testing.T) {
	ctx := context.Background()
	bus, emu := newBus(t, "pty", sixServos(), fastConfig())
	emu.Servo(5).SetSilent(true)
	models, err := bus.BroadcastPing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 5 || models[1] != ft.ModelSTS3215 || models[6] != ft.ModelSTS3215 {
		t.Fatalf("models %v, want ids 1–4 and 6 at 777", models)
	}
	if _, ok := models[5]; ok {
		t.Fatal("a silent servo answered")
	}
}

func TestBusClosed(t *testing.T) {
	bus, _ := newBus(t, "pipe", sixServos(), fastConfig())
	bus.Close()
	if _, err := bus.Ping(context.Background(), 1); !errors.Is(err, ft.ErrClosed) {
		t.Fatalf("ping on a closed bus: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := ft.DefaultConfig()
	c.Baud = 0
	c.Retries.SyncRead = -1
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "baud: must be > 0") || !strings.Contains(err.Error(), "retries.sync_read") {
		t.Fatalf("Validate: %v", err)
	}
	if err := ft.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	// LeRobot's deadline: t·n + 3·t + 50 ms, t = 10 µs at 1 Mbaud.
	if got, want := ft.DefaultConfig().PacketTimeout(8), 50*time.Millisecond+110*time.Microsecond; got != want {
		t.Fatalf("PacketTimeout(8) = %s, want %s", got, want)
	}
}

// BenchmarkSyncRead6 is one observation: SYNC_READ of Present_Position from
// six servos over the pty emulator through go.bug.st/serial.
func BenchmarkSyncRead6(b *testing.B) {
	ctx := context.Background()
	bus, _ := newBus(b, "pty", sixServos(), ft.DefaultConfig())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := bus.SyncRead(ctx, ft.PresentPosition, allIDs); err != nil {
			b.Fatal(err)
		}
	}
}
