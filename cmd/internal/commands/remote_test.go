package commands

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/e2hil/e2hil/internal/testtool"
	"github.com/e2hil/e2hil/transport"
)

// runRemote runs `e2hil args…` in-process until ctx ends.
func runRemote(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	app := NewApp("e2hil", "test", Learn(), Actor())
	var o, e bytes.Buffer
	app.Writer, app.ErrWriter = &o, &e
	err = app.RunContext(ctx, append([]string{"e2hil"}, args...))
	return o.String(), e.String(), err
}

func smallNets(port int) []string {
	return []string{
		"--set", "policy.actor_learner_config.learner_port=" + strconv.Itoa(port),
		"--set", "policy.actor_learner_config.policy_parameters_push_frequency=0.2",
		"--set", "policy.online_step_before_learning=20", "--set", "batch_size=8", "--set", "policy.latent_dim=8",
		"--set", "policy.actor_network_kwargs.hidden_dims=[8]", "--set", "policy.critic_network_kwargs.hidden_dims=[8]",
	}
}

// TestLearnAndActor: `e2hil learn` and `e2hil actor` with a token file:
// the actor runs its episodes on the learner's policies, the learner
// receives every transition and exports its policy on Ctrl-C.
func TestLearnAndActor(t *testing.T) {
	testtool.RequireORT(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	lctx, stopLearner := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var lout, lerr string
	var learnErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		lout, lerr, learnErr = runRemote(lctx, append([]string{"learn", "--output_dir", filepath.Join(dir, "out"), "--token_file", tokenFile}, smallNets(port)...)...)
	}()
	aout, aerr, err := runRemote(ctx, append([]string{"actor", "--episodes", "2", "--fast", "--actor_id", "arm-1", "--token_file", tokenFile}, smallNets(port)...)...)
	stopLearner()
	wg.Wait()
	if err != nil {
		t.Fatalf("actor: %v\n%s\n%s", err, aout, aerr)
	}
	if learnErr != nil {
		t.Fatalf("learn: %v\n%s\n%s", learnErr, lout, lerr)
	}
	if !strings.Contains(aout, "actor arm-1: 100 transitions sent, 0 dropped, 0 unsent") {
		t.Errorf("actor output:\n%s", aout)
	}
	if !strings.Contains(lout, "received 100 transitions") || !strings.Contains(lout, "policy.onnx") {
		t.Errorf("learner output:\n%s", lout)
	}
}

// TestLearnRefusesOpenBindWithoutToken: a non-loopback learner_host needs
// a token.
func TestLearnRefusesOpenBindWithoutToken(t *testing.T) {
	t.Setenv(transport.TokenEnv, "")
	_, _, err := runRemote(context.Background(), "learn", "--output_dir", t.TempDir(),
		"--set", "policy.actor_learner_config.learner_host=0.0.0.0")
	if err == nil || !strings.Contains(err.Error(), "token is mandatory") {
		t.Errorf("err = %v, want the token to be demanded", err)
	}
}
