package driver

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
)

// process is a started plugin: a *rpc.Client, or an in-process fake in the stages'
// tests. A stage that starts or restarts plugins takes a function returning one.
type process interface {
	Label() string
	Exited() bool
	Kill()
	Encoder() plugin.Encoder
	Evaluator() plugin.Evaluator
	Generator() plugin.Generator
}

// startFunc starts and configures the plugin of kind that ref names, with env
// (KEY=VALUE) added to its environment.
type startFunc func(ctx context.Context, kind string, ref config.PluginRef, env ...string) (process, error)

// launcher starts the experiment's plugins as the options say (executables, timeouts,
// logger) and remembers what each plugin said of itself, for the rows' identities and
// the manifest.
type launcher struct {
	exp *config.Experiment
	opt Options
	man *Manifest // nil: plugins are not recorded (Check)

	mu  sync.Mutex
	ids map[string]*pluginIdentity // by identityKey
}

func newLauncher(exp *config.Experiment, opt Options, man *Manifest) *launcher {
	return &launcher{exp: exp, opt: opt.withDefaults(), man: man, ids: map[string]*pluginIdentity{}}
}

func (l *launcher) log() hclog.Logger { return l.opt.Log }

// configureSpec applies the experiment's timeouts (or the options' overrides) and the
// run's logger to a plugin's spec.
func (l *launcher) configureSpec(spec *rpc.Spec) {
	spec.Timeouts = l.exp.Timeouts
	if spec.Timeouts == nil {
		spec.Timeouts = plugin.DefaultTimeouts
	}
	spec.StartTimeout = spec.Timeouts[plugin.CallStart]
	if l.opt.StartTimeout > 0 {
		spec.StartTimeout = l.opt.StartTimeout
	}
	if l.opt.CallTimeout > 0 {
		spec.Timeouts, spec.CallTimeout = nil, l.opt.CallTimeout
	}
	spec.Logger = l.log().Named(spec.Label)
}

// start starts a plugin of kind from ref, with env (KEY=VALUE) added to its environment
// beside the experiment's folder (plugin.EnvExperimentDir), and checks it is of that kind.
func (l *launcher) start(ctx context.Context, kind string, ref config.PluginRef, env ...string) (*rpc.Client, plugin.Base, error) {
	spec, err := l.opt.Spec(kind, ref)
	if err != nil {
		return nil, nil, err
	}
	l.configureSpec(&spec)
	if dir, err := filepath.Abs(filepath.Dir(ref.File)); err == nil && ref.File != "" {
		spec.Env = append(spec.Env, plugin.EnvExperimentDir+"="+dir)
	}
	spec.Env = append(spec.Env, env...)
	c, err := l.opt.Host.Start(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	b := c.Base()
	info, err := b.Info(ctx)
	if err != nil {
		c.Kill()
		return nil, nil, err
	}
	if info.Kind != kind {
		c.Kill()
		return nil, nil, fmt.Errorf("plugin %s says it is a %q plugin, not a %s", spec.Label, info.Kind, kind)
	}
	if ref.Name != "" && info.Name != ref.Name {
		c.Kill()
		return nil, nil, fmt.Errorf("built-in %s %q says its name is %q: the registry (plugins/builtin) and the plugin's Info must agree", kind, ref.Name, info.Name)
	}
	if kind == plugin.KindEvaluator {
		ms, note := evaluatorMetrics(info)
		if note != "" {
			l.log().Warn("evaluator " + spec.Label + " " + note)
		}
		if err := ms.Check("evaluator " + spec.Label); err != nil {
			c.Kill()
			return nil, nil, fmt.Errorf("%w (an evaluator declares its metrics and headline in Info)", err)
		}
	}
	l.noteInfo(kind, ref, spec, info)
	return c, b, nil
}

// startConfigured starts a plugin of kind from ref, with env (KEY=VALUE) added to its
// environment, and hands it its parameters.
func (l *launcher) startConfigured(ctx context.Context, kind string, ref config.PluginRef, env ...string) (*rpc.Client, error) {
	c, b, err := l.start(ctx, kind, ref, env...)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %w", ref.File, ref.Line, err)
	}
	if err := b.Configure(ctx, ref.Params); err != nil {
		c.Kill()
		return nil, configureError(ref, err)
	}
	return c, nil
}

// configured is startConfigured as a startFunc.
func (l *launcher) configured(ctx context.Context, kind string, ref config.PluginRef, env ...string) (process, error) {
	c, err := l.startConfigured(ctx, kind, ref, env...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// noteInfo records what a started plugin said of itself, once per plugin reference: in
// the identity cache and in the manifest.
func (l *launcher) noteInfo(kind string, ref config.PluginRef, spec rpc.Spec, info plugin.Info) {
	key := identityKey(kind, ref)
	l.mu.Lock()
	_, known := l.ids[key]
	l.mu.Unlock()
	if known {
		return
	}
	id := &pluginIdentity{Name: info.Name, Version: info.Version, defaults: map[string]string{}}
	for _, p := range info.Params {
		id.defaults[p.Name] = p.Default
	}
	if sum, err := plugin.FileSHA256(spec.Path); err == nil {
		id.SHA256 = sum
	} else {
		id.err = fmt.Errorf("cannot digest %s: %w", spec.Path, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, known := l.ids[key]; known {
		return
	}
	l.ids[key] = id
	if l.man != nil {
		path := spec.Path
		if ref.Path == "" {
			// A built-in runs as the runner itself (a temporary file under go run): it is
			// named, and the manifest's runner version and commit say which build.
			path = "builtin:" + kind + "/" + ref.Name
		}
		l.man.addPlugin(PluginRecord{Kind: kind, Ref: ref.String(), Path: path, Name: info.Name, Version: info.Version, SHA256: id.SHA256})
	}
}

// identify returns the identity of the plugin ref names, starting it once to ask its
// Info when no process of it has run yet.
func (l *launcher) identify(ctx context.Context, kind string, ref config.PluginRef) *pluginIdentity {
	key := identityKey(kind, ref)
	l.mu.Lock()
	id := l.ids[key]
	l.mu.Unlock()
	if id != nil {
		return id
	}
	c, _, err := l.start(ctx, kind, ref) // which notes its identity
	if err == nil {
		c.Kill()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if id := l.ids[key]; id != nil {
		return id
	}
	id = &pluginIdentity{err: err}
	l.ids[key] = id
	return id
}

// identity is identify for the rows' identities, which are judged after the plugins
// were started (and so never start one unless it could not be identified).
func (l *launcher) identity(kind string, ref config.PluginRef) *pluginIdentity {
	return l.identify(context.Background(), kind, ref)
}

// identifyGenerators identifies every plugin the methods name (the encoder and the
// evaluators are identified when setUp starts them).
func (l *launcher) identifyGenerators(ctx context.Context) {
	for _, m := range l.exp.Methods {
		if m.Generator != nil {
			if id := l.identify(ctx, plugin.KindGenerator, *m.Generator); id.err != nil && ctx.Err() == nil {
				l.log().Warn("cannot identify a generator; its trials run again and fail with the reason", "method", m.Name, "error", id.err)
			}
		}
	}
}
