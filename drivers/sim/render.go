package sim

import (
	"math"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

// The renderer is a small software rasteriser, pure Go and float32: the
// table is ray-cast per pixel (an analytic plane: checker texture and the
// cube's and gripper's shadows, cast along the light); the arm, the jaws
// and the cube are boxes and cylinders made of triangles, back-face culled,
// clipped at the near plane, flat shaded (Lambert, one directional light
// plus ambient) and z-buffered on 1/depth. An optional s×s supersampling
// renders s× larger and box-filters down. A frame is a pure function of
// the world's state (a fixed camera's cached table is checked against
// casting it afresh), so frames are bit-identical for a seed.

type vec3f [3]float32

func f32v(v kinematics.Vec3) vec3f { return vec3f{float32(v[0]), float32(v[1]), float32(v[2])} }

func (a vec3f) sub(b vec3f) vec3f { return vec3f{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func (a vec3f) dot(b vec3f) float32 {
	return a[0]*b[0] + a[1]*b[1] + a[2]*b[2]
}

// face is one world-space triangle with its outward normal and its shaded
// colour (flat shading with a directional light depends only on the
// normal, so it is computed when the scene is built, not per pixel).
type face struct {
	v   [3]vec3f
	n   vec3f
	col [3]uint8
}

// shadowCaster darkens the table where the light's ray towards it passes
// through a horizontal slab: a box footprint (cube) or a disc (gripper).
type shadowCaster struct {
	centre       vec3f
	ex, ey       vec3f   // footprint axes (box), in the horizontal plane
	hx, hy       float32 // half extents along ex, ey (box)
	radius2      float32 // disc: squared radius; 0 for a box
	disc, active bool
}

// scene is everything a camera draws, built from the world's state for
// each frame (a few hundred triangles: microseconds).
type scene struct {
	faces   []face
	shadows [2]shadowCaster
}

// Colours (linear albedo, 0–1) and lighting.
var (
	colArm     = vec3f{0.93, 0.91, 0.86} // printed PLA, off-white
	colServo   = vec3f{0.16, 0.16, 0.18} // STS3215 housings
	colJaw     = vec3f{0.30, 0.31, 0.35}
	colCube    = vec3f{0.90, 0.10, 0.08} // the only saturated red in the scene
	colTableA  = vec3f{0.80, 0.72, 0.58}
	colTableB  = vec3f{0.70, 0.62, 0.49}
	colFloor   = vec3f{0.33, 0.34, 0.37}
	colWallTop = vec3f{0.62, 0.68, 0.76}
	colWallLow = vec3f{0.48, 0.52, 0.58}
	lightDir   = normalise(vec3f{0.45, 0.25, 1})
)

const (
	ambient      = 0.42
	diffuse      = 0.58
	shadowFactor = 0.55
	tableMinX    = -0.25
	tableMaxX    = 0.60
	tableMinY    = -0.45
	tableMaxY    = 0.45
	checkerSize  = 0.05 // metres per table square
	nearPlane    = 0.004
	cylSides     = 12
)

func normalise(v vec3f) vec3f {
	n := float32(math.Sqrt(float64(v.dot(v))))
	return vec3f{v[0] / n, v[1] / n, v[2] / n}
}

func shade(albedo vec3f, n vec3f) [3]uint8 {
	l := float32(ambient + diffuse*math.Max(0, float64(n.dot(lightDir))))
	var c [3]uint8
	for i := range c {
		c[i] = uint8(math.Min(255, float64(albedo[i]*l*255+0.5)))
	}
	return c
}

// build fills sc from the world's current state.
func (w *World) build(sc *scene) {
	sc.faces = sc.faces[:0]
	f := w.frames()
	T := kinematics.Transform{R: kinematics.Identity3()}

	// Base: plate and column under the shoulder_pan axis.
	sc.box(kinematics.Transform{R: T.R, P: kinematics.Vec3{0.025, 0, 0.006}}, kinematics.Vec3{0.065, 0.055, 0.006}, colArm)
	sc.cylinder(kinematics.Transform{R: T.R, P: kinematics.Vec3{f.joints[0][0], f.joints[0][1], 0.035}}, 0.036, 0.023, colArm)
	// Links between joint origins; each is thicker along its joint axis.
	sc.segment(f.joints[0], f.joints[1], f.axes[1], 0.026, 0.024, colArm)
	sc.segment(f.joints[1], f.joints[2], f.axes[2], 0.018, 0.014, colArm)
	sc.segment(f.joints[2], f.joints[3], f.axes[3], 0.016, 0.012, colArm)
	sc.segment(f.joints[3], f.joints[4], f.axes[3], 0.016, 0.016, colArm)
	// Servo housings on the pitch joints.
	sc.cylinder(alongAxis(f.joints[1], f.axes[1]), 0.021, 0.025, colServo)
	sc.cylinder(alongAxis(f.joints[2], f.axes[2]), 0.019, 0.021, colServo)
	sc.cylinder(alongAxis(f.joints[3], f.axes[3]), 0.017, 0.019, colServo)
	// Gripper body, fixed jaw and moving jaw in the gripper_link frame.
	g := f.gripper
	sc.box(g.Compose(kinematics.Transform{R: T.R, P: kinematics.Vec3{0.004, 0, -0.018}}), kinematics.Vec3{0.026, 0.022, 0.020}, colArm)
	sc.box(g.Compose(kinematics.Transform{R: T.R, P: kinematics.Vec3{(fixedJawOuter + fixedJawFace) / 2, 0, (jawTopZ + jawBottomZ) / 2}}),
		kinematics.Vec3{(fixedJawFace - fixedJawOuter) / 2, jawHalfWidth, (jawTopZ - jawBottomZ) / 2}, colJaw)
	d := jawDir(w.joints[gripperIndex])
	across := kinematics.Vec3{-d[2], 0, d[0]}
	jaw := kinematics.Transform{
		R: columns(across, kinematics.Vec3{0, 1, 0}, d),
		P: kinematics.Vec3{jawPivotX, 0, jawPivotZ}.Add(d.Scale(jawLength / 2)),
	}
	sc.box(g.Compose(jaw), kinematics.Vec3{jawThickness / 2, jawHalfWidth, jawLength / 2}, colJaw)
	// The cube.
	h := w.cfg.CubeSize / 2
	sc.box(w.cube, kinematics.Vec3{h, h, h}, colCube)

	// Shadows: the cube's footprint and a disc under the jaws.
	cx, cy := f32v(w.cube.R.Apply(kinematics.Vec3{1, 0, 0})), f32v(w.cube.R.Apply(kinematics.Vec3{0, 1, 0}))
	sc.shadows[0] = shadowCaster{centre: f32v(w.cube.P), ex: cx, ey: cy, hx: float32(h), hy: float32(h), active: true}
	jc := g.Compose(kinematics.Transform{R: T.R, P: kinematics.Vec3{0, 0, -0.06}}).P
	sc.shadows[1] = shadowCaster{centre: f32v(jc), radius2: 0.028 * 0.028, disc: true, active: true}
}

// alongAxis is a frame at p whose z axis is axis.
func alongAxis(p, axis kinematics.Vec3) kinematics.Transform {
	ref := kinematics.Vec3{1, 0, 0}
	if math.Abs(axis[0]) > 0.9 {
		ref = kinematics.Vec3{0, 1, 0}
	}
	x := ref.Sub(axis.Scale(ref.Dot(axis)))
	x = x.Scale(1 / x.Norm())
	return kinematics.Transform{R: columns(x, axis.Cross(x), axis), P: p}
}

// columns builds the rotation whose columns are x, y, z.
func columns(x, y, z kinematics.Vec3) kinematics.Mat3 {
	return kinematics.Mat3{{x[0], y[0], z[0]}, {x[1], y[1], z[1]}, {x[2], y[2], z[2]}}
}

// segment adds a box from p0 to p1 (extended by its half depth at both
// ends, so links overlap at the joints), halfW wide along side (made
// orthogonal to the segment) and halfD deep.
func (sc *scene) segment(p0, p1, side kinematics.Vec3, halfW, halfD float64, col vec3f) {
	ex := p1.Sub(p0)
	l := ex.Norm()
	ex = ex.Scale(1 / l)
	ey := side.Sub(ex.Scale(side.Dot(ex)))
	ey = ey.Scale(1 / ey.Norm())
	ez := ex.Cross(ey)
	t := kinematics.Transform{R: columns(ex, ey, ez), P: p0.Add(p1).Scale(0.5)}
	sc.box(t, kinematics.Vec3{l/2 + halfD, halfW, halfD}, col)
}

// box adds the 12 triangles of a box with half extents half at pose t.
func (sc *scene) box(t kinematics.Transform, half kinematics.Vec3, col vec3f) {
	var c [8]vec3f
	for i := range c {
		p := kinematics.Vec3{half[0], half[1], half[2]}
		if i&1 == 0 {
			p[0] = -p[0]
		}
		if i&2 == 0 {
			p[1] = -p[1]
		}
		if i&4 == 0 {
			p[2] = -p[2]
		}
		c[i] = f32v(t.R.Apply(p).Add(t.P))
	}
	// Each face: four corners counter-clockwise seen from outside, and its
	// local normal axis.
	quads := [6][4]int{
		{0, 4, 6, 2}, // −x
		{1, 3, 7, 5}, // +x
		{0, 1, 5, 4}, // −y
		{2, 6, 7, 3}, // +y
		{0, 2, 3, 1}, // −z
		{4, 5, 7, 6}, // +z
	}
	normals := [6]kinematics.Vec3{{-1, 0, 0}, {1, 0, 0}, {0, -1, 0}, {0, 1, 0}, {0, 0, -1}, {0, 0, 1}}
	for i, q := range quads {
		n := f32v(t.R.Apply(normals[i]))
		s := shade(col, n)
		sc.faces = append(sc.faces,
			face{v: [3]vec3f{c[q[0]], c[q[1]], c[q[2]]}, n: n, col: s},
			face{v: [3]vec3f{c[q[0]], c[q[2]], c[q[3]]}, n: n, col: s})
	}
}

// cylinder adds a closed cylinder (cylSides-gon prism) of radius r and half
// length hl along t's z axis, centred at t.P.
func (sc *scene) cylinder(t kinematics.Transform, r, hl float64, col vec3f) {
	var top, bot [cylSides]vec3f
	for i := 0; i < cylSides; i++ {
		s, c := math.Sincos(2 * math.Pi * float64(i) / cylSides)
		top[i] = f32v(t.R.Apply(kinematics.Vec3{r * c, r * s, hl}).Add(t.P))
		bot[i] = f32v(t.R.Apply(kinematics.Vec3{r * c, r * s, -hl}).Add(t.P))
	}
	for i := 0; i < cylSides; i++ {
		j := (i + 1) % cylSides
		s, c := math.Sincos(2 * math.Pi * (float64(i) + 0.5) / cylSides)
		n := f32v(t.R.Apply(kinematics.Vec3{c, s, 0}))
		col := shade(col, n)
		sc.faces = append(sc.faces,
			face{v: [3]vec3f{bot[i], bot[j], top[j]}, n: n, col: col},
			face{v: [3]vec3f{bot[i], top[j], top[i]}, n: n, col: col})
	}
	nt, nb := f32v(t.R.Apply(kinematics.Vec3{0, 0, 1})), f32v(t.R.Apply(kinematics.Vec3{0, 0, -1}))
	ct, cb := shade(col, nt), shade(col, nb)
	for i := 1; i+1 < cylSides; i++ {
		sc.faces = append(sc.faces,
			face{v: [3]vec3f{top[0], top[i], top[i+1]}, n: nt, col: ct},
			face{v: [3]vec3f{bot[0], bot[i+1], bot[i]}, n: nb, col: cb})
	}
}

// view is a pinhole camera: eye, orthonormal right/up/forward axes, focal
// length in (render) pixels and the principal point.
type view struct {
	eye, right, up, fwd vec3f
	focal, cx, cy       float32
}

// newView looks from eye at target with up as the image's up direction.
func newView(eye, target, up kinematics.Vec3, fovY float64, h int) view {
	fwd := target.Sub(eye)
	fwd = fwd.Scale(1 / fwd.Norm())
	right := fwd.Cross(up)
	right = right.Scale(1 / right.Norm())
	u := right.Cross(fwd)
	return view{
		eye: f32v(eye), right: f32v(right), up: f32v(u), fwd: f32v(fwd),
		focal: float32(float64(h) / 2 / math.Tan(fovY*math.Pi/360)),
	}
}

// renderer owns one camera's buffers (at the supersampled size).
type renderer struct {
	w, h, ss int
	rw, rh   int
	zbuf     []float32 // 1/depth; 0 = nothing
	cbuf     []uint8   // rw·rh·3 RGB

	// A fixed camera's background without shadows, for bgView: colours,
	// depths, table points and palette indices (wallIndex: the wall).
	bgValid         bool
	bgView          view
	bgC             []uint8
	bgZ, bgHX, bgHY []float32
	bgIdx           []uint8
}

func newRenderer(h, w, ss int) *renderer {
	r := &renderer{w: w, h: h, ss: ss, rw: w * ss, rh: h * ss}
	r.zbuf = make([]float32, r.rw*r.rh)
	r.cbuf = make([]uint8, 3*r.rw*r.rh)
	return r
}

// draw renders sc through v (built for r.rh) into dst (h·w·3, HWC RGB).
// fixed: the camera does not move, so its background can be cached.
//
// Everything in the scene is above the table and so is every camera, so
// the table never hides an object: a moving camera draws the objects
// first and ray-casts the table only where they left the frame empty.
func (r *renderer) draw(sc *scene, v view, fixed bool, dst []uint8) {
	v.cx, v.cy = float32(r.rw)/2, float32(r.rh)/2
	if fixed {
		r.background(sc, v)
	} else {
		clear(r.zbuf)
	}
	for i := range sc.faces {
		r.face(&sc.faces[i], v)
	}
	if !fixed {
		cs, n := casters(sc)
		r.castTable(v, cs[:n], false, true)
	}
	r.resolve(dst)
}

func toByte(c vec3f, k float32) [3]uint8 {
	return [3]uint8{uint8(c[0]*k*255 + 0.5), uint8(c[1]*k*255 + 0.5), uint8(c[2]*k*255 + 0.5)}
}

// tablePalette is the table's colours: [floor·4 + shadow·2 + odd square].
var tablePalette = func() [8][3]uint8 {
	l := float32(ambient + diffuse*float64(lightDir[2]))
	return [8][3]uint8{
		toByte(colTableA, l), toByte(colTableB, l),
		toByte(colTableA, l*shadowFactor), toByte(colTableB, l*shadowFactor),
		toByte(colFloor, l), toByte(colFloor, l),
		toByte(colFloor, l*shadowFactor), toByte(colFloor, l*shadowFactor),
	}
}()

const (
	shadowBit = 2
	wallIndex = 0xff // cached palette index of a wall pixel
)

// caster is a shadowCaster prepared for table lookups: a table point p is
// shadowed when p + L·hz/L.z (hz the caster's height) lies in its
// footprint; a bounding square rejects most points with four comparisons.
type caster struct {
	ox, oy                 float32 // shift of the table point along the light, minus the centre
	ex, ey                 vec3f
	hx, hy, r2             float32
	minX, maxX, minY, maxY float32 // the table region that can be shadowed
	disc                   bool
}

func (c *caster) shadows(hx, hy float32) bool {
	if hx < c.minX || hx > c.maxX || hy < c.minY || hy > c.maxY {
		return false
	}
	qx, qy := hx+c.ox, hy+c.oy
	if c.disc {
		return qx*qx+qy*qy <= c.r2
	}
	lx, ly := qx*c.ex[0]+qy*c.ex[1], qx*c.ey[0]+qy*c.ey[1]
	return lx <= c.hx && lx >= -c.hx && ly <= c.hy && ly >= -c.hy
}

func casters(sc *scene) ([2]caster, int) {
	var cs [2]caster
	n := 0
	for _, s := range sc.shadows {
		if !s.active || s.centre[2] <= 0 {
			continue
		}
		off := s.centre[2] / lightDir[2]
		ext := s.hx + s.hy // ≥ the footprint's half diagonal
		if s.disc {
			ext = float32(math.Sqrt(float64(s.radius2)))
		}
		c := caster{ox: lightDir[0]*off - s.centre[0], oy: lightDir[1]*off - s.centre[1],
			ex: s.ex, ey: s.ey, hx: s.hx, hy: s.hy, r2: s.radius2, disc: s.disc}
		c.minX, c.maxX, c.minY, c.maxY = -c.ox-ext, -c.ox+ext, -c.oy-ext, -c.oy+ext
		cs[n] = c
		n++
	}
	return cs, n
}

// background draws a fixed camera's table plane z = 0 (checker,
// shadows) and the wall behind it: the unshadowed background is computed
// once and copied; only the pixels that can be in a shadow are shaded
// again.
func (r *renderer) background(sc *scene, v view) {
	cs, n := casters(sc)
	if !r.bgValid || r.bgView != v {
		if r.bgC == nil {
			m := r.rw * r.rh
			r.bgC, r.bgZ, r.bgHX, r.bgHY, r.bgIdx = make([]uint8, 3*m), make([]float32, m), make([]float32, m), make([]float32, m), make([]uint8, m)
		}
		r.castTable(v, nil, true, false)
		copy(r.bgC, r.cbuf)
		copy(r.bgZ, r.zbuf)
		r.bgView, r.bgValid = v, true
	}
	copy(r.cbuf, r.bgC)
	copy(r.zbuf, r.bgZ)
	for k := 0; k < n; k++ {
		c := &cs[k]
		x0, x1, y0, y1 := r.screenBox(v, c)
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				i := y*r.rw + x
				idx := r.bgIdx[i]
				if idx == wallIndex || !c.shadows(r.bgHX[i], r.bgHY[i]) {
					continue
				}
				col := &tablePalette[idx|shadowBit]
				o := r.cbuf[3*i : 3*i+3 : 3*i+3]
				o[0], o[1], o[2] = col[0], col[1], col[2]
			}
		}
	}
}

// screenBox bounds the pixels showing the table region a caster can
// shadow (the whole frame when part of it is behind the camera).
func (r *renderer) screenBox(v view, c *caster) (x0, x1, y0, y1 int) {
	fx0, fx1, fy0, fy1 := float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.Inf(-1))
	for _, p := range [4]vec3f{{c.minX, c.minY, 0}, {c.maxX, c.minY, 0}, {c.minX, c.maxY, 0}, {c.maxX, c.maxY, 0}} {
		d := p.sub(v.eye)
		z := d.dot(v.fwd)
		if z <= nearPlane {
			return 0, r.rw - 1, 0, r.rh - 1
		}
		sx, sy := v.cx+v.focal*d.dot(v.right)/z, v.cy-v.focal*d.dot(v.up)/z
		fx0, fx1, fy0, fy1 = min(fx0, sx), max(fx1, sx), min(fy0, sy), max(fy1, sy)
	}
	x0, x1 = max(0, int(math.Floor(float64(fx0)))-1), min(r.rw-1, int(math.Ceil(float64(fx1)))+1)
	y0, y1 = max(0, int(math.Floor(float64(fy0)))-1), min(r.rh-1, int(math.Ceil(float64(fy1)))+1)
	return x0, x1, y0, y1
}

// castTable ray-casts every pixel against the table plane and the wall,
// with the casters' shadows; with store it also keeps each pixel's table
// point and unshadowed palette index for background's cache; with
// onlyEmpty it skips pixels an object already covers (z-buffer > 0).
func (r *renderer) castTable(v view, cs []caster, store, onlyEmpty bool) {
	const cells = 1 << 12 // keeps int() truncation a floor on the whole table
	inv := 1 / v.focal
	ez := v.eye[2]
	negInvEz := -1 / ez
	for py := 0; py < r.rh; py++ {
		sy := (v.cy - (float32(py) + 0.5)) * inv
		// d(px) = fwd + sx·right + sy·up, linear in px.
		bx, by, bz := v.fwd[0]+sy*v.up[0], v.fwd[1]+sy*v.up[1], v.fwd[2]+sy*v.up[2]
		row := py * r.rw
		cbuf := r.cbuf[3*row : 3*(row+r.rw)]
		zbuf := r.zbuf[row : row+r.rw]
		// The wall: a vertical gradient with the row's elevation.
		wk := bz / float32(math.Sqrt(float64(bx*bx+by*by+bz*bz)))
		wt := min(max(wk*2+0.3, 0), 1)
		wall := [3]uint8{
			uint8((colWallLow[0] + (colWallTop[0]-colWallLow[0])*wt) * 255),
			uint8((colWallLow[1] + (colWallTop[1]-colWallLow[1])*wt) * 255),
			uint8((colWallLow[2] + (colWallTop[2]-colWallLow[2])*wt) * 255),
		}
		for px := range zbuf {
			if onlyEmpty && zbuf[px] > 0 {
				continue
			}
			sx := ((float32(px) + 0.5) - v.cx) * inv
			dz := bz + sx*v.right[2]
			o := cbuf[3*px : 3*px+3 : 3*px+3]
			if dz >= -1e-6 || ez <= 0 {
				o[0], o[1], o[2] = wall[0], wall[1], wall[2]
				zbuf[px] = 0
				if store {
					r.bgIdx[row+px] = wallIndex
				}
				continue
			}
			t := -ez / dz // forward depth: d's forward component is 1
			hx, hy := v.eye[0]+t*(bx+sx*v.right[0]), v.eye[1]+t*(by+sx*v.right[1])
			idx := 0
			if hx < tableMinX || hx > tableMaxX || hy < tableMinY || hy > tableMaxY {
				idx = 4
			} else {
				idx = (int(hx*(1/checkerSize)+cells) + int(hy*(1/checkerSize)+cells)) & 1
			}
			if store {
				r.bgIdx[row+px], r.bgHX[row+px], r.bgHY[row+px] = uint8(idx), hx, hy
			}
			for k := range cs {
				if cs[k].shadows(hx, hy) {
					idx |= shadowBit
					break
				}
			}
			col := &tablePalette[idx]
			o[0], o[1], o[2] = col[0], col[1], col[2]
			zbuf[px] = dz * negInvEz // 1/t
		}
	}
}

// face culls, clips, projects and rasterises one triangle.
func (r *renderer) face(f *face, v view) {
	if f.n.dot(f.v[0].sub(v.eye)) >= 0 {
		return // back face
	}
	var in [3]vec3f // camera space: x right, y up, z forward
	for i, p := range f.v {
		d := p.sub(v.eye)
		in[i] = vec3f{d.dot(v.right), d.dot(v.up), d.dot(v.fwd)}
	}
	if in[0][2] < nearPlane && in[1][2] < nearPlane && in[2][2] < nearPlane {
		return
	}
	if in[0][2] >= nearPlane && in[1][2] >= nearPlane && in[2][2] >= nearPlane {
		r.raster(in[0], in[1], in[2], f.col, v)
		return
	}
	// Sutherland–Hodgman against z = nearPlane: at most 4 vertices.
	var poly [4]vec3f
	n := 0
	for i := 0; i < 3; i++ {
		a, b := in[i], in[(i+1)%3]
		ain, bin := a[2] >= nearPlane, b[2] >= nearPlane
		if ain {
			poly[n] = a
			n++
		}
		if ain != bin {
			t := (nearPlane - a[2]) / (b[2] - a[2])
			poly[n] = vec3f{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1]), nearPlane}
			n++
		}
	}
	for i := 1; i+1 < n; i++ {
		r.raster(poly[0], poly[i], poly[i+1], f.col, v)
	}
}

// raster fills a camera-space triangle (all z ≥ nearPlane) with colour col
// where it is nearer than the z-buffer. Pixel centres are sampled; 1/z is
// affine in screen space, so it is interpolated with the barycentrics.
func (r *renderer) raster(a, b, c vec3f, col [3]uint8, v view) {
	project := func(p vec3f) (x, y, iz float32) {
		iz = 1 / p[2]
		return v.cx + v.focal*p[0]*iz, v.cy - v.focal*p[1]*iz, iz
	}
	x0, y0, z0 := project(a)
	x1, y1, z1 := project(b)
	x2, y2, z2 := project(c)
	area := (x1-x0)*(y2-y0) - (y1-y0)*(x2-x0)
	if area == 0 {
		return
	}
	if area < 0 { // make the winding positive
		x1, y1, z1, x2, y2, z2 = x2, y2, z2, x1, y1, z1
		area = -area
	}
	minX := max(0, int(math.Floor(float64(min(x0, x1, x2)))))
	maxX := min(r.rw-1, int(math.Ceil(float64(max(x0, x1, x2)))))
	minY := max(0, int(math.Floor(float64(min(y0, y1, y2)))))
	maxY := min(r.rh-1, int(math.Ceil(float64(max(y0, y1, y2)))))
	if minX > maxX || minY > maxY {
		return
	}
	inv := 1 / area
	// Edge functions e_k(x, y) = A_k·x + B_k·y + C_k, ≥ 0 inside; e_0 is
	// the edge opposite vertex 0, weighting it. Each row's span of pixel
	// centres inside all three is solved for directly, so the inner loop
	// only interpolates 1/z and tests the z-buffer.
	a0, b0 := (y1-y2)*inv, (x2-x1)*inv
	a1, b1 := (y2-y0)*inv, (x0-x2)*inv
	a2, b2 := (y0-y1)*inv, (x1-x0)*inv
	c0 := -(a0*x1 + b0*y1)
	c1 := -(a1*x2 + b1*y2)
	c2 := -(a2*x0 + b2*y0)
	// 1/z = w0·z0 + w1·z1 + w2·z2 is affine too: dz/dx, dz/dy, constant.
	za, zbY, zc := a0*z0+a1*z1+a2*z2, b0*z0+b1*z1+b2*z2, c0*z0+c1*z1+c2*z2
	edges := [3][3]float32{{a0, b0, c0}, {a1, b1, c1}, {a2, b2, c2}}
	for y := minY; y <= maxY; y++ {
		py := float32(y) + 0.5
		lo, hi := float32(minX)+0.5, float32(maxX)+0.5 // pixel-centre range
		empty := false
		for _, e := range edges {
			w := e[1]*py + e[2] // e(x) = e[0]·x + w ≥ 0
			switch {
			case e[0] > 0:
				lo = max(lo, -w/e[0])
			case e[0] < 0:
				hi = min(hi, -w/e[0])
			case w < 0:
				empty = true
			}
		}
		if empty || lo > hi {
			continue
		}
		xs := max(minX, int(math.Ceil(float64(lo-0.5))))
		xe := min(maxX, int(math.Floor(float64(hi-0.5))))
		if xs > xe {
			continue
		}
		row := y * r.rw
		zb := r.zbuf[row+xs : row+xe+1]
		cb := r.cbuf[3*(row+xs) : 3*(row+xe+1)]
		iz := za*(float32(xs)+0.5) + zbY*py + zc
		for x := range zb {
			if iz > zb[x] {
				zb[x] = iz
				o := cb[3*x : 3*x+3 : 3*x+3]
				o[0], o[1], o[2] = col[0], col[1], col[2]
			}
			iz += za
		}
	}
}

// resolve box-filters the supersampled buffer into dst.
func (r *renderer) resolve(dst []uint8) {
	if r.ss == 1 {
		copy(dst, r.cbuf)
		return
	}
	s := r.ss
	half := uint32(s*s) / 2
	for y := 0; y < r.h; y++ {
		for x := 0; x < r.w; x++ {
			var sr, sg, sb uint32
			for dy := 0; dy < s; dy++ {
				o := 3 * ((y*s+dy)*r.rw + x*s)
				for dx := 0; dx < s; dx++ {
					sr += uint32(r.cbuf[o])
					sg += uint32(r.cbuf[o+1])
					sb += uint32(r.cbuf[o+2])
					o += 3
				}
			}
			n := uint32(s * s)
			d := 3 * (y*r.w + x)
			dst[d], dst[d+1], dst[d+2] = uint8((sr+half)/n), uint8((sg+half)/n), uint8((sb+half)/n)
		}
	}
}
