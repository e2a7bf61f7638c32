package plugin

import "time"

// Calls name the plugin calls the way an experiment's [timeouts] table and the runner's
// messages name them; "start" is the launch and handshake.
const (
	CallStart     = "start"
	CallInfo      = "info"
	CallConfigure = "configure"
	CallCheckTask = "check_task"
	CallEmbed     = "embed"
	CallTrain     = "train"
	CallEvaluate  = "evaluate"
	CallFit       = "fit"
	CallGenerate  = "generate"
)

// DefaultTimeouts bound each call by the work it does, with a wide margin over what it
// takes in the default world on a laptop CPU: a plugin that answers nothing for that
// long is taken to be hung and is killed, failing only the work in flight on it. Real
// backbones on big data may need more; an experiment's [timeouts] table raises them.
var DefaultTimeouts = map[string]time.Duration{
	CallStart:     time.Minute,      // launch and handshake
	CallInfo:      time.Minute,      // a description of itself
	CallConfigure: 10 * time.Minute, // may load a checkpoint or word vectors
	CallCheckTask: 5 * time.Minute,  // may load a dataset
	CallEmbed:     10 * time.Minute, // every description of an experiment at once
	CallTrain:     2 * time.Hour,    // one expert or oracle
	CallEvaluate:  30 * time.Minute, // one adapter on one task's test data
	CallFit:       2 * time.Hour,    // a generator on a whole library
	CallGenerate:  30 * time.Minute, // the samples for one task
}
