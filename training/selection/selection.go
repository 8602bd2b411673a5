// Package selection is E2HiL's entropy-guided sample selection
// (shared/design/E2HIL.md §1.4–1.5): for every state of a batch, the
// covariance over K actions drawn from the current policy between log π(a|s)
// and π(a|s)·A_soft(s,a) predicts how much an actor update on that state
// changes the policy's entropy; states whose |influence| lies between two
// batch quantiles are kept for the actor update, the rest are masked out.
//
// Everything here is plain arithmetic on values the learner has already
// computed without gradients; the mask is a stop-gradient weight.
package selection

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// DensityClamp bounds π(a|s) = exp(log π) before it weighs the advantage, as
// the released code does (torch computes inf, then clamps).
const DensityClamp = 1e6

// Config selects samples; it mirrors policy.sample_selection and friends.
type Config struct {
	// K is the number of Monte-Carlo actions per state (k_samples).
	K int
	// QuantileLow and QuantileHigh bound |c| (inclusive), as quantiles of
	// the batch's |c| with torch's 'linear' interpolation.
	QuantileLow, QuantileHigh float64
	// NormalizeByKept divides the masked actor loss by the number of kept
	// samples (the released code); false divides by the batch size (Eq. 3).
	NormalizeByKept bool
}

// DefaultConfig is the released code's setting.
func DefaultConfig() Config {
	return Config{K: 8, QuantileLow: 0.05, QuantileHigh: 0.90, NormalizeByKept: true}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.K < 2 {
		errs = append(errs, fmt.Errorf("selection: k_samples %d must be ≥ 2 (a covariance needs two actions)", c.K))
	}
	if !(c.QuantileLow >= 0 && c.QuantileLow <= c.QuantileHigh && c.QuantileHigh <= 1) {
		errs = append(errs, fmt.Errorf("selection: need 0 ≤ quantile_low (%g) ≤ quantile_high (%g) ≤ 1", c.QuantileLow, c.QuantileHigh))
	}
	return errors.Join(errs...)
}

// Influence computes c_i = −cov_i for each of the B states from the K
// Monte-Carlo samples of each, laid out state-major ([s0×K, s1×K, …]):
// logp[i*K+k] = log π(a_ik|s_i), q[i*K+k] = min_j Q_j(s_i, a_ik).
// alpha is the temperature. c must have B entries. Per state:
//
//	g_k = q_k − α·lp_k;   A_k = g_k − mean_k g   (soft advantage, Σ_k A_k = 0)
//	y_k = min(exp(lp_k), 1e6)·A_k
//	cov = (1/K) Σ_k (lp_k − mean lp)(y_k − mean y)   (population covariance)
//	c = −cov
func Influence(logp, q []float32, alpha float64, k int, c []float64) error {
	if k < 1 || len(logp) != len(q) || len(logp) != len(c)*k {
		return fmt.Errorf("selection: influence of %d states × %d samples from %d log-probs and %d Q values", len(c), k, len(logp), len(q))
	}
	y := make([]float64, k)
	for i := range c {
		lp := logp[i*k : (i+1)*k]
		SoftAdvantage(lp, q[i*k:(i+1)*k], alpha, y)
		var lpMean, yMean float64
		for j := range lp {
			lpMean += float64(lp[j])
			y[j] *= math.Min(math.Exp(float64(lp[j])), DensityClamp)
			yMean += y[j]
		}
		lpMean /= float64(k)
		yMean /= float64(k)
		var cov float64
		for j := range lp {
			cov += (float64(lp[j]) - lpMean) * (y[j] - yMean)
		}
		c[i] = -cov / float64(k)
	}
	return nil
}

// SoftAdvantage writes A_k = g_k − mean g, g_k = q_k − α·lp_k, for the K
// actions of one state: the soft advantage with V(s) estimated by the mean
// over the same K samples. It sums to zero.
func SoftAdvantage(lp, q []float32, alpha float64, adv []float64) {
	var mean float64
	for j := range lp {
		adv[j] = float64(q[j]) - alpha*float64(lp[j])
		mean += adv[j]
	}
	mean /= float64(len(lp))
	for j := range adv {
		adv[j] -= mean
	}
}

// Quantile is torch.quantile's default 'linear' interpolation on sorted
// values: position q·(n−1), interpolated between its neighbours.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// Result is one batch's selection.
type Result struct {
	// Mask holds I_i ∈ {0, 1}.
	Mask []float32
	// Lower and Upper are ℓ and u, the bounds on |c|.
	Lower, Upper float64
	Kept         int
}

// KeepRatio is the fraction of the batch kept.
func (r Result) KeepRatio() float64 { return float64(r.Kept) / float64(len(r.Mask)) }

// Select keeps the states whose |c_i| lies in [ℓ, u] (inclusive), ℓ and u
// the batch quantiles of |c|. mask must have len(c) entries.
func Select(c []float64, qLow, qHigh float64, mask []float32) Result {
	abs := make([]float64, len(c))
	for i, v := range c {
		abs[i] = math.Abs(v)
	}
	sorted := slices.Clone(abs)
	slices.Sort(sorted)
	r := Result{Mask: mask, Lower: Quantile(sorted, qLow), Upper: Quantile(sorted, qHigh)}
	for i, m := range abs {
		if m >= r.Lower && m <= r.Upper {
			mask[i] = 1
			r.Kept++
		} else {
			mask[i] = 0
		}
	}
	return r
}

// Weights turns a mask into the per-sample weights of the actor loss
// Σ_i w_i·(α log π(ã_i|s_i) − min_j Q_j(s_i, ã_i)): I_i/(ΣI + 1e−8) when
// normalising by the kept samples, else I_i/B.
func Weights(mask []float32, byKept bool, w []float32) {
	var kept float64
	for _, m := range mask {
		kept += float64(m)
	}
	den := float64(len(mask))
	if byKept {
		den = kept + 1e-8
	}
	for i, m := range mask {
		w[i] = float32(float64(m) / den)
	}
}

// TagStats is mean |c| of the samples carrying one tag (0 policy, 1 human
// or demonstration), and how many of them were kept.
type TagStats struct {
	Count, Kept int
	MeanAbsC    float64
}

// ByTag summarises |c| and the mask per tag (tags[i] ∈ {0, 1}).
func ByTag(c []float64, mask []float32, tags []uint8) [2]TagStats {
	var s [2]TagStats
	for i, v := range c {
		t := tags[i] & 1
		s[t].Count++
		s[t].MeanAbsC += math.Abs(v)
		if mask[i] != 0 {
			s[t].Kept++
		}
	}
	for t := range s {
		if s[t].Count > 0 {
			s[t].MeanAbsC /= float64(s[t].Count)
		}
	}
	return s
}
