package kinematics

import (
	_ "embed"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

//go:embed so101_new_calib.urdf
var so101URDF []byte

// SO101URDF returns the embedded SO-101 URDF (TheRobotStudio's
// so101_new_calib.urdf, as used by LeRobot and E2HiL): each joint's zero is
// the middle of its calibrated range.
func SO101URDF() []byte { return so101URDF }

type urdfRobot struct {
	Name   string      `xml:"name,attr"`
	Joints []urdfJoint `xml:"joint"` // direct children only: <transmission> also has <joint>
}

type urdfJoint struct {
	Name   string `xml:"name,attr"`
	Type   string `xml:"type,attr"`
	Origin *struct {
		XYZ string `xml:"xyz,attr"`
		RPY string `xml:"rpy,attr"`
	} `xml:"origin"`
	Parent struct {
		Link string `xml:"link,attr"`
	} `xml:"parent"`
	Child struct {
		Link string `xml:"link,attr"`
	} `xml:"child"`
	Axis *struct {
		XYZ string `xml:"xyz,attr"`
	} `xml:"axis"`
	Limit *struct {
		Lower string `xml:"lower,attr"`
		Upper string `xml:"upper,attr"`
	} `xml:"limit"`
}

// ParseChain reads a URDF and returns the serial chain of joints from
// baseLink to tipLink.
func ParseChain(urdf []byte, baseLink, tipLink string) (*Chain, error) {
	var r urdfRobot
	if err := xml.Unmarshal(urdf, &r); err != nil {
		return nil, fmt.Errorf("parse URDF: %w", err)
	}
	byChild := map[string]urdfJoint{}
	for _, j := range r.Joints {
		if _, dup := byChild[j.Child.Link]; dup {
			return nil, fmt.Errorf("parse URDF: link %q is the child of two joints", j.Child.Link)
		}
		byChild[j.Child.Link] = j
	}
	var path []urdfJoint
	for link := tipLink; link != baseLink; {
		j, ok := byChild[link]
		if !ok {
			return nil, fmt.Errorf("parse URDF: no joint chain from %q to %q (stuck at link %q)", baseLink, tipLink, link)
		}
		path = append(path, j)
		link = j.Parent.Link
		if len(path) > len(r.Joints) {
			return nil, fmt.Errorf("parse URDF: cycle at link %q", link)
		}
	}
	c := &Chain{Base: baseLink, Tip: tipLink}
	for i := len(path) - 1; i >= 0; i-- {
		j, err := convertJoint(path[i])
		if err != nil {
			return nil, err
		}
		c.Joints = append(c.Joints, j)
	}
	return c, nil
}

func convertJoint(u urdfJoint) (Joint, error) {
	j := Joint{Name: u.Name, Axis: Vec3{0, 0, 1}, Lower: math.Inf(-1), Upper: math.Inf(1)}
	switch u.Type {
	case "revolute", "continuous":
		j.Revolute = true
	case "fixed":
	default:
		return j, fmt.Errorf("parse URDF: joint %q: type %q not supported (revolute, continuous, fixed)", u.Name, u.Type)
	}
	xyz, rpy := Vec3{}, Vec3{}
	if u.Origin != nil {
		var err error
		if xyz, err = parseVec3(u.Origin.XYZ); err != nil {
			return j, fmt.Errorf("parse URDF: joint %q origin xyz: %w", u.Name, err)
		}
		if rpy, err = parseVec3(u.Origin.RPY); err != nil {
			return j, fmt.Errorf("parse URDF: joint %q origin rpy: %w", u.Name, err)
		}
	}
	j.Origin = Transform{R: rpyToMat(rpy), P: xyz}
	if j.Revolute {
		if u.Axis != nil {
			a, err := parseVec3(u.Axis.XYZ)
			if err != nil {
				return j, fmt.Errorf("parse URDF: joint %q axis: %w", u.Name, err)
			}
			n := a.Norm()
			if n == 0 {
				return j, fmt.Errorf("parse URDF: joint %q has a zero axis", u.Name)
			}
			j.Axis = a.Scale(1 / n)
		}
		if u.Type == "revolute" && u.Limit != nil {
			lo, err1 := strconv.ParseFloat(u.Limit.Lower, 64)
			hi, err2 := strconv.ParseFloat(u.Limit.Upper, 64)
			if err1 != nil || err2 != nil || lo > hi {
				return j, fmt.Errorf("parse URDF: joint %q limits %q..%q are not numbers lower ≤ upper", u.Name, u.Limit.Lower, u.Limit.Upper)
			}
			j.Lower, j.Upper = lo, hi
		}
	}
	return j, nil
}

func parseVec3(s string) (Vec3, error) {
	var v Vec3
	f := strings.Fields(s)
	if len(f) == 0 {
		return v, nil // URDF default 0 0 0
	}
	if len(f) != 3 {
		return v, fmt.Errorf("%q: want 3 numbers", s)
	}
	for i, x := range f {
		n, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return v, fmt.Errorf("%q: %w", s, err)
		}
		v[i] = n
	}
	return v, nil
}
