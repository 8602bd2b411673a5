package configs

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// DefaultConfigName is the shipped config used when none is given.
const DefaultConfigName = "sim_touch_cube.json"

//go:embed *.json
var shipped embed.FS

// Shipped lists the example configs embedded in the binaries.
func Shipped() []string {
	entries, _ := shipped.ReadDir(".")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Loaded is a config plus what loading it had to say.
type Loaded struct {
	Config TrainConfig
	// Source is the file path, or "embedded:<name>".
	Source string
	// Warnings are LeRobot keys e2hil does not implement yet (ignored).
	Warnings []string
}

// LoadTrain reads a train config. path "" loads the shipped default
// (configs/sim_touch_cube.json, embedded). overrides are dotted assignments
// applied before decoding, e.g. "policy.utd_ratio=2" or
// "env.processor.reset.control_time_s=3"; values are parsed as JSON when
// they parse, else taken as strings.
func LoadTrain(path string, overrides []string) (*Loaded, error) {
	var data []byte
	var source string
	if path == "" {
		b, err := shipped.ReadFile(DefaultConfigName)
		if err != nil {
			return nil, fmt.Errorf("read embedded %s: %w", DefaultConfigName, err)
		}
		data, source = b, "embedded:"+DefaultConfigName
	} else {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w (shipped configs: %s)", err, strings.Join(Shipped(), ", "))
		}
		data, source = b, path
	}
	l, err := decodeTrain(data, overrides)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	l.Source = source
	return l, nil
}

func decodeTrain(data []byte, overrides []string) (*Loaded, error) {
	var generic map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	if generic == nil {
		return nil, errors.New("parse JSON: top level must be an object")
	}
	for _, o := range overrides {
		if err := applyOverride(generic, o); err != nil {
			return nil, err
		}
	}
	l := &Loaded{Config: DefaultTrainConfig()}
	var unknown []string
	walkKeys(generic, reflect.TypeOf(l.Config), "", &unknown, &l.Warnings)
	if len(unknown) > 0 {
		return nil, &ValidationError{Problems: unknown}
	}
	norm, err := json.Marshal(generic)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(norm, &l.Config); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	// The generic round trip sorted the keys; camera order is input_features'.
	l.Config.Policy.InputFeatures = inputFeaturesInFileOrder(data, l.Config.Policy.InputFeatures)
	if err := l.Config.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// applyOverride sets a dotted path ("policy.utd_ratio=2") in a JSON object.
func applyOverride(root map[string]any, assignment string) error {
	key, raw, ok := strings.Cut(assignment, "=")
	if !ok || key == "" {
		return fmt.Errorf("override %q: want key.path=value", assignment)
	}
	var value any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&value); err != nil || dec.More() {
		value = raw // not JSON: a bare string
	}
	parts := strings.Split(key, ".")
	node := root
	for i, p := range parts[:len(parts)-1] {
		next, ok := node[p].(map[string]any)
		if !ok {
			if node[p] != nil {
				return fmt.Errorf("override %q: %s is not an object", assignment, strings.Join(parts[:i+1], "."))
			}
			next = map[string]any{}
			node[p] = next
		}
		node = next
	}
	node[parts[len(parts)-1]] = value
	return nil
}

// walkKeys reports keys of v that t has no field for: LeRobot keys e2hil
// does not implement yet become warnings, anything else an error.
func walkKeys(v any, t reflect.Type, path string, unknown, warnings *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return // a type error; json.Unmarshal reports it with the field name
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := join(path, k)
			ft, ok := fields[k]
			if !ok {
				if lerobotUnsupported[p] {
					*warnings = append(*warnings, p+": LeRobot key not implemented by e2hil yet; ignored")
				} else {
					*unknown = append(*unknown, p+": unknown key"+suggest(k, fields))
				}
				delete(obj, k)
				continue
			}
			walkKeys(obj[k], ft, p, unknown, warnings)
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return
		}
		for i, e := range arr {
			walkKeys(e, t.Elem(), path+"["+strconv.Itoa(i)+"]", unknown, warnings)
		}
	}
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// suggest proposes the closest known key for a typo.
func suggest(k string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for f := range fields {
		if d := editDistance(k, f); d < bestD || (d == bestD && f < best) {
			best, bestD = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// lerobotUnsupported lists LeRobot HIL-SERL keys that e2hil accepts with a
// warning because it does not implement them yet.
var lerobotUnsupported = setOf(
	"num_workers", "steps", "eval_freq", "wandb", "use_policy_training_preset", "optimizer",
	"scheduler", "cudnn_deterministic", "rename_map",
	"dataset.use_imagenet_stats", "dataset.episodes", "dataset.image_transforms", "dataset.revision",
	"dataset.video_backend", "dataset.streaming",
	"policy.n_obs_steps", "policy.repo_id",
	"policy.output_features", "policy.device", "policy.use_amp",
	"policy.storage_device",
	"policy.image_encoder_hidden_dim", "policy.online_env_seed",
	"policy.state_encoder_hidden_dim",
	"policy.async_prefetch",
	"policy.actor_learner_config.queue_get_timeout", "policy.concurrency", "policy.push_to_hub", "policy.pretrained_path",
	"policy.use_torch_compile", "policy.discrete_critic_network_kwargs",
	"policy.critic_network_kwargs.final_activation",
	"env.name", "env.mode", "env.repo_id", "env.dataset_root", "env.num_episodes", "env.episode",
	"env.pretrained_policy_name_or_path", "env.device", "env.push_to_hub", "env.features",
	"env.features_map", "env.wrapper", "env.teleop", "env.reward_classifier_pretrained_path",
	"env.max_parallel_tasks", "env.disable_env_checker",
	"env.processor.control_mode", "env.processor.observation", "env.processor.image_preprocessing",
)

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
