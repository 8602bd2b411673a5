package feetech

import (
	"encoding/binary"
	"fmt"
)

// Area is where a register lives (§2): EEPROM (0–39, persisted only while
// Lock = 0), RAM (40–79) or the factory block (80–86).
type Area uint8

const (
	EEPROM Area = iota
	RAM
	Factory
)

func (a Area) String() string {
	switch a {
	case EEPROM:
		return "EEPROM"
	case RAM:
		return "RAM"
	case Factory:
		return "factory"
	}
	return fmt.Sprintf("Area(%d)", uint8(a))
}

// Register describes one entry of a control table. Names are LeRobot's.
type Register struct {
	Name     string
	Addr     byte
	Size     int // bytes, 1 or 2
	Area     Area
	ReadOnly bool
	// SignBit is the sign bit of a sign-magnitude register (11 for
	// Homing_Offset, 15 for the velocities), 0 for unsigned registers.
	SignBit int
}

func (r Register) String() string { return r.Name }

// Encode turns a value into the register's little-endian bytes, applying the
// sign-magnitude encoding where the register has one (§2). Values that do not
// fit are ErrValueRange.
func (r Register) Encode(v int) ([]byte, error) {
	raw := v
	if r.SignBit > 0 {
		enc, err := EncodeSignMagnitude(v, r.SignBit)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name, err)
		}
		raw = enc
	}
	if raw < 0 || raw >= 1<<(8*r.Size) {
		return nil, fmt.Errorf("%s: %w: %d does not fit %d byte(s)", r.Name, ErrValueRange, v, r.Size)
	}
	b := make([]byte, r.Size)
	switch r.Size {
	case 1:
		b[0] = byte(raw)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(raw))
	default:
		return nil, fmt.Errorf("%s: %w: unsupported size %d", r.Name, ErrValueRange, r.Size)
	}
	return b, nil
}

// Decode reads the register's value from its little-endian bytes (len(b)
// must be r.Size), undoing sign-magnitude.
func (r Register) Decode(b []byte) int {
	var raw int
	switch len(b) {
	case 1:
		raw = int(b[0])
	case 2:
		raw = int(binary.LittleEndian.Uint16(b))
	}
	if r.SignBit > 0 {
		return DecodeSignMagnitude(raw, r.SignBit)
	}
	return raw
}

// EncodeSignMagnitude encodes v as (v<0)<<bit | |v| (§2, LeRobot
// encode_sign_magnitude); |v| > 2^bit−1 is ErrValueRange.
func EncodeSignMagnitude(v, bit int) (int, error) {
	maxMag := 1<<bit - 1
	mag := v
	if v < 0 {
		mag = -v
	}
	if mag > maxMag {
		return 0, fmt.Errorf("%w: magnitude %d exceeds %d (sign bit %d)", ErrValueRange, mag, maxMag, bit)
	}
	if v < 0 {
		return 1<<bit | mag, nil
	}
	return mag, nil
}

// DecodeSignMagnitude is the inverse: magnitude x & (2^bit−1), negative if
// bit is set; higher bits are ignored.
func DecodeSignMagnitude(x, bit int) int {
	mag := x & (1<<bit - 1)
	if x&(1<<bit) != 0 {
		return -mag
	}
	return mag
}

// The STS3215 registers LeRobot names (STS_SMS_SERIES_CONTROL_TABLE, §2).
var (
	FirmwareMajorVersion  = Register{Name: "Firmware_Major_Version", Addr: 0, Size: 1, Area: EEPROM, ReadOnly: true}
	FirmwareMinorVersion  = Register{Name: "Firmware_Minor_Version", Addr: 1, Size: 1, Area: EEPROM, ReadOnly: true}
	ModelNumber           = Register{Name: "Model_Number", Addr: 3, Size: 2, Area: EEPROM, ReadOnly: true}
	ID                    = Register{Name: "ID", Addr: 5, Size: 1, Area: EEPROM}
	BaudRate              = Register{Name: "Baud_Rate", Addr: 6, Size: 1, Area: EEPROM}
	ReturnDelayTime       = Register{Name: "Return_Delay_Time", Addr: 7, Size: 1, Area: EEPROM}
	ResponseStatusLevel   = Register{Name: "Response_Status_Level", Addr: 8, Size: 1, Area: EEPROM}
	MinPositionLimit      = Register{Name: "Min_Position_Limit", Addr: 9, Size: 2, Area: EEPROM}
	MaxPositionLimit      = Register{Name: "Max_Position_Limit", Addr: 11, Size: 2, Area: EEPROM}
	MaxTemperatureLimit   = Register{Name: "Max_Temperature_Limit", Addr: 13, Size: 1, Area: EEPROM}
	MaxVoltageLimit       = Register{Name: "Max_Voltage_Limit", Addr: 14, Size: 1, Area: EEPROM}
	MinVoltageLimit       = Register{Name: "Min_Voltage_Limit", Addr: 15, Size: 1, Area: EEPROM}
	MaxTorqueLimit        = Register{Name: "Max_Torque_Limit", Addr: 16, Size: 2, Area: EEPROM}
	Phase                 = Register{Name: "Phase", Addr: 18, Size: 1, Area: EEPROM}
	UnloadingCondition    = Register{Name: "Unloading_Condition", Addr: 19, Size: 1, Area: EEPROM}
	LEDAlarmCondition     = Register{Name: "LED_Alarm_Condition", Addr: 20, Size: 1, Area: EEPROM}
	PCoefficient          = Register{Name: "P_Coefficient", Addr: 21, Size: 1, Area: EEPROM}
	DCoefficient          = Register{Name: "D_Coefficient", Addr: 22, Size: 1, Area: EEPROM}
	ICoefficient          = Register{Name: "I_Coefficient", Addr: 23, Size: 1, Area: EEPROM}
	MinimumStartupForce   = Register{Name: "Minimum_Startup_Force", Addr: 24, Size: 2, Area: EEPROM}
	CWDeadZone            = Register{Name: "CW_Dead_Zone", Addr: 26, Size: 1, Area: EEPROM}
	CCWDeadZone           = Register{Name: "CCW_Dead_Zone", Addr: 27, Size: 1, Area: EEPROM}
	ProtectionCurrent     = Register{Name: "Protection_Current", Addr: 28, Size: 2, Area: EEPROM}
	AngularResolution     = Register{Name: "Angular_Resolution", Addr: 30, Size: 1, Area: EEPROM}
	HomingOffset          = Register{Name: "Homing_Offset", Addr: 31, Size: 2, Area: EEPROM, SignBit: 11}
	OperatingMode         = Register{Name: "Operating_Mode", Addr: 33, Size: 1, Area: EEPROM}
	ProtectiveTorque      = Register{Name: "Protective_Torque", Addr: 34, Size: 1, Area: EEPROM}
	ProtectionTime        = Register{Name: "Protection_Time", Addr: 35, Size: 1, Area: EEPROM}
	OverloadTorque        = Register{Name: "Overload_Torque", Addr: 36, Size: 1, Area: EEPROM}
	VelocityP             = Register{Name: "Velocity_closed_loop_P_proportional_coefficient", Addr: 37, Size: 1, Area: EEPROM}
	OverCurrentProtection = Register{Name: "Over_Current_Protection_Time", Addr: 38, Size: 1, Area: EEPROM}
	VelocityI             = Register{Name: "Velocity_closed_loop_I_integral_coefficient", Addr: 39, Size: 1, Area: EEPROM}

	TorqueEnable       = Register{Name: "Torque_Enable", Addr: 40, Size: 1, Area: RAM}
	Acceleration       = Register{Name: "Acceleration", Addr: 41, Size: 1, Area: RAM}
	GoalPosition       = Register{Name: "Goal_Position", Addr: 42, Size: 2, Area: RAM}
	GoalTime           = Register{Name: "Goal_Time", Addr: 44, Size: 2, Area: RAM}
	GoalVelocity       = Register{Name: "Goal_Velocity", Addr: 46, Size: 2, Area: RAM, SignBit: 15}
	TorqueLimit        = Register{Name: "Torque_Limit", Addr: 48, Size: 2, Area: RAM}
	Lock               = Register{Name: "Lock", Addr: 55, Size: 1, Area: RAM}
	PresentPosition    = Register{Name: "Present_Position", Addr: 56, Size: 2, Area: RAM, ReadOnly: true}
	PresentVelocity    = Register{Name: "Present_Velocity", Addr: 58, Size: 2, Area: RAM, ReadOnly: true, SignBit: 15}
	PresentLoad        = Register{Name: "Present_Load", Addr: 60, Size: 2, Area: RAM, ReadOnly: true}
	PresentVoltage     = Register{Name: "Present_Voltage", Addr: 62, Size: 1, Area: RAM, ReadOnly: true}
	PresentTemperature = Register{Name: "Present_Temperature", Addr: 63, Size: 1, Area: RAM, ReadOnly: true}
	StatusRegister     = Register{Name: "Status", Addr: 65, Size: 1, Area: RAM, ReadOnly: true}
	Moving             = Register{Name: "Moving", Addr: 66, Size: 1, Area: RAM, ReadOnly: true}
	PresentCurrent     = Register{Name: "Present_Current", Addr: 69, Size: 2, Area: RAM, ReadOnly: true}
	GoalPosition2      = Register{Name: "Goal_Position_2", Addr: 71, Size: 2, Area: RAM, ReadOnly: true}

	// Factory block: LeRobot writes Maximum_Acceleration = 254 and gets OK
	// although third-party tables call it read-only (§2, UNVERIFIED).
	MovingVelocity          = Register{Name: "Moving_Velocity", Addr: 80, Size: 1, Area: Factory}
	MovingVelocityThreshold = Register{Name: "Moving_Velocity_Threshold", Addr: 80, Size: 1, Area: Factory}
	DTs                     = Register{Name: "DTs", Addr: 81, Size: 1, Area: Factory}
	VelocityUnitFactor      = Register{Name: "Velocity_Unit_factor", Addr: 82, Size: 1, Area: Factory}
	Hts                     = Register{Name: "Hts", Addr: 83, Size: 1, Area: Factory}
	MaximumVelocityLimit    = Register{Name: "Maximum_Velocity_Limit", Addr: 84, Size: 1, Area: Factory}
	MaximumAcceleration     = Register{Name: "Maximum_Acceleration", Addr: 85, Size: 1, Area: Factory}
	// The trailing space is in LeRobot's key.
	AccelerationMultiplier = Register{Name: "Acceleration_Multiplier ", Addr: 86, Size: 1, Area: Factory}
)

// ControlTable is a model's registers in address order.
type ControlTable []Register

// Lookup finds a register by its LeRobot name.
func (t ControlTable) Lookup(name string) (Register, bool) {
	for _, r := range t {
		if r.Name == name {
			return r, true
		}
	}
	return Register{}, false
}

// STS3215 is the STS/SMS series table LeRobot uses for the sts3215 (§2).
var STS3215 = ControlTable{
	FirmwareMajorVersion, FirmwareMinorVersion, ModelNumber, ID, BaudRate, ReturnDelayTime,
	ResponseStatusLevel, MinPositionLimit, MaxPositionLimit, MaxTemperatureLimit, MaxVoltageLimit,
	MinVoltageLimit, MaxTorqueLimit, Phase, UnloadingCondition, LEDAlarmCondition, PCoefficient,
	DCoefficient, ICoefficient, MinimumStartupForce, CWDeadZone, CCWDeadZone, ProtectionCurrent,
	AngularResolution, HomingOffset, OperatingMode, ProtectiveTorque, ProtectionTime, OverloadTorque,
	VelocityP, OverCurrentProtection, VelocityI,
	TorqueEnable, Acceleration, GoalPosition, GoalTime, GoalVelocity, TorqueLimit, Lock,
	PresentPosition, PresentVelocity, PresentLoad, PresentVoltage, PresentTemperature, StatusRegister,
	Moving, PresentCurrent, GoalPosition2,
	MovingVelocity, MovingVelocityThreshold, DTs, VelocityUnitFactor, Hts, MaximumVelocityLimit,
	MaximumAcceleration, AccelerationMultiplier,
}

// Model numbers (Model_Number, §2).
const ModelSTS3215 uint16 = 777

// Operating modes (Operating_Mode, §2).
const (
	ModePosition = 0
	ModeVelocity = 1
	ModePWM      = 2
	ModeStep     = 3
)

// Baud_Rate codes as LeRobot writes them (§1.1; codes 5–7 conflict with
// third-party tables, LeRobot only ever writes 0).
var BaudRates = map[byte]int{
	0: 1_000_000, 1: 500_000, 2: 250_000, 3: 128_000, 4: 115_200, 5: 57_600, 6: 38_400, 7: 19_200,
}

// DefaultBaud is LeRobot's bus rate.
const DefaultBaud = 1_000_000
