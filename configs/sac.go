package configs

import "strings"

// SACConfig mirrors LeRobot's SACConfig (policy.type "sac"), with HIL-SERL's
// key names. Defaults are LeRobot's v0.5.1 defaults unless noted.
type SACConfig struct {
	Type string `json:"type"`

	// Online collection.
	OnlineSteps              int `json:"online_steps"`
	OnlineBufferCapacity     int `json:"online_buffer_capacity"`
	OnlineStepBeforeLearning int `json:"online_step_before_learning"`
	// OfflineBufferCapacity bounds the demonstration/intervention buffer.
	OfflineBufferCapacity int `json:"offline_buffer_capacity"`

	// Learner.
	Discount        float64 `json:"discount"`
	TemperatureInit float64 `json:"temperature_init"`
	NumCritics      int     `json:"num_critics"`
	// NumSubsampleCritics, when set, takes the target's min over that many
	// critics drawn at random per update (REDQ); null: all critics.
	NumSubsampleCritics      *int     `json:"num_subsample_critics"`
	CriticLR                 float64  `json:"critic_lr"`
	ActorLR                  float64  `json:"actor_lr"`
	TemperatureLR            float64  `json:"temperature_lr"`
	CriticTargetUpdateWeight float64  `json:"critic_target_update_weight"`
	UTDRatio                 int      `json:"utd_ratio"`
	PolicyUpdateFreq         int      `json:"policy_update_freq"`
	LatentDim                int      `json:"latent_dim"`
	TargetEntropy            *float64 `json:"target_entropy"` // null → −|A|/2
	UseBackupEntropy         bool     `json:"use_backup_entropy"`
	GradClipNorm             float64  `json:"grad_clip_norm"`
	// NormalizationMapping is LeRobot's {feature type: mode}; e2hil reads
	// "STATE" ("MIN_MAX" default, or "MEAN_STD").
	NormalizationMapping map[string]string `json:"normalization_mapping"`
	// DatasetStats overrides per-feature stats ("observation.state": {"min":
	// […], "max": […]} or {"mean", "std"}); otherwise the demonstration
	// dataset's meta/stats.json, else the environment's bounds.
	DatasetStats map[string]map[string][]float64 `json:"dataset_stats"`
	// NumDiscreteActions enables the discrete gripper critic (3: close,
	// stay, open); null disables it.
	NumDiscreteActions *int `json:"num_discrete_actions"`

	// E2HiL (shared/design/E2HIL.md): SampleSelection "none" is HIL-SERL's
	// actor update; "e2hil" keeps, per batch, the states whose predicted
	// entropy influence |c| lies between the QuantileLow and QuantileHigh
	// quantiles, estimated from KSamples policy actions per state.
	// NormalizeBy "kept" divides the masked actor loss by the kept count
	// (the released code), "batch" by the batch size (the paper's Eq. 3).
	SampleSelection string  `json:"sample_selection"`
	KSamples        int     `json:"k_samples"`
	QuantileLow     float64 `json:"quantile_low"`
	QuantileHigh    float64 `json:"quantile_high"`
	NormalizeBy     string  `json:"normalize_by"`

	// Image path (HILSERL.md §1.1–1.2). InputFeatures lists the policy's
	// inputs as LeRobot's input_features; its camera entries (keys starting
	// with observation.image, type VISUAL, shape [3, H, W]) are encoded, in
	// that order, each by the frozen backbone VisionEncoderName (a local
	// directory with helper2424/resnet10 weights; null: the user's own
	// ResNet-10) → spatial embeddings (ImageEmbeddingPoolingDim per channel)
	// → Dropout(0.1) → Linear → LayerNorm → Tanh. No camera entries (or
	// null): state only.
	InputFeatures            Features `json:"input_features"`
	VisionEncoderName        *string  `json:"vision_encoder_name"`
	FreezeVisionEncoder      bool     `json:"freeze_vision_encoder"`
	SharedEncoder            bool     `json:"shared_encoder"`
	ImageEmbeddingPoolingDim int      `json:"image_embedding_pooling_dim"`
	// ImageFeatureCache (e2hil) keeps the frozen backbone's features per
	// observation in the replay buffers, computed once when a transition
	// arrives, so a learner iteration costs the same for any image size;
	// false stores uint8 images and runs the backbone on every batch (what
	// LeRobot does). Default true: on a CPU the backbone dominates otherwise.
	ImageFeatureCache bool `json:"image_feature_cache"`
	// DrQCachedCopies (e2hil) is how many DrQ-shifted versions (pad 4) of
	// each observation the cache keeps, one drawn per sample; 0 keeps the
	// unshifted features only (no augmentation). The uncached mode always
	// shifts every sampled image, as LeRobot.
	DrQCachedCopies int `json:"drq_cached_copies"`
	// FeatureCacheMaxGiB (e2hil) bounds the camera storage of both replay
	// buffers together; Validate reports capacities that exceed it.
	FeatureCacheMaxGiB float64 `json:"feature_cache_max_gib"`

	CriticNetworkKwargs CriticNetworkConfig `json:"critic_network_kwargs"`
	ActorNetworkKwargs  ActorNetworkConfig  `json:"actor_network_kwargs"`
	PolicyKwargs        PolicyKwargs        `json:"policy_kwargs"`
	ActorLearnerConfig  ActorLearnerConfig  `json:"actor_learner_config"`
}

// CriticNetworkConfig mirrors LeRobot's CriticNetworkConfig.
type CriticNetworkConfig struct {
	HiddenDims    []int `json:"hidden_dims"`
	ActivateFinal bool  `json:"activate_final"`
}

// ActorNetworkConfig mirrors LeRobot's ActorNetworkConfig.
type ActorNetworkConfig struct {
	HiddenDims    []int `json:"hidden_dims"`
	ActivateFinal bool  `json:"activate_final"`
}

// PolicyKwargs mirrors LeRobot's PolicyConfig (policy_kwargs).
type PolicyKwargs struct {
	UseTanhSquash bool    `json:"use_tanh_squash"`
	StdMin        float64 `json:"std_min"`
	StdMax        float64 `json:"std_max"`
	InitFinal     float64 `json:"init_final"`
}

// DefaultSACConfig returns LeRobot's SACConfig defaults.
func DefaultSACConfig() SACConfig {
	return SACConfig{
		Type:                     "sac",
		OnlineSteps:              1_000_000,
		OnlineBufferCapacity:     100_000,
		OnlineStepBeforeLearning: 100,
		OfflineBufferCapacity:    100_000,
		Discount:                 0.99,
		TemperatureInit:          1.0,
		NumCritics:               2,
		CriticLR:                 3e-4,
		ActorLR:                  3e-4,
		TemperatureLR:            3e-4,
		CriticTargetUpdateWeight: 0.005,
		UTDRatio:                 1,
		PolicyUpdateFreq:         1,
		LatentDim:                256,
		UseBackupEntropy:         true,
		GradClipNorm:             40,
		CriticNetworkKwargs:      CriticNetworkConfig{HiddenDims: []int{256, 256}, ActivateFinal: true},
		ActorNetworkKwargs:       ActorNetworkConfig{HiddenDims: []int{256, 256}, ActivateFinal: true},
		PolicyKwargs:             PolicyKwargs{UseTanhSquash: true, StdMin: 1e-5, StdMax: 10, InitFinal: 0.05},
		SampleSelection:          SelectionNone,
		KSamples:                 8,
		QuantileLow:              0.05,
		QuantileHigh:             0.90,
		NormalizeBy:              NormalizeByKept,
		FreezeVisionEncoder:      true,
		SharedEncoder:            true,
		ImageEmbeddingPoolingDim: 8,
		ImageFeatureCache:        true,
		FeatureCacheMaxGiB:       8,
		ActorLearnerConfig:       DefaultActorLearnerConfig(),
	}
}

// Sample selection modes and loss normalisations.
const (
	SelectionNone    = "none"
	SelectionE2HiL   = "e2hil"
	NormalizeByKept  = "kept"
	NormalizeByBatch = "batch"
)

// Discrete is the number of discrete gripper actions (0: no discrete critic).
func (c *SACConfig) Discrete() int {
	if c.NumDiscreteActions == nil {
		return 0
	}
	return *c.NumDiscreteActions
}

// TargetEntropyFor returns the configured target entropy, or LeRobot's
// default −(continuous action dims + 1 if a discrete critic)/2.
func (c *SACConfig) TargetEntropyFor(actionDim int) float64 {
	if c.TargetEntropy != nil {
		return *c.TargetEntropy
	}
	if c.Discrete() > 0 {
		actionDim++
	}
	return -float64(actionDim) / 2
}

func (c *SACConfig) validate() Problems {
	var p Problems
	p.check(c.Type == "sac", "type", `must be "sac", got %q`, c.Type)
	p.check(c.OnlineSteps >= 1, "online_steps", "must be ≥ 1, got %d", c.OnlineSteps)
	p.check(c.OnlineBufferCapacity >= 1, "online_buffer_capacity", "must be ≥ 1, got %d", c.OnlineBufferCapacity)
	p.check(c.OnlineStepBeforeLearning >= 1, "online_step_before_learning", "must be ≥ 1, got %d", c.OnlineStepBeforeLearning)
	p.check(c.Discount > 0 && c.Discount <= 1, "discount", "must be in (0, 1], got %g", c.Discount)
	p.check(c.TemperatureInit > 0, "temperature_init", "must be > 0, got %g", c.TemperatureInit)
	p.check(c.NumCritics >= 2, "num_critics", "must be ≥ 2, got %d", c.NumCritics)
	if n := c.NumSubsampleCritics; n != nil {
		p.check(*n >= 1 && *n <= c.NumCritics, "num_subsample_critics", "must be null or in [1, num_critics=%d], got %d", c.NumCritics, *n)
	}
	for _, lr := range []struct {
		path string
		v    float64
	}{{"critic_lr", c.CriticLR}, {"actor_lr", c.ActorLR}, {"temperature_lr", c.TemperatureLR}} {
		p.check(lr.v > 0 && lr.v < 1, lr.path, "must be in (0, 1), got %g", lr.v)
	}
	p.check(c.CriticTargetUpdateWeight > 0 && c.CriticTargetUpdateWeight <= 1, "critic_target_update_weight",
		"must be in (0, 1], got %g", c.CriticTargetUpdateWeight)
	p.check(c.UTDRatio >= 1, "utd_ratio", "must be ≥ 1, got %d", c.UTDRatio)
	p.check(c.PolicyUpdateFreq >= 1, "policy_update_freq", "must be ≥ 1, got %d", c.PolicyUpdateFreq)
	p.check(c.LatentDim >= 1, "latent_dim", "must be ≥ 1, got %d", c.LatentDim)
	p.check(c.GradClipNorm > 0, "grad_clip_norm", "must be > 0, got %g", c.GradClipNorm)
	checkDims(&p, "critic_network_kwargs.hidden_dims", c.CriticNetworkKwargs.HiddenDims)
	checkDims(&p, "actor_network_kwargs.hidden_dims", c.ActorNetworkKwargs.HiddenDims)
	p.merge("actor_learner_config", c.ActorLearnerConfig.validate())
	k := c.PolicyKwargs
	p.check(k.UseTanhSquash, "policy_kwargs.use_tanh_squash", "must be true (the environment's actions are bounded)")
	p.check(k.StdMax > 0, "policy_kwargs.std_max", "must be > 0, got %g", k.StdMax)
	p.check(k.StdMin < k.StdMax, "policy_kwargs.std_min", "must be < std_max (%g), got %g", k.StdMax, k.StdMin)
	p.check(k.InitFinal > 0, "policy_kwargs.init_final", "must be > 0, got %g", k.InitFinal)
	for k, mode := range c.NormalizationMapping {
		p.check(mode == "MIN_MAX" || mode == "MEAN_STD" || mode == "IDENTITY", "normalization_mapping."+k,
			`must be "MIN_MAX", "MEAN_STD" or "IDENTITY", got %q`, mode)
	}
	if mode := c.NormalizationMapping["STATE"]; mode == "IDENTITY" {
		p.check(false, "normalization_mapping.STATE", "IDENTITY is not supported for observation.state; use MIN_MAX or MEAN_STD")
	}
	p.check(c.OfflineBufferCapacity >= 1, "offline_buffer_capacity", "must be ≥ 1, got %d", c.OfflineBufferCapacity)
	p.check(c.NumDiscreteActions == nil || *c.NumDiscreteActions >= 2, "num_discrete_actions",
		"must be null (no gripper critic) or ≥ 2 (3 for close/stay/open), got %d", c.Discrete())
	p.check(c.SampleSelection == SelectionNone || c.SampleSelection == SelectionE2HiL, "sample_selection",
		`must be "none" or "e2hil", got %q`, c.SampleSelection)
	if c.SampleSelection == SelectionE2HiL {
		p.check(c.KSamples >= 2, "k_samples", "must be ≥ 2, got %d", c.KSamples)
		p.check(c.QuantileLow >= 0 && c.QuantileLow <= c.QuantileHigh, "quantile_low", "must be in [0, quantile_high=%g], got %g", c.QuantileHigh, c.QuantileLow)
		p.check(c.QuantileHigh <= 1, "quantile_high", "must be ≤ 1, got %g", c.QuantileHigh)
		p.check(c.NormalizeBy == NormalizeByKept || c.NormalizeBy == NormalizeByBatch, "normalize_by",
			`must be "kept" or "batch", got %q`, c.NormalizeBy)
	}
	p = append(p, c.validateImages()...)
	return p
}

// ImageDropout is the post-encoder dropout rate of the camera encoders
// (LeRobot's, fixed).
const ImageDropout = 0.1

// meanEpisodeForMemory is the episode length the memory bound assumes: the
// buffers' default observation slots hold capacity·(1 + 1/8) observations.
const meanEpisodeForMemory = 8

// ImageBytesPerTransition is the camera storage of one transition in the
// replay buffers: per observation, each camera's ResNet-10 feature map in
// float16 times the cached copies (cache on), or its 3·H·W image bytes (cache
// off), times 1 + 1/8 (observations shared along episodes of ≥ 8 steps).
// 0 without cameras.
func (c *SACConfig) ImageBytesPerTransition() float64 {
	var slot int
	for _, f := range c.InputFeatures.Images() {
		if len(f.Shape) != 3 {
			continue
		}
		if c.ImageFeatureCache {
			ch, h, w := ResNet10FeatureShape(f.Shape[1], f.Shape[2])
			slot += 2 * ch * h * w * max(c.DrQCachedCopies, 1)
		} else {
			slot += f.Shape[0] * f.Shape[1] * f.Shape[2]
		}
	}
	return float64(slot) * (1 + 1.0/meanEpisodeForMemory)
}

func (c *SACConfig) validateImages() Problems {
	var p Problems
	for _, f := range c.InputFeatures {
		path := "input_features." + f.Name
		p.check(f.Type == FeatureVisual || f.Type == FeatureState || f.Type == FeatureEnv, path+".type",
			`must be "VISUAL", "STATE" or "ENV", got %q`, f.Type)
		isImage := strings.HasPrefix(f.Name, "observation.image")
		p.check(isImage == (f.Type == FeatureVisual), path+".type", "VISUAL goes with keys starting with observation.image (got %q for %s)", f.Type, f.Name)
		if isImage {
			ok := len(f.Shape) == 3 && f.Shape[0] == 3 && f.Shape[1] >= 32 && f.Shape[2] >= 32
			p.check(ok, path+".shape", "must be [3, H, W] with H, W ≥ 32 (RGB, at least one ResNet-10 feature), got %v", f.Shape)
		}
	}
	images := c.InputFeatures.Images()
	if len(images) == 0 {
		return p
	}
	p.check(c.ImageEmbeddingPoolingDim >= 1, "image_embedding_pooling_dim", "must be ≥ 1, got %d", c.ImageEmbeddingPoolingDim)
	p.check(c.SharedEncoder, "shared_encoder", "must be true: e2hil's actor always reads the critics' encoder (detached)")
	p.check(c.FreezeVisionEncoder, "freeze_vision_encoder", "must be true: the SAC learner does not train the backbone (train it with e2hil reward train)")
	p.check(c.DrQCachedCopies >= 0 && c.DrQCachedCopies <= 16, "drq_cached_copies", "must be in [0, 16], got %d", c.DrQCachedCopies)
	p.check(c.FeatureCacheMaxGiB > 0, "feature_cache_max_gib", "must be > 0, got %g", c.FeatureCacheMaxGiB)
	if per := c.ImageBytesPerTransition(); per > 0 && c.FeatureCacheMaxGiB > 0 {
		total := per * float64(c.OnlineBufferCapacity+c.OfflineBufferCapacity)
		limit := c.FeatureCacheMaxGiB * (1 << 30)
		p.check(total <= limit, "online_buffer_capacity",
			"with offline_buffer_capacity %d needs %.1f GiB of camera storage (%.0f KiB per transition), more than feature_cache_max_gib %g: at most %d transitions in both buffers together",
			c.OfflineBufferCapacity, total/(1<<30), per/1024, c.FeatureCacheMaxGiB, int(limit/per))
	}
	return p
}

func checkDims(p *Problems, path string, dims []int) {
	p.check(len(dims) >= 1, path, "must list at least one hidden layer")
	for i, d := range dims {
		p.check(d >= 1, path, "[%d] must be ≥ 1, got %d", i, d)
	}
}
