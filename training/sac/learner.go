// Package sac is HIL-SERL's soft actor-critic learner on Gorgonia: a shared
// state encoder, a tanh-Gaussian actor, an ensemble of critics with Polyak
// target copies, and a learned temperature. One Update is one learner
// iteration of LeRobot's learner (HILSERL.md §1.4); losses are §1.3.
package sac

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/internal/par"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/optim"
	"github.com/e2hil/e2hil/training/replay"
	"github.com/e2hil/e2hil/training/selection"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Sampler fills a batch (a replay buffer, or an online/offline mix).
type Sampler interface {
	Sample(rng *rand.Rand, out *replay.Batch) error
}

// Metrics of one learner iteration.
type Metrics struct {
	CriticLoss, ActorLoss, TemperatureLoss float64
	// DiscreteCriticLoss is the gripper critic's loss (0 without one).
	DiscreteCriticLoss, DiscreteCriticGradNorm float64
	CriticGradNorm, ActorGradNorm              float64
	Temperature                                float64
	// Entropy is −mean log π(a|s) over the batch at the actor update.
	Entropy float64
	// MeanQ is the mean of the online critics' Q at the last critic update.
	MeanQ float64
	// ActorUpdated is false on iterations without an actor update.
	ActorUpdated bool
	// EntropyDelta is Entropy minus the previous actor update's.
	EntropyDelta float64

	// E2HiL selection at the actor update (zero with selection "none").
	Selection bool
	// KeepRatio is the fraction of the batch kept; CLower, CUpper are ℓ, u.
	KeepRatio, CLower, CUpper float64
	// CovMean is the batch mean of cov_i (= −c_i).
	CovMean float64
	// ByTag: [0] policy samples, [1] human samples.
	ByTag [2]selection.TagStats
}

// Learner trains the SAC networks in Params.
type Learner struct {
	cfg   configs.SACConfig
	Spec  models.SACSpec
	Param *models.Params
	// LogAlpha is log of the temperature α.
	LogAlpha      float64
	targetEntropy float64
	batchSize     int
	rng           *rand.Rand
	pcg           *rand.PCG
	batch         *replay.Batch

	critic, target, actor, policy *machine
	// inputs
	cObs, cAct, cY input
	tObs, tEps     input
	aObs, aEps, aW input
	// Camera inputs of each graph's observation (empty without cameras).
	cImg, tImg, aImg, iImg, dImg images
	// With cameras the temperature step's policy sample reads the actor
	// step's encoder output (aLatent, a terminal copy) from pLatent: the
	// actor step leaves the encoder unchanged and the camera encoders are
	// the costly part of a forward pass.
	aLatent *G.Node
	pLatent input
	// Dropout masks come from a fast generator seeded per mask from rng.
	aAlpha *G.Node
	// E2HiL: K policy samples per state, forward only.
	sel                 *selection.Config
	infl                *machine
	iObs, iEps          input
	iLogp, iMinQ        *G.Node
	cVals               []float64
	mask                []float32
	prevEntropy         float64
	hasPrevEntropy      bool
	pObs, pEps          input
	cLoss, cQ           *G.Node
	tQs                 []*G.Node // each target critic's Q [B, 1]
	tLogp               *G.Node
	subset              []int // target critics of the current update
	aLoss, aEntropy     *G.Node
	pLogp               *G.Node
	criticNames         []string
	actorNames          []string
	targetPairs         [][2][]float32 // (online, target) parameter data
	targetSize          int            // their total length
	criticOpt, actorOpt *optim.Adam
	// Discrete gripper critic (spec.NumDiscrete > 0).
	dcritic           *machine
	dObs, dOneHot, dY input
	dLoss             *G.Node
	tQd, tQdTarget    *G.Node
	discreteNames     []string
	discreteOpt       *optim.Adam
	tempOpt           *optim.Adam
	logAlphaBuf       []float32

	// Steps counts learner iterations (Update calls).
	Steps int
}

// New builds the learner's graphs for a fixed batch size. seed fixes the
// initial weights and every random draw of the updates.
func New(cfg configs.SACConfig, spec models.SACSpec, batchSize int, seed uint64) (*Learner, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	var sel *selection.Config
	if cfg.SampleSelection == configs.SelectionE2HiL {
		sel = &selection.Config{K: cfg.KSamples, QuantileLow: cfg.QuantileLow, QuantileHigh: cfg.QuantileHigh,
			NormalizeByKept: cfg.NormalizeBy != configs.NormalizeByBatch}
		if err := sel.Validate(); err != nil {
			return nil, err
		}
	} else if cfg.SampleSelection != "" && cfg.SampleSelection != configs.SelectionNone {
		return nil, fmt.Errorf("sac: unknown sample_selection %q", cfg.SampleSelection)
	}
	if spec.NumCritics < 2 {
		return nil, errors.New("sac: num_critics must be ≥ 2")
	}
	if n := cfg.NumSubsampleCritics; n != nil && (*n < 1 || *n > spec.NumCritics) {
		return nil, fmt.Errorf("sac: num_subsample_critics %d must be in [1, num_critics=%d]", *n, spec.NumCritics)
	}
	l := &Learner{
		cfg: cfg, Spec: spec, Param: spec.NewParams(seed), batchSize: batchSize,
		LogAlpha:      math.Log(cfg.TemperatureInit),
		targetEntropy: cfg.TargetEntropyFor(spec.ActionDim),
		pcg:           rand.NewPCG(seed, 0x1ea4),
		batch:         replay.NewBatch(batchSize, spec.StateDim, spec.ActionDim+min(spec.NumDiscrete, 1)).WithFeatures(featureSizes(spec)),
		sel:           sel,
		mask:          make([]float32, batchSize),
		cVals:         make([]float64, batchSize),
	}
	l.criticNames = l.Param.WithPrefix(models.PrefixEncoder, models.PrefixCritic)
	l.actorNames = l.Param.WithPrefix(models.PrefixActor)
	for k := 0; k < spec.NumCritics; k++ {
		for _, name := range l.Param.WithPrefix(models.CriticPrefix(k, false) + ".") {
			tname := models.CriticPrefix(k, true) + name[len(models.CriticPrefix(k, false)):]
			l.targetPairs = append(l.targetPairs, [2][]float32{l.Param.Data(name), l.Param.Data(tname)})
		}
	}
	l.rng = rand.New(l.pcg)
	if spec.NumDiscrete > 0 {
		l.discreteNames = l.Param.WithPrefix(models.PrefixDiscrete)
		for _, name := range l.discreteNames {
			l.targetPairs = append(l.targetPairs, [2][]float32{l.Param.Data(name), l.Param.Data(models.PrefixDiscreteTgt + name[len(models.PrefixDiscrete):])})
		}
	}
	for _, p := range l.targetPairs {
		l.targetSize += len(p[1])
	}
	if spec.NumDiscrete > 0 {
		// The gripper critic's optimiser also steps the camera encoders, as
		// LeRobot's (whose parameter list is discrete_critic.parameters(),
		// encoder included). LeRobot's also steps the state encoder; e2hil's
		// discrete critic has always left it to the critics, and still does.
		l.discreteNames = append(l.discreteNames, l.Param.WithPrefix(models.PrefixImageEncoder)...)
	}
	if err := l.build(); err != nil {
		return nil, err
	}
	if spec.NumDiscrete > 0 {
		l.discreteOpt = optim.NewAdam(cfg.CriticLR, l.data(l.discreteNames))
	}
	l.criticOpt = optim.NewAdam(cfg.CriticLR, l.data(l.criticNames))
	l.actorOpt = optim.NewAdam(cfg.ActorLR, l.data(l.actorNames))
	l.logAlphaBuf = []float32{float32(l.LogAlpha)}
	l.tempOpt = optim.NewAdam(cfg.TemperatureLR, [][]float32{l.logAlphaBuf})
	return l, nil
}

func (l *Learner) data(names []string) [][]float32 {
	out := make([][]float32, len(names))
	for i, n := range names {
		out[i] = l.Param.Data(n)
	}
	return out
}

func (l *Learner) build() error {
	s, B := l.Spec, l.batchSize
	var err error

	// Critic loss (Eq. 1): Σ_k mean_b (Q_k(s, a) − y)².
	b := models.NewGraph(l.Param)
	l.cObs, l.cAct, l.cY = newInput(b, "obs", B, s.StateDim), newInput(b, "action", B, s.ActionDim), newInput(b, "y", B, 1)
	var latent *G.Node
	l.cImg, latent = l.encode(b, "obs", l.cObs, l.batch.Features, true)
	var loss, qsum *G.Node
	for k := 0; k < s.NumCritics; k++ {
		q := s.Critic(b, k, false, latent, l.cAct.node)
		mse := G.Must(G.Mean(G.Must(G.Square(G.Must(G.Sub(q, l.cY.node))))))
		if loss == nil {
			loss, qsum = mse, G.Must(G.Mean(q))
		} else {
			loss, qsum = G.Must(G.Add(loss, mse)), G.Must(G.Add(qsum, G.Must(G.Mean(q))))
		}
	}
	l.cLoss, l.cQ = loss, qsum
	if l.critic, err = compile(b, loss, l.criticNames); err != nil {
		return err
	}

	// Target: a' ~ π(·|s'), min_k Q̄_k(s', a'), log π(a'|s').
	b = models.NewGraph(l.Param)
	l.tObs, l.tEps = newInput(b, "next_obs", B, s.StateDim), newInput(b, "eps", B, s.ActionDim)
	l.tImg, latent = l.encode(b, "next_obs", l.tObs, l.batch.NextFeatures, true)
	mean, logStd := s.Actor(b, latent)
	a, logp := squashedSample(mean, logStd, l.tEps.node)
	var qs []*G.Node
	for k := 0; k < s.NumCritics; k++ {
		qs = append(qs, s.Critic(b, k, true, latent, a))
	}
	// Each target Q stays a terminal node: the min (over all critics, or
	// over num_subsample_critics drawn per update) is taken in targets.
	l.tQs, l.tLogp = append([]*G.Node(nil), qs...), logp
	if s.NumDiscrete > 0 {
		l.tQd, l.tQdTarget = s.DiscreteCritic(b, false, latent), s.DiscreteCritic(b, true, latent)
	}
	if l.target, err = compile(b, nil, nil); err != nil {
		return err
	}

	// Discrete gripper critic (double DQN): mean_b (Q_d(s, k_b) − y_d)² with
	// the encoder detached (only the discrete critic's parameters train).
	if s.NumDiscrete > 0 {
		b = models.NewGraph(l.Param)
		l.dObs, l.dOneHot, l.dY = newInput(b, "obs", B, s.StateDim), newInput(b, "onehot", B, s.NumDiscrete), newInput(b, "y", B, 1)
		var dl *G.Node
		l.dImg, dl = l.encode(b, "obs", l.dObs, l.batch.Features, true)
		qd := s.DiscreteCritic(b, false, dl)
		taken := G.Must(G.Sum(G.Must(G.HadamardProd(qd, l.dOneHot.node)), 1))
		l.dLoss = G.Must(G.Mean(G.Must(G.Square(G.Must(G.Sub(taken, G.Must(G.Reshape(l.dY.node, tensor.Shape{B}))))))))
		if l.dcritic, err = compile(b, l.dLoss, l.discreteNames); err != nil {
			return err
		}
	}

	// Actor loss (Eq. 2): mean(α·log π(ã|s) − min_k Q_k(s, ã)); the encoder
	// and critics are constants here (LeRobot detaches the shared encoder).
	b = models.NewGraph(l.Param)
	l.aObs, l.aEps = newInput(b, "obs", B, s.StateDim), newInput(b, "eps", B, s.ActionDim)
	l.aW = newInput(b, "weight", B, 1)
	l.aAlpha = G.NewScalar(b.G, G.Float32, G.WithName("alpha"))
	if err := G.Let(l.aAlpha, float32(l.Temperature())); err != nil { // bound before compile: a Plan needs every input's value
		return err
	}
	l.aImg, latent = l.encode(b, "obs", l.aObs, l.batch.Features, true)
	mean, logStd = s.Actor(b, latent)
	a, logp = squashedSample(mean, logStd, l.aEps.node)
	qs = qs[:0]
	for k := 0; k < s.NumCritics; k++ {
		qs = append(qs, s.Critic(b, k, false, latent, a))
	}
	// Σ_i w_i·(α log π(ã_i|s_i) − min_k Q_k(s_i, ã_i)): w_i = 1/B is
	// HIL-SERL's mean; E2HiL's w_i = I_i/ΣI masks states out.
	w := G.Must(G.Reshape(l.aW.node, tensor.Shape{B}))
	l.aLoss = G.Must(G.Sum(G.Must(G.HadamardProd(w, G.Must(G.Sub(G.Must(G.Mul(l.aAlpha, logp)), minQ(qs, B)))))))
	// Read log π through a terminal node: an intermediate node's buffer may
	// be overwritten in place by its consumers during the run.
	l.aEntropy = G.Must(G.Neg(G.Must(G.Mean(logp))))
	if len(s.Cameras) > 0 {
		l.aLatent = G.Must(models.RepeatRows(latent, 1))
	}
	if l.actor, err = compile(b, l.aLoss, l.actorNames); err != nil {
		return err
	}

	// E2HiL influence: K actions per state from the current policy, their
	// log π and min of the online critics (E2HIL.md §1.4 steps 1–3).
	if l.sel != nil {
		// The encoder and actor run once per state; their outputs are
		// repeated K times ([s0×K, s1×K, …]) for the samples and critics.
		K, BK := l.sel.K, B*l.sel.K
		b = models.NewGraph(l.Param)
		l.iObs, l.iEps = newInput(b, "obs", B, s.StateDim), newInput(b, "eps", BK, s.ActionDim)
		l.iImg, latent = l.encode(b, "obs", l.iObs, l.batch.Features, true)
		mean, logStd = s.Actor(b, latent)
		rep := func(n *G.Node) *G.Node { return G.Must(models.RepeatRows(n, K)) }
		latent = rep(latent)
		a, l.iLogp = squashedSample(rep(mean), rep(logStd), l.iEps.node)
		qs = qs[:0]
		for k := 0; k < s.NumCritics; k++ {
			qs = append(qs, s.Critic(b, k, false, latent, a))
		}
		l.iMinQ = minQ(qs, BK)
		if l.infl, err = compile(b, nil, nil); err != nil {
			return err
		}
	}

	// Policy sample for the temperature loss (forward only).
	b = models.NewGraph(l.Param)
	l.pObs, l.pEps = newInput(b, "obs", B, s.StateDim), newInput(b, "eps", B, s.ActionDim)
	if len(s.Cameras) > 0 {
		l.pLatent = newInput(b, "latent", B, s.EncodedDim())
		latent = l.pLatent.node
	} else {
		latent = s.Encode(b, l.pObs.node)
	}
	mean, logStd = s.Actor(b, latent)
	_, l.pLogp = squashedSample(mean, logStd, l.pEps.node)
	l.policy, err = compile(b, nil, nil)
	return err
}

// Temperature is α = exp(log_alpha).
func (l *Learner) Temperature() float64 { return math.Exp(l.LogAlpha) }

func (l *Learner) normal(dst []float32) {
	for i := range dst {
		dst[i] = float32(l.rng.NormFloat64())
	}
}

// Update runs one learner iteration on batches drawn from sampler:
// utd_ratio critic updates (each followed by a Polyak update of the target
// critics, the last one after the actor), then, every policy_update_freq
// iterations, policy_update_freq actor and temperature updates.
func (l *Learner) Update(sampler Sampler) (Metrics, error) {
	var m Metrics
	for i := 0; i < l.cfg.UTDRatio; i++ {
		if err := sampler.Sample(l.rng, l.batch); err != nil {
			return m, err
		}
		if err := l.criticStep(l.batch, &m); err != nil {
			return m, err
		}
		if i < l.cfg.UTDRatio-1 {
			l.polyak()
		}
	}
	if l.Steps%l.cfg.PolicyUpdateFreq == 0 {
		for i := 0; i < l.cfg.PolicyUpdateFreq; i++ {
			if err := l.actorStep(l.batch, &m); err != nil {
				return m, err
			}
			if err := l.temperatureStep(l.batch, &m); err != nil {
				return m, err
			}
		}
		m.ActorUpdated = true
	}
	l.polyak()
	l.Steps++
	m.Temperature = l.Temperature()
	return m, nil
}

// targets computes y = r + γ(1−done)(min_k Q̄_k(s', a') − α log π(a'|s'))
// (the entropy term only with use_backup_entropy) with a' = tanh(μ + σ·eps).
func (l *Learner) targets(b *replay.Batch, eps []float32, y []float32) error {
	copy(l.tObs.data, b.NextState)
	l.setImages(l.tImg, b.NextFeatures)
	copy(l.tEps.data, eps)
	if err := l.target.run(); err != nil {
		return fmt.Errorf("sac: target forward: %w", err)
	}
	logp := l.target.values(l.tLogp)
	// REDQ-style subsampling (LeRobot's num_subsample_critics): a random
	// subset of the target critics per update; otherwise all of them.
	l.subset = l.subset[:0]
	if n := l.cfg.NumSubsampleCritics; n != nil {
		l.subset = append(l.subset, l.rng.Perm(l.Spec.NumCritics)[:*n]...)
	} else {
		for k := range l.tQs {
			l.subset = append(l.subset, k)
		}
	}
	alpha, gamma := l.Temperature(), l.cfg.Discount
	for i := range y {
		next := math.Inf(1)
		for _, k := range l.subset {
			next = math.Min(next, float64(l.target.values(l.tQs[k])[i]))
		}
		if l.cfg.UseBackupEntropy {
			next -= alpha * float64(logp[i])
		}
		y[i] = float32(float64(b.Reward[i]) + gamma*(1-float64(b.Done[i]))*next)
	}
	if n := l.Spec.NumDiscrete; n > 0 {
		// Double DQN: a* = argmax_k Q_d(s', k) online, valued by the target.
		qd, qt := l.target.values(l.tQd), l.target.values(l.tQdTarget)
		for i := range l.dY.data {
			row := qd[i*n : (i+1)*n]
			best := 0
			for k := range row {
				if row[k] > row[best] {
					best = k
				}
			}
			l.dY.data[i] = float32(float64(b.Reward[i]) + gamma*(1-float64(b.Done[i]))*float64(qt[i*n+best]))
		}
	}
	return nil
}

// discreteStep trains the gripper critic on the batch's gripper commands
// (the last action column, rounded to an index); targets are in dY.
func (l *Learner) discreteStep(b *replay.Batch, m *Metrics) error {
	n, A := l.Spec.NumDiscrete, b.ActionDim
	copy(l.dObs.data, b.State)
	l.setImages(l.dImg, b.Features)
	clear(l.dOneHot.data)
	for i := 0; i < b.Size; i++ {
		k := int(math.Round(float64(b.Action[i*A+A-1])))
		if k < 0 || k >= n {
			return fmt.Errorf("sac: gripper action %g of sample %d is not one of 0…%d", b.Action[i*A+A-1], i, n-1)
		}
		l.dOneHot.data[i*n+k] = 1
	}
	if err := l.dcritic.run(); err != nil {
		return fmt.Errorf("sac: discrete critic: %w", err)
	}
	grads, err := l.dcritic.grads()
	if err != nil {
		return err
	}
	m.DiscreteCriticLoss = l.dcritic.scalar(l.dLoss)
	m.DiscreteCriticGradNorm = optim.ClipGradNorm(grads, l.cfg.GradClipNorm)
	l.discreteOpt.Update(grads)
	return nil
}

func (l *Learner) criticStep(b *replay.Batch, m *Metrics) error {
	l.normal(l.tEps.data)
	if err := l.targets(b, l.tEps.data, l.cY.data); err != nil {
		return err
	}
	copy(l.cObs.data, b.State)
	l.setImages(l.cImg, b.Features)
	if A, n := b.ActionDim, l.Spec.ActionDim; A == n {
		copy(l.cAct.data, b.Action)
	} else { // the continuous columns only
		for i := 0; i < b.Size; i++ {
			copy(l.cAct.data[i*n:(i+1)*n], b.Action[i*A:i*A+n])
		}
	}
	if err := l.critic.run(); err != nil {
		return fmt.Errorf("sac: critic: %w", err)
	}
	grads, err := l.critic.grads()
	if err != nil {
		return err
	}
	m.CriticLoss = l.critic.scalar(l.cLoss)
	m.MeanQ = l.critic.scalar(l.cQ) / float64(l.Spec.NumCritics)
	m.CriticGradNorm = optim.ClipGradNorm(grads, l.cfg.GradClipNorm)
	l.criticOpt.Update(grads)
	if l.Spec.NumDiscrete > 0 {
		return l.discreteStep(b, m)
	}
	return nil
}

// selectSamples fills the actor loss weights: 1/B each, or E2HiL's mask
// normalised by the kept count (or B).
func (l *Learner) selectSamples(b *replay.Batch, m *Metrics) error {
	w := l.aW.data
	if l.sel == nil {
		for i := range w {
			w[i] = 1 / float32(len(w))
		}
		return nil
	}
	K := l.sel.K
	copy(l.iObs.data, b.State)
	l.setImages(l.iImg, b.Features)
	l.normal(l.iEps.data)
	if err := l.infl.run(); err != nil {
		return fmt.Errorf("sac: influence forward: %w", err)
	}
	if err := selection.Influence(l.infl.values(l.iLogp), l.infl.values(l.iMinQ), l.Temperature(), K, l.cVals); err != nil {
		return err
	}
	r := selection.Select(l.cVals, l.sel.QuantileLow, l.sel.QuantileHigh, l.mask)
	selection.Weights(l.mask, l.sel.NormalizeByKept, w)
	m.Selection = true
	m.KeepRatio, m.CLower, m.CUpper = r.KeepRatio(), r.Lower, r.Upper
	var cov float64
	for _, c := range l.cVals {
		cov -= c
	}
	m.CovMean = cov / float64(len(l.cVals))
	m.ByTag = selection.ByTag(l.cVals, l.mask, b.Tag)
	return nil
}

// Mask is the last E2HiL mask (nil without selection); reused.
func (l *Learner) Mask() []float32 {
	if l.sel == nil {
		return nil
	}
	return l.mask
}

// Influence is the last batch's c_i (nil without selection); reused.
func (l *Learner) Influence() []float64 {
	if l.sel == nil {
		return nil
	}
	return l.cVals
}

func (l *Learner) actorStep(b *replay.Batch, m *Metrics) error {
	if err := l.selectSamples(b, m); err != nil {
		return err
	}
	copy(l.aObs.data, b.State)
	l.setImages(l.aImg, b.Features)
	l.normal(l.aEps.data)
	if err := letScalar(l.aAlpha, float32(l.Temperature())); err != nil {
		return err
	}
	if err := l.actor.run(); err != nil {
		return fmt.Errorf("sac: actor: %w", err)
	}
	grads, err := l.actor.grads()
	if err != nil {
		return err
	}
	m.ActorLoss = l.actor.scalar(l.aLoss)
	m.Entropy = l.actor.scalar(l.aEntropy)
	if l.hasPrevEntropy {
		m.EntropyDelta = m.Entropy - l.prevEntropy
	}
	l.prevEntropy, l.hasPrevEntropy = m.Entropy, true
	m.ActorGradNorm = optim.ClipGradNorm(grads, l.cfg.GradClipNorm)
	l.actorOpt.Update(grads)
	return nil
}

// temperatureStep: L_α = mean(−α(log π(a|s) + H̄)) with a fresh sample from
// the updated actor; dL/dlog α = L_α since dα/dlog α = α.
func (l *Learner) temperatureStep(b *replay.Batch, m *Metrics) error {
	if l.aLatent != nil {
		copy(l.pLatent.data, l.actor.values(l.aLatent))
	} else {
		copy(l.pObs.data, b.State)
	}
	l.normal(l.pEps.data)
	if err := l.policy.run(); err != nil {
		return fmt.Errorf("sac: policy sample: %w", err)
	}
	loss := temperatureLoss(l.Temperature(), l.policy.values(l.pLogp), l.targetEntropy)
	g := [][]float32{{float32(loss)}}
	optim.ClipGradNorm(g, l.cfg.GradClipNorm)
	l.logAlphaBuf[0] = float32(l.LogAlpha)
	l.tempOpt.Update(g)
	l.LogAlpha = float64(l.logAlphaBuf[0])
	m.TemperatureLoss = loss
	return nil
}

// temperatureLoss is mean(−α(log π + H̄)).
func temperatureLoss(alpha float64, logp []float32, targetEntropy float64) float64 {
	var s float64
	for _, v := range logp {
		s += float64(v) + targetEntropy
	}
	return -alpha * s / float64(len(logp))
}

// polyak moves the target critics toward the online ones:
// θ̄ ← τθ + (1−τ)θ̄ (critic_target_update_weight τ).
func (l *Learner) polyak() {
	tau := float32(l.cfg.CriticTargetUpdateWeight)
	par.For(l.targetSize, 16, 1<<15, func(lo, hi int) {
		off := 0
		for _, p := range l.targetPairs {
			on, tg := p[0], p[1]
			for i := max(lo-off, 0); i < min(hi-off, len(tg)); i++ {
				tg[i] = tau*on[i] + (1-tau)*tg[i]
			}
			off += len(tg)
		}
	})
}

func letScalar(n *G.Node, v float32) error { return G.Let(n, v) }
