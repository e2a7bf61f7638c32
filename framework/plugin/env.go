package plugin

// Environment variables the runner sets for every plugin process it starts, so that
// plugins in any language can read them before Configure.
const (
	// EnvExperimentDir is the absolute folder of the experiment file that names the
	// plugin: a plugin takes relative paths in its parameters (weights, data folders)
	// from there, as the runner takes plugin paths.
	EnvExperimentDir = "SGLAB_EXPERIMENT_DIR"
	// EnvWorkerIndex is an evaluator process's index among the run's evaluator
	// processes (0 … jobs−1; a restarted process keeps its index), e.g. for handing out
	// GPUs round-robin. Other plugins, and the evaluator Check starts, get 0.
	EnvWorkerIndex = "SGLAB_WORKER_INDEX"
)
