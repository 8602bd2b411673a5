package sac

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/optim"
	"github.com/e2hil/e2hil/training/replay"
	"github.com/e2hil/e2hil/training/selection"
)

// A tiny SAC (state 2, action 1, latent 2, one hidden layer of 2) whose
// losses are recomputed below by a plain float64 implementation written from
// the HIL-SERL equations, independent of Gorgonia and of package models.
func tinySpec() models.SACSpec {
	return models.SACSpec{
		StateDim: 2, ActionDim: 1, StateLow: []float32{-1, 0}, StateHigh: []float32{1, 4},
		LatentDim: 2, ActorHidden: []int{2}, ActorActivateFinal: true, CriticHidden: []int{2}, CriticActivateFinal: true,
		NumCritics: 2, StdMin: 1e-5, StdMax: 5, InitFinal: 0.05,
	}
}

func tinyLearner(t *testing.T) *Learner {
	t.Helper()
	cfg := configs.DefaultSACConfig()
	cfg.Discount, cfg.TemperatureInit = 0.9, 0.5
	l, err := New(cfg, tinySpec(), 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Fixed, distinct, non-trivial weights: w = 0.3·sin(1.7·k) for the k-th scalar.
	k := 0
	for _, name := range l.Param.Names() {
		d := l.Param.Data(name)
		for i := range d {
			d[i] = float32(0.3 * math.Sin(1.7*float64(k)))
			k++
		}
	}
	return l
}

// ---- the float64 reference ----

type ref struct{ p *models.Params }

func (r ref) w(name string) []float64 {
	d := r.p.Data(name)
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

func (r ref) linear(name string, x []float64) []float64 {
	w, b := r.w(name+".weight"), r.w(name+".bias")
	out := len(b)
	y := make([]float64, out)
	for j := 0; j < out; j++ {
		y[j] = b[j]
		for i := range x {
			y[j] += x[i] * w[i*out+j]
		}
	}
	return y
}

func (r ref) layerNorm(name string, x []float64) []float64 {
	g, b := r.w(name+".weight"), r.w(name+".bias")
	var m, v float64
	for _, e := range x {
		m += e / float64(len(x))
	}
	for _, e := range x {
		v += (e - m) * (e - m) / float64(len(x))
	}
	y := make([]float64, len(x))
	for i, e := range x {
		y[i] = (e-m)/math.Sqrt(v+1e-5)*g[i] + b[i]
	}
	return y
}

func silu(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, e := range x {
		y[i] = e / (1 + math.Exp(-e))
	}
	return y
}

func (r ref) encode(s []float64) []float64 {
	sp := tinySpec()
	x := make([]float64, len(s))
	for i := range s {
		lo, hi := float64(sp.StateLow[i]), float64(sp.StateHigh[i])
		x[i] = (s[i]-lo)/(hi-lo+1e-8)*2 - 1
	}
	h := r.layerNorm("encoder.state_norm", r.linear("encoder.state", x))
	for i := range h {
		h[i] = math.Tanh(h[i])
	}
	return h
}

func (r ref) q(k int, target bool, latent []float64, a float64) float64 {
	pre := models.CriticPrefix(k, target)
	x := append(append([]float64(nil), latent...), a)
	h := silu(r.layerNorm(pre+".net.0.norm", r.linear(pre+".net.0.linear", x)))
	return r.linear(pre+".out", h)[0]
}

// sample returns a = tanh(μ + σε) and log π(a|s) by the textbook formula
// log N(u; μ, σ) − log(1 − tanh²u).
func (r ref) sample(latent []float64, eps float64) (a, logp float64) {
	h := silu(r.layerNorm("actor.net.0.norm", r.linear("actor.net.0.linear", latent)))
	mu := r.linear("actor.mean", h)[0]
	ls := math.Max(math.Log(1e-5), math.Min(math.Log(5), r.linear("actor.log_std", h)[0]))
	sigma := math.Exp(ls)
	u := mu + sigma*eps
	a = math.Tanh(u)
	logN := -0.5*((u-mu)/sigma)*((u-mu)/sigma) - math.Log(sigma) - 0.5*math.Log(2*math.Pi)
	return a, logN - math.Log(1-a*a)
}

func tinyBatch() *replay.Batch {
	b := replay.NewBatch(2, 2, 1)
	copy(b.State, []float32{0.2, 1.5, -0.7, 3.1})
	copy(b.NextState, []float32{0.3, 1.2, -0.5, 3.6})
	copy(b.Action, []float32{0.4, -0.8})
	copy(b.Reward, []float32{0.0, 1.0})
	copy(b.Done, []float32{0, 1})
	return b
}

func row(v []float32, i, d int) []float64 {
	out := make([]float64, d)
	for j := range out {
		out[j] = float64(v[i*d+j])
	}
	return out
}

func TestLossesMatchHandComputation(t *testing.T) {
	l := tinyLearner(t)
	r := ref{l.Param}
	b := tinyBatch()
	alpha := l.Temperature()
	eps := []float32{0.37, -1.21}

	// Targets: y = r + γ(1−d)(min_k Q̄_k(s',a') − α log π(a'|s')).
	wantY := make([]float64, 2)
	for i := 0; i < 2; i++ {
		lat := r.encode(row(b.NextState, i, 2))
		a, lp := r.sample(lat, float64(eps[i]))
		m := math.Min(r.q(0, true, lat, a), r.q(1, true, lat, a))
		wantY[i] = float64(b.Reward[i]) + 0.9*(1-float64(b.Done[i]))*(m-alpha*lp)
	}
	y := make([]float32, 2)
	if err := l.targets(b, eps, y); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		if d := math.Abs(float64(y[i]) - wantY[i]); d > 1e-5 {
			t.Errorf("target y[%d] = %.7f, want %.7f", i, y[i], wantY[i])
		}
	}

	// Critic loss: Σ_k mean_b (Q_k(s,a) − y)².
	var wantCritic float64
	for k := 0; k < 2; k++ {
		for i := 0; i < 2; i++ {
			d := r.q(k, false, r.encode(row(b.State, i, 2)), float64(b.Action[i])) - float64(y[i])
			wantCritic += d * d / 2
		}
	}
	copy(l.cObs.data, b.State)
	copy(l.cAct.data, b.Action)
	copy(l.cY.data, y)
	if err := l.critic.run(); err != nil {
		t.Fatal(err)
	}
	if got := l.critic.scalar(l.cLoss); math.Abs(got-wantCritic) > 1e-5 {
		t.Errorf("critic loss = %.7f, want %.7f", got, wantCritic)
	}

	// Actor loss: mean(α log π(ã|s) − min_k Q_k(s, ã)).
	var wantActor, wantEntropy float64
	for i := 0; i < 2; i++ {
		lat := r.encode(row(b.State, i, 2))
		a, lp := r.sample(lat, float64(eps[i]))
		wantActor += (alpha*lp - math.Min(r.q(0, false, lat, a), r.q(1, false, lat, a))) / 2
		wantEntropy -= lp / 2
	}
	copy(l.aObs.data, b.State)
	copy(l.aEps.data, eps)
	l.aAlphaSet(t)
	if err := l.actor.run(); err != nil {
		t.Fatal(err)
	}
	if got := l.actor.scalar(l.aLoss); math.Abs(got-wantActor) > 1e-5 {
		t.Errorf("actor loss = %.7f, want %.7f", got, wantActor)
	}

	if got := l.actor.scalar(l.aEntropy); math.Abs(got-wantEntropy) > 1e-5 {
		t.Errorf("entropy = %.7f, want %.7f", got, wantEntropy)
	}

	// Temperature loss on a fresh policy sample: mean(−α(log π + H̄)), H̄ = −|A|/2.
	copy(l.pObs.data, b.State)
	copy(l.pEps.data, eps)
	if err := l.policy.run(); err != nil {
		t.Fatal(err)
	}
	wantTemp := 0.0
	for i := 0; i < 2; i++ {
		_, lp := r.sample(r.encode(row(b.State, i, 2)), float64(eps[i]))
		wantTemp += -alpha * (lp - 0.5) / 2
	}
	if got := temperatureLoss(alpha, l.policy.values(l.pLogp), l.targetEntropy); math.Abs(got-wantTemp) > 1e-5 {
		t.Errorf("temperature loss = %.7f, want %.7f", got, wantTemp)
	}
}

// aAlphaSet sets the actor graph's α and its per-sample loss weights
// (uniform 1/B unless given).
func (l *Learner) aAlphaSet(t *testing.T, weights ...float32) {
	t.Helper()
	if err := letScalar(l.aAlpha, float32(l.Temperature())); err != nil {
		t.Fatal(err)
	}
	for i := range l.aW.data {
		l.aW.data[i] = 1 / float32(len(l.aW.data))
		if len(weights) > 0 {
			l.aW.data[i] = weights[i]
		}
	}
}

// The critic and actor gradients Gorgonia computes match central finite
// differences of the reference losses (float64), parameter by parameter.
func TestGradientsFiniteDifference(t *testing.T) {
	l := tinyLearner(t)
	b := tinyBatch()
	eps := []float32{0.37, -1.21}
	y := []float32{0.25, -0.4}
	alpha := l.Temperature()

	criticLoss := func() float64 {
		r := ref{l.Param}
		var s float64
		for k := 0; k < 2; k++ {
			for i := 0; i < 2; i++ {
				d := r.q(k, false, r.encode(row(b.State, i, 2)), float64(b.Action[i])) - float64(y[i])
				s += d * d / 2
			}
		}
		return s
	}
	weights := []float32{0.5, 0.5}
	actorLoss := func() float64 {
		r := ref{l.Param}
		var s float64
		for i := 0; i < 2; i++ {
			lat := r.encode(row(b.State, i, 2))
			a, lp := r.sample(lat, float64(eps[i]))
			s += float64(weights[i]) * (alpha*lp - math.Min(r.q(0, false, lat, a), r.q(1, false, lat, a)))
		}
		return s
	}

	copy(l.cObs.data, b.State)
	copy(l.cAct.data, b.Action)
	copy(l.cY.data, y)
	if err := l.critic.run(); err != nil {
		t.Fatal(err)
	}
	cg, _ := l.critic.grads()
	checkFD(t, "critic", l, l.criticNames, cg, criticLoss)

	// A second run yields the same gradients (Gorgonia would accumulate them).
	first := append([]float32(nil), cg[0]...)
	if err := l.critic.run(); err != nil {
		t.Fatal(err)
	}
	cg, _ = l.critic.grads()
	for i := range first {
		if cg[0][i] != first[i] {
			t.Fatalf("gradients differ between identical runs: %v vs %v", cg[0], first)
		}
	}

	// HIL-SERL's mean, then E2HiL's masked loss (state 1 dropped, divided
	// by the kept count) and the Eq. 3 normalisation by B.
	for _, w := range [][]float32{{0.5, 0.5}, {1, 0}, {0, 0.5}} {
		weights = w
		copy(l.aObs.data, b.State)
		copy(l.aEps.data, eps)
		l.aAlphaSet(t, w...)
		if err := l.actor.run(); err != nil {
			t.Fatal(err)
		}
		if got, want := l.actor.scalar(l.aLoss), actorLoss(); math.Abs(got-want) > 1e-5 {
			t.Errorf("weights %v: actor loss %.7f, reference %.7f", w, got, want)
		}
		ag, _ := l.actor.grads()
		checkFD(t, fmt.Sprintf("actor (weights %v)", w), l, l.actorNames, ag, actorLoss)
	}
}

func checkFD(t *testing.T, what string, l *Learner, names []string, grads [][]float32, loss func() float64) {
	t.Helper()
	const h = 1e-3
	n := 0
	for gi, name := range names {
		d := l.Param.Data(name)
		for j := range d {
			orig := d[j]
			d[j] = orig + h
			up := loss()
			d[j] = orig - h
			down := loss()
			d[j] = orig
			num := (up - down) / (2 * h)
			if diff := math.Abs(num - float64(grads[gi][j])); diff > 1e-3*math.Max(1, math.Abs(num)) {
				t.Errorf("%s: d loss / d %s[%d]: autodiff %.6g, finite difference %.6g", what, name, j, grads[gi][j], num)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatalf("%s: no parameters checked", what)
	}
}

// Learning works end to end on a trivial problem: one-step episodes whose
// reward is −(a − 0.5)²; the actor's mean action must move to ≈ 0.5.
func TestLearnsOneStepBandit(t *testing.T) {
	spec := tinySpec()
	spec.LatentDim, spec.ActorHidden, spec.CriticHidden = 16, []int{32}, []int{32}
	cfg := configs.DefaultSACConfig()
	cfg.TemperatureInit = 0.01
	cfg.CriticLR, cfg.ActorLR = 3e-3, 3e-3
	l, err := New(cfg, spec, 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	buf, _ := replay.New(5000, 2, 1)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 2000; i++ {
		a := float32(rng.Float64()*2 - 1)
		s := []float32{float32(rng.Float64()*2 - 1), float32(rng.Float64() * 4)}
		buf.Add(replay.Transition{State: s, Action: []float32{a}, Reward: -(a - 0.5) * (a - 0.5), NextState: s, Done: true})
	}
	for i := 0; i < 600; i++ {
		if _, err := l.Update(buf); err != nil {
			t.Fatal(err)
		}
	}
	p, err := NewPolicy(l.Spec, l.Param, 1)
	if err != nil {
		t.Fatal(err)
	}
	act, err := p.Deterministic([]float32{0.1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(act[0])-0.5) > 0.1 {
		t.Errorf("learned action %.3f, want ≈ 0.5", act[0])
	}
}

// TestE2HiLInfluenceMatchesReference: the influence graph's K samples per
// state give the same c_i as the float64 reference policy and critics fed
// through E2HIL.md's formulas, and the mask/weights follow.
func TestE2HiLInfluenceMatchesReference(t *testing.T) {
	cfg := configs.DefaultSACConfig()
	cfg.Discount, cfg.TemperatureInit = 0.9, 0.5
	// With two states, quantiles 0.05/0.9 keep neither; 0/1 keep both.
	cfg.SampleSelection, cfg.KSamples, cfg.QuantileLow, cfg.QuantileHigh = configs.SelectionE2HiL, 4, 0, 1
	l, err := New(cfg, tinySpec(), 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	tl := tinyLearner(t)
	for _, name := range l.Param.Names() {
		copy(l.Param.Data(name), tl.Param.Data(name))
	}
	b := tinyBatch()
	b.Tag[1] = 1
	var m Metrics
	if err := l.selectSamples(b, &m); err != nil {
		t.Fatal(err)
	}
	r := ref{l.Param}
	K, alpha := 4, l.Temperature()
	for i := 0; i < 2; i++ {
		lat := r.encode(row(b.State, i, 2))
		lp, q := make([]float32, K), make([]float32, K)
		for k := 0; k < K; k++ {
			a, logp := r.sample(lat, float64(l.iEps.data[i*K+k]))
			lp[k] = float32(logp)
			q[k] = float32(math.Min(r.q(0, false, lat, a), r.q(1, false, lat, a)))
		}
		want := make([]float64, 1)
		if err := selection.Influence(lp, q, alpha, K, want); err != nil {
			t.Fatal(err)
		}
		if math.Abs(l.cVals[i]-want[0]) > 1e-4*math.Max(1e-3, math.Abs(want[0])) {
			t.Errorf("c[%d] = %.7g, reference %.7g", i, l.cVals[i], want[0])
		}
	}
	if !m.Selection || m.ByTag[0].Count != 1 || m.ByTag[1].Count != 1 {
		t.Errorf("metrics %+v", m)
	}
	var sum float32
	for i, w := range l.aW.data {
		if (w != 0) != (l.mask[i] != 0) {
			t.Errorf("weight %d = %v with mask %v", i, w, l.mask[i])
		}
		sum += w
	}
	if math.Abs(float64(sum)-1) > 1e-6 {
		t.Errorf("kept weights sum to %v, want 1 (normalised by the kept count)", sum)
	}
}

// TestE2HiLUpdateKeepsMost: on a full batch of 256 distinct states the
// learner keeps 217 (≈85 %) and the update runs.
func TestE2HiLUpdateKeepsMost(t *testing.T) {
	cfg := configs.DefaultSACConfig()
	cfg.SampleSelection = configs.SelectionE2HiL
	spec := tinySpec()
	spec.LatentDim, spec.ActorHidden, spec.CriticHidden = 8, []int{16}, []int{16}
	l, err := New(cfg, spec, 256, 3)
	if err != nil {
		t.Fatal(err)
	}
	buf, _ := replay.New(5000, 2, 1)
	rng := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < 5000; i++ {
		s := []float32{float32(rng.Float64()*2 - 1), float32(rng.Float64() * 4)}
		buf.Add(replay.Transition{State: s, NextState: s, Action: []float32{float32(rng.Float64()*2 - 1)}, Reward: float32(rng.Float64()), Human: i%3 == 0})
	}
	for i := 0; i < 3; i++ {
		m, err := l.Update(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Selection || m.KeepRatio != 217.0/256 || !(m.CLower <= m.CUpper) {
			t.Errorf("update %d: keep ratio %v, bounds [%g, %g]", i, m.KeepRatio, m.CLower, m.CUpper)
		}
		if m.ByTag[0].Count+m.ByTag[1].Count != 256 || m.ByTag[1].Count == 0 {
			t.Errorf("tags %+v", m.ByTag)
		}
	}
}

func (r ref) qd(target bool, latent []float64) []float64 {
	pre := "discrete_critic"
	if target {
		pre = "discrete_critic_target"
	}
	return r.linear(pre+".out", silu(r.layerNorm(pre+".net.0.norm", r.linear(pre+".net.0.linear", latent))))
}

// TestDiscreteCriticMatchesReference: the gripper critic's double-DQN
// targets, loss and gradients against the float64 reference.
func TestDiscreteCriticMatchesReference(t *testing.T) {
	spec := tinySpec()
	spec.NumDiscrete = 3
	cfg := configs.DefaultSACConfig()
	cfg.Discount = 0.9
	l, err := New(cfg, spec, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, name := range l.Param.Names() {
		d := l.Param.Data(name)
		for i := range d {
			d[i] = float32(0.3 * math.Sin(1.3*float64(k)+0.2))
			k++
		}
	}
	b := replay.NewBatch(2, 2, 2) // action: continuous, gripper index
	copy(b.State, []float32{0.2, 1.5, -0.7, 3.1})
	copy(b.NextState, []float32{0.3, 1.2, -0.5, 3.6})
	copy(b.Action, []float32{0.4, 2, -0.8, 0})
	copy(b.Reward, []float32{0.5, 1.0})
	copy(b.Done, []float32{0, 1})
	r := ref{l.Param}
	if err := l.targets(b, []float32{0.1, -0.2}, make([]float32, 2)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		lat := r.encode(row(b.NextState, i, 2))
		on, tg := r.qd(false, lat), r.qd(true, lat)
		best := 0
		for j := range on {
			if on[j] > on[best] {
				best = j
			}
		}
		want := float64(b.Reward[i]) + 0.9*(1-float64(b.Done[i]))*tg[best]
		if math.Abs(float64(l.dY.data[i])-want) > 1e-5 {
			t.Errorf("y_d[%d] = %.7f, want %.7f", i, l.dY.data[i], want)
		}
	}
	y := append([]float32(nil), l.dY.data...)
	loss := func() float64 {
		r := ref{l.Param}
		var s float64
		for i := 0; i < 2; i++ {
			q := r.qd(false, r.encode(row(b.State, i, 2)))[int(b.Action[i*2+1])]
			s += (q - float64(y[i])) * (q - float64(y[i])) / 2
		}
		return s
	}
	var m Metrics
	if err := l.discreteStepNoUpdate(b, &m); err != nil {
		t.Fatal(err)
	}
	if want := loss(); math.Abs(m.DiscreteCriticLoss-want) > 1e-5 {
		t.Errorf("discrete loss %.7f, want %.7f", m.DiscreteCriticLoss, want)
	}
	g, _ := l.dcritic.grads()
	checkFD(t, "discrete critic", l, l.discreteNames, g, loss)
}

// discreteStepNoUpdate runs the discrete critic's forward/backward only.
func (l *Learner) discreteStepNoUpdate(b *replay.Batch, m *Metrics) error {
	opt := l.discreteOpt
	l.discreteOpt = optim.NewAdam(0, l.data(l.discreteNames)) // lr 0: no change
	defer func() { l.discreteOpt = opt }()
	return l.discreteStep(b, m)
}

// TestCriticEnsembleSubsample: with 3 critics the target is the min over
// all of them, or with num_subsample_critics 2 over a random pair drawn per
// update (every pair occurs).
func TestCriticEnsembleSubsample(t *testing.T) {
	two := 2
	for _, sub := range []*int{nil, &two} {
		spec := tinySpec()
		spec.NumCritics = 3
		cfg := configs.DefaultSACConfig()
		cfg.NumCritics, cfg.NumSubsampleCritics = 3, sub
		l, err := New(cfg, spec, 2, 7)
		if err != nil {
			t.Fatal(err)
		}
		b := tinyBatch()
		pairs := map[[2]int]bool{}
		for trial := 0; trial < 30; trial++ {
			y := make([]float32, 2)
			if err := l.targets(b, []float32{0.3, -0.4}, y); err != nil {
				t.Fatal(err)
			}
			if sub == nil && len(l.subset) != 3 || sub != nil && len(l.subset) != 2 {
				t.Fatalf("subset %v", l.subset)
			}
			if sub != nil {
				p := [2]int{min(l.subset[0], l.subset[1]), max(l.subset[0], l.subset[1])}
				pairs[p] = true
			}
			logp := l.target.values(l.tLogp)
			for i := range y {
				m := math.Inf(1)
				for _, k := range l.subset {
					m = math.Min(m, float64(l.target.values(l.tQs[k])[i]))
				}
				want := float64(b.Reward[i]) + cfg.Discount*(1-float64(b.Done[i]))*(m-l.Temperature()*float64(logp[i]))
				if math.Abs(float64(y[i])-want) > 1e-5 {
					t.Fatalf("y[%d] = %v, want %v over critics %v", i, y[i], want, l.subset)
				}
			}
		}
		if sub != nil && len(pairs) != 3 {
			t.Errorf("pairs drawn: %v, want all 3", pairs)
		}
	}
	cfg := configs.DefaultSACConfig()
	four := 4
	cfg.NumCritics, cfg.NumSubsampleCritics = 3, &four
	spec := tinySpec()
	spec.NumCritics = 3
	if _, err := New(cfg, spec, 2, 1); err == nil {
		t.Error("num_subsample_critics 4 of 3 accepted")
	}
}

// TestTemperatureGradient: the temperature step uses dL/dlog α = L (since
// dα/dlog α = α); check it against a finite difference in log α.
func TestTemperatureGradient(t *testing.T) {
	logp := []float32{-1.3, 0.4, 2.2, -0.7}
	for _, la := range []float64{-4, -0.5, 0, 1.2} {
		const h = 1e-6
		num := (temperatureLoss(math.Exp(la+h), logp, -1.5) - temperatureLoss(math.Exp(la-h), logp, -1.5)) / (2 * h)
		if got := temperatureLoss(math.Exp(la), logp, -1.5); math.Abs(got-num) > 1e-6*math.Max(1, math.Abs(num)) {
			t.Errorf("log α %g: gradient used %.9g, finite difference %.9g", la, got, num)
		}
	}
}

// TestGraphsRunAsPlans: every learner graph runs as a models.Plan (the fast
// path: buffers allocated once); a tape machine here would mean a graph
// input without a value or a Gorgonia node layout Plan cannot read.
func TestGraphsRunAsPlans(t *testing.T) {
	cfg := configs.DefaultSACConfig()
	cfg.SampleSelection = configs.SelectionE2HiL
	spec := tinySpec()
	spec.NumDiscrete = 3
	l, err := New(cfg, spec, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*machine{"critic": l.critic, "target": l.target, "actor": l.actor,
		"policy": l.policy, "influence": l.infl, "discrete": l.dcritic} {
		if m.plan == nil {
			t.Errorf("%s graph runs on a tape machine", name)
		}
	}
}

// TestParallelPlansMatchSequential: running the graphs' independent ops
// concurrently (the critics of the ensemble, their backward passes) changes
// no bit of the result: five updates with E2HiL and a gripper critic give
// the same parameters on one worker and on every core.
func TestParallelPlansMatchSequential(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: every plan runs sequentially anyway")
	}
	cfg := configs.DefaultSACConfig()
	cfg.SampleSelection, cfg.UTDRatio = configs.SelectionE2HiL, 2
	spec := benchSpec(64, 32, 6)
	spec.NumDiscrete = 3
	run := func(workers int) *Learner {
		l, err := New(cfg, spec, 32, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*machine{l.critic, l.target, l.actor, l.policy, l.infl, l.dcritic} {
			m.plan.SetWorkers(workers)
		}
		buf, _ := replay.New(200, 6, 4)
		rng := rand.New(rand.NewPCG(5, 5))
		for i := 0; i < 200; i++ {
			v := func(n int) []float32 {
				x := make([]float32, n)
				for j := range x {
					x[j] = float32(rng.NormFloat64())
				}
				return x
			}
			a := v(4)
			a[3] = float32(rng.IntN(3))
			buf.Add(replay.Transition{State: v(6), Action: a, Reward: float32(rng.Float64()), NextState: v(6)})
		}
		// A plan's first runs are sequential, timing its ops (3 of them):
		// 8 updates run every plan in parallel at least 5 times.
		for i := 0; i < 8; i++ {
			if _, err := l.Update(buf); err != nil {
				t.Fatal(err)
			}
		}
		return l
	}
	seq, parl := run(1), run(runtime.GOMAXPROCS(0))
	for _, name := range seq.Param.Names() {
		a, b := seq.Param.Data(name), parl.Param.Data(name)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d]: sequential %g, parallel %g", name, i, a[i], b[i])
			}
		}
	}
	if seq.LogAlpha != parl.LogAlpha {
		t.Errorf("log α: sequential %g, parallel %g", seq.LogAlpha, parl.LogAlpha)
	}
}

// TestPolyak: every target parameter (critics and gripper critic) moves to
// τ·online + (1−τ)·target, across the pieces the update is split into.
func TestPolyak(t *testing.T) {
	cfg := configs.DefaultSACConfig()
	spec := benchSpec(256, 64, 6)
	spec.NumDiscrete = 3
	l, err := New(cfg, spec, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	if l.targetSize < 1<<16 {
		t.Fatalf("%d target values: too few to split", l.targetSize)
	}
	var before [][]float32
	k := 0
	for _, p := range l.targetPairs {
		for i := range p[0] {
			p[0][i], p[1][i] = float32(math.Sin(float64(k))), float32(math.Cos(float64(k)))
			k++
		}
		before = append(before, slices.Clone(p[1]))
	}
	l.polyak()
	tau := float32(cfg.CriticTargetUpdateWeight)
	for j, p := range l.targetPairs {
		for i := range p[1] {
			if want := tau*p[0][i] + (1-tau)*before[j][i]; p[1][i] != want {
				t.Fatalf("pair %d value %d: %g, want %g", j, i, p[1][i], want)
			}
		}
	}
}
