package rpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	pb "github.com/sglab/sglab/framework/plugin/proto"
	"github.com/sglab/sglab/framework/task"
)

var evaluatorKind = kind{
	name:   plugin.KindEvaluator,
	serves: func(b plugin.Base) bool { _, ok := b.(plugin.Evaluator); return ok },
	register: func(s *grpc.Server, b plugin.Base) {
		pb.RegisterEvaluatorServer(s, &evaluatorServer{baseServer: baseServer{b}, impl: b.(plugin.Evaluator)})
	},
	client: func(conn *grpc.ClientConn, host *Client) plugin.Base {
		c := pb.NewEvaluatorClient(conn)
		return &evaluatorClient{baseClient: baseClient{c, host}, c: c}
	},
}

type evaluatorServer struct {
	baseServer
	evaluatorUnimplemented
	impl plugin.Evaluator
}

// evaluatorUnimplemented keeps the generated UnimplementedEvaluatorServer below baseServer.
type evaluatorUnimplemented struct {
	pb.UnimplementedEvaluatorServer
}

func (s *evaluatorServer) CheckTask(ctx context.Context, req *pb.Task) (*pb.Empty, error) {
	t, err := taskFromPB(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.Empty{}, s.impl.CheckTask(ctx, t)
}

func (s *evaluatorServer) Train(ctx context.Context, req *pb.TrainRequest) (*pb.TrainResponse, error) {
	t, err := taskFromPB(req.GetTask())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	opts := plugin.TrainOptions{Epochs: int(req.GetEpochs()), Snapshots: int(req.GetSnapshots()), Rank: int(req.GetRank()), InitSeed: req.GetInitSeed()}
	res, err := s.impl.Train(ctx, t, req.GetSeed(), opts, req.GetOutputPath())
	if err != nil {
		return nil, err
	}
	return &pb.TrainResponse{Snapshots: int64(res.Snapshots), Metrics: res.Metrics}, nil
}

func (s *evaluatorServer) Evaluate(ctx context.Context, req *pb.EvaluateRequest) (*pb.Metrics, error) {
	t, err := taskFromPB(req.GetTask())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var a *lora.Adapter
	if req.GetAdapter() != nil {
		info, err := s.impl.Info(ctx)
		if err != nil {
			return nil, err
		}
		if a, err = lora.FromFlat(info.Schema, req.GetAdapter().GetParams()); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	m, err := s.impl.Evaluate(ctx, t, a, req.GetSeed())
	if err != nil {
		return nil, err
	}
	return &pb.Metrics{Values: m}, nil
}

type evaluatorClient struct {
	baseClient
	c pb.EvaluatorClient
}

func (c *evaluatorClient) CheckTask(ctx context.Context, t task.Task) error {
	req, err := taskToPB(t)
	if err != nil {
		return c.host.callError("CheckTask("+t.ID+")", err)
	}
	_, err = c.c.CheckTask(ctx, req)
	return err
}

func (c *evaluatorClient) Train(ctx context.Context, t task.Task, seed uint64, opts plugin.TrainOptions, outPath string) (plugin.TrainResult, error) {
	call := "Train(" + t.ID + ")"
	pt, err := taskToPB(t)
	if err != nil {
		return plugin.TrainResult{}, c.host.callError(call, err)
	}
	resp, err := c.c.Train(ctx, &pb.TrainRequest{Task: pt, Seed: seed, Epochs: int64(opts.Epochs),
		Snapshots: int64(opts.Snapshots), Rank: int64(opts.Rank), OutputPath: outPath, InitSeed: opts.InitSeed})
	if err != nil {
		return plugin.TrainResult{}, err
	}
	if err := checkMetrics(resp.GetMetrics()); err != nil {
		return plugin.TrainResult{}, c.host.badData(call, "%v", err)
	}
	return plugin.TrainResult{Snapshots: int(resp.GetSnapshots()), Metrics: resp.GetMetrics()}, nil
}

func (c *evaluatorClient) Evaluate(ctx context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	call := "Evaluate(" + t.ID + ")"
	pt, err := taskToPB(t)
	if err != nil {
		return nil, c.host.callError(call, err)
	}
	req := &pb.EvaluateRequest{Task: pt, Seed: seed}
	if a != nil {
		req.Adapter = &pb.Adapter{Params: a.Params}
	}
	resp, err := c.c.Evaluate(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := checkMetrics(resp.GetValues()); err != nil {
		return nil, c.host.badData(call, "%v", err)
	}
	if resp.GetValues() == nil {
		return map[string]float64{}, nil
	}
	return resp.GetValues(), nil
}
