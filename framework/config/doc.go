// Package config reads sglab experiment files: TOML that names the plugins, the tasks,
// the zero-shot splits and the methods to compare. The runner calls [Load] first and
// works only from the resolved [Experiment] it returns.
//
// Loading is strict. An unknown key, a value of the wrong type or a broken rule is an
// error, and Load reports every problem it finds at once, each as
//
//	file:line: key: message
//
// for example
//
//	experiments/quickstart.toml:41: method[2].sampels: unknown key (did you mean "samples"?)
//
// Key paths count array elements and [[table]] sections from 0: method[2] is the third
// [[method]] of its file, seeds[1] the second seed. A problem with no line (a missing
// top-level key) leaves the line out. Errors inside an included file name that file.
//
// # The format
//
//	name = "quickstart"              # required; letters, digits, '.', '_', '-'
//	seeds = [1, 2, 3]                # required; non-empty, non-negative integers, no repeats
//	output = "out/quickstart"        # optional; default "out/<name>"; relative to the working directory
//	include = ["tasks/catalog.toml"] # optional; files holding only [[task]] tables, relative to this file
//	keep_adapters = "none"           # optional; "none", "best" (per novel task and seed, by the evaluator's primary headline metric) or "all":
//	                                 # scored adapters written as PEFT folders under
//	                                 # <output>/adapters/<split>/<method>/<task>/seed-<s>/sample-<i>/
//
//	[encoder]                        # required: text descriptions -> semantic vectors
//	plugin = "glove"                 # a built-in name ([a-z0-9-]+) or a path to an executable
//	sha256 = "…"                     # optional, only with a path; 64 hex digits, checked before launch
//	[encoder.params]                 # optional, free-form; handed to the plugin's Configure
//
//	[evaluator]                      # required: backbone, data, training and scoring; same keys as [encoder]
//	plugin = "miniclip"
//
//	[train]                          # optional: expert and oracle training
//	epochs = 20                      # default 20; 1 … 100000
//	snapshots = 10                   # default 10; 1 … 10000 and ≤ epochs: the last epochs whose adapters are kept
//	rank = 0                         # default 0, meaning the evaluator's default LoRA rank; 0 … 4096
//
//	[timeouts]                       # optional: how long each plugin call may take (Go durations)
//	start = "1m"                     # launch and handshake
//	info = "1m"                      # a plugin describing itself
//	configure = "10m"                # may load a checkpoint or word vectors
//	check_task = "5m"                # may load a dataset
//	embed = "10m"                    # every description at once
//	train = "2h"                     # one expert or oracle
//	evaluate = "30m"                 # one adapter on one task
//	fit = "2h"                       # a generator on a whole library
//	generate = "30m"                 # the samples for one task
//
//	[slurm]                          # optional: resources of `runner run --slurm` (flags override)
//	partition = "gpu"                # sbatch --partition; default: the cluster's
//	account = "lab"                  # sbatch --account; default: the cluster's
//	time = "2:00:00"                 # sbatch --time of each array task, Slurm's syntax
//	gres = "gpu:1"                   # sbatch --gres of each array task (its evaluator's GPU)
//	cpus_per_evaluator = 4           # default 1; 1 … 1024
//	evaluators = 1                   # evaluator processes per trial array task (its --jobs); default 1
//	shards = 0                       # array tasks sharing the trials; default 0: one per seed, split and method
//
//	[[task]]                         # at least one, here or in included files
//	id = "digits-rot45"              # required; unique across all files; letters, digits, '.', '_', '-'
//	description = "handwritten digits rotated by 45 degrees"  # required; all a generator ever sees
//	dataset = "digits"               # required
//	transforms = ["rotate(45)", "motion_blur(5, 0)"]          # optional; the domain, applied in order
//	adapters = ["bank/rot45-e19", "bank/rot45-e20"]           # optional; the expert as PEFT adapter folders
//	                                 # (relative to this file), one per snapshot, instead of training it;
//	                                 # checked against the evaluator's adapter schema when the run starts
//	[task.params]                    # optional, free-form; for the evaluator
//
//	[[split]]                        # at least one
//	name = "main"                    # required; unique; letters, digits, '.', '_', '-'
//	seen = ["digits-rot45", "digits-blur"]   # experts are trained on these
//	novel = ["digits-flip"]                  # LoRAs are generated for these
//
//	[[method]]                       # at least one
//	name = "SG-LoRA"                 # required; unique
//	generator = "sglora"             # a built-in name or a path, as for plugin above
//	sha256 = "…"                     # optional, only with a path
//	samples = 10                     # optional; default 1; 1 … 10000; adapters per novel task and seed
//	keep_adapters = "best"           # optional; overrides the experiment's for this method and its sweeps
//	[method.params]                  # optional, free-form; handed to the generator's Configure
//	top_k = 4
//
//	[[method]]
//	name = "Oracle"
//	reference = "oracle"             # instead of generator: "zero-shot" (bare backbone) or
//	                                 # "oracle" (a LoRA trained on the novel task itself);
//	                                 # references take no params, and samples must be 1
//
//	[[sweep]]                        # optional: a grid of variants of one generator method
//	method = "SG-LoRA"
//	[sweep.params]                   # each key a non-empty list of values
//	top_k = [1, 2, 4]
//	[sweep.train]                    # each of epochs, snapshots, rank a non-empty list
//	snapshots = [5, 10]
//
// Timeouts. The values shown are the defaults (plugin.DefaultTimeouts); each is positive
// and at most 7 days. A call with no answer within its bound (a hung plugin, even a
// SIGSTOPped one) is ended within the bound and a few seconds: the plugin process is
// killed, the work in flight on it fails with an error naming the call and the bound,
// and a fresh process takes the next work. The runner's --call-timeout overrides every
// bound at once and --start-timeout the start. Timeouts do not enter Hash.
//
// Limits. What an experiment asks must be able to run, so every size is bounded and a
// value past its bound is an error at its key: the experiment file and each included
// file are regular files of at most 4 MiB; names (the experiment, task ids, datasets,
// splits, methods, swept methods included) at most 200 bytes and descriptions 2000; at
// most 1000 seeds, 64 transforms per task, and 1,000,000 trials in all (seeds × the
// novel tasks of every split × samples, summed over the methods); the [train] and
// samples bounds are shown above. `runner validate` also checks what depends on the
// evaluator: a rank no adapted layer can hold (above min(in, out) of its smallest
// layer), and libraries or sample sets whose adapters would not fit in half the
// machine's memory.
//
// Plugins. A name without '/' is a built-in plugin and must match [a-z0-9-]+. A value with
// a '/' is the path of an executable; a relative path is taken from the folder of the
// TOML file that names it, and the file must exist. Only such a path may carry a sha256.
//
// Transforms are written name or name(arg, ...) with numeric arguments; see
// task.ParseTransform. Which names exist is up to the evaluator, which checks each task
// when the run starts.
//
// Split generators. Instead of seen and novel a split may give one of:
//
//	leave_one_out = ["a", "b", "c"]
//
// one split per listed task, named "<name>/<task>", with that task novel and the other
// listed tasks seen (at least two tasks); or
//
//	cross_dataset = { seen = "digits", novel = "fashion" }
//	cross_dataset = { seen = "digits", novel = "fashion", tasks = ["a", "b", "c"] }
//
// one split whose seen tasks are all tasks of dataset seen and whose novel tasks are all
// tasks of dataset novel, in task order; with tasks, only among those (each must belong to
// one of the two datasets). A split's seen and novel lists must each be non-empty and
// must not share a task; every task id must be defined.
//
// Sweeps. Every combination of the grid becomes a method named after its base and the
// swept values in key order, e.g. "SG-LoRA top_k=2 train.snapshots=5": training keys are
// written train.<key> so that they never clash with a generator parameter of the same
// name. Its params are the base method's params with the swept ones replaced, its
// training options are [train] with the swept ones replaced, and the base method stays
// too. Swept methods follow their base method in Experiment.Methods, the first key varying
// slowest. A grid may make at most 10000 methods.
//
// top_k. A generator parameter called top_k (in [method.params] or a sweep) may not exceed
// the number of seen tasks of any split: there would not be that many experts to pick.
//
// Parameters (the params tables) reach plugins as plain Go values: string, bool, int64,
// float64, []any and map[string]any. TOML date-times are not accepted there.
//
// [Experiment.Hash] identifies what an experiment computes, independent of file layout,
// comments and the output folder.
package config
