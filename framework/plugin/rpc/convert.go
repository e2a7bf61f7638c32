package rpc

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	pb "github.com/sglab/sglab/framework/plugin/proto"
	"github.com/sglab/sglab/framework/task"
)

func infoToPB(in plugin.Info) *pb.Info {
	out := &pb.Info{
		Kind: in.Kind, Name: in.Name, Version: in.Version, Description: in.Description,
		Schema: schemaToPB(in.Schema), Datasets: in.Datasets, Transforms: in.Transforms,
		Backbone: in.Backbone, Headline: in.Headline,
	}
	for _, p := range in.Params {
		out.Params = append(out.Params, &pb.Param{Name: p.Name, Type: p.Type, Default: p.Default, Doc: p.Doc,
			Min: p.Min, Max: p.Max, Above: p.Above, Below: p.Below, OneOf: p.OneOf})
	}
	for _, m := range in.Metrics {
		out.Metrics = append(out.Metrics, m.Name) // for runners older than metric_specs
		out.MetricSpecs = append(out.MetricSpecs, &pb.Metric{Name: m.Name, Description: m.Description, LowerIsBetter: m.LowerIsBetter})
	}
	return out
}

func infoFromPB(in *pb.Info) plugin.Info {
	out := plugin.Info{
		Kind: in.GetKind(), Name: in.GetName(), Version: in.GetVersion(), Description: in.GetDescription(),
		Schema: schemaFromPB(in.GetSchema()), Datasets: in.GetDatasets(), Transforms: in.GetTransforms(),
		Backbone: in.GetBackbone(), Headline: in.GetHeadline(),
	}
	for _, p := range in.GetParams() {
		out.Params = append(out.Params, plugin.Param{Name: p.GetName(), Type: p.GetType(), Default: p.GetDefault(), Doc: p.GetDoc(),
			Min: p.GetMin(), Max: p.GetMax(), Above: p.GetAbove(), Below: p.GetBelow(), OneOf: p.GetOneOf()})
	}
	for _, m := range in.GetMetricSpecs() {
		out.Metrics = append(out.Metrics, plugin.Metric{Name: m.GetName(), Description: m.GetDescription(), LowerIsBetter: m.GetLowerIsBetter()})
	}
	if len(in.GetMetricSpecs()) == 0 { // a plugin older than metric_specs: names only
		for _, name := range in.GetMetrics() {
			out.Metrics = append(out.Metrics, plugin.Metric{Name: name})
		}
	}
	return out
}

func schemaToPB(s lora.Schema) []*pb.Module {
	out := make([]*pb.Module, len(s))
	for i, m := range s {
		out[i] = &pb.Module{Name: m.Name, In: int64(m.In), Out: int64(m.Out), Rank: int64(m.Rank), Alpha: m.Alpha}
	}
	return out
}

func schemaFromPB(s []*pb.Module) lora.Schema {
	if len(s) == 0 {
		return nil
	}
	out := make(lora.Schema, len(s))
	for i, m := range s {
		out[i] = lora.Module{Name: m.GetName(), In: int(m.GetIn()), Out: int(m.GetOut()), Rank: int(m.GetRank()), Alpha: m.GetAlpha()}
	}
	return out
}

func paramsToJSON(p plugin.Params) (string, error) {
	if p == nil {
		p = plugin.Params{}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("parameters cannot be encoded: %w", err)
	}
	return string(b), nil
}

func paramsFromJSON(s string) (plugin.Params, error) {
	p := plugin.Params{}
	if s == "" {
		return p, nil
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("parameters are not a JSON object: %w", err)
	}
	return p, nil
}

func taskToPB(t task.Task) (*pb.Task, error) {
	params, err := paramsToJSON(t.Params)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", t.ID, err)
	}
	out := &pb.Task{Id: t.ID, Description: t.Description, Dataset: t.Dataset, ParamsJson: params}
	for _, tr := range t.Domain {
		out.Domain = append(out.Domain, &pb.Transform{Name: tr.Name, Args: tr.Args})
	}
	return out, nil
}

func taskFromPB(t *pb.Task) (task.Task, error) {
	params, err := paramsFromJSON(t.GetParamsJson())
	if err != nil {
		return task.Task{}, fmt.Errorf("task %s: %w", t.GetId(), err)
	}
	out := task.Task{ID: t.GetId(), Description: t.GetDescription(), Dataset: t.GetDataset(), Params: params}
	for _, tr := range t.GetDomain() {
		out.Domain = append(out.Domain, task.Transform{Name: tr.GetName(), Args: tr.GetArgs()})
	}
	return out, nil
}

// checkVector rejects NaN and infinities, which no plugin may hand back.
func checkVector(v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("value %d is %v", i, x)
		}
	}
	return nil
}

func checkMetrics(m map[string]float64) error {
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("metric %q is %v", k, v)
		}
	}
	return nil
}
