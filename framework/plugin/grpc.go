package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sglab/sglab/framework/lora"
	pb "github.com/sglab/sglab/framework/plugin/proto"
	"github.com/sglab/sglab/framework/task"
)

// RemoteError is an error the plugin itself returned (it said no), as opposed to a
// transport failure (the plugin crashed, hung or vanished).
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// fromStatus turns a gRPC error into a RemoteError when the plugin returned it, and
// leaves transport failures as they are.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unknown, codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound:
		return &RemoteError{Msg: st.Message()}
	}
	return err
}

// toStatus keeps the plugin's message intact across the wire.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// ---- go-plugin glue --------------------------------------------------------------

type encoderPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl Encoder
}

func (p *encoderPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterEncoderServer(s, &encoderServer{impl: p.impl})
	return nil
}

func (p *encoderPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &encoderClient{c: pb.NewEncoderClient(c)}, nil
}

type evaluatorPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl Evaluator
}

func (p *evaluatorPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterEvaluatorServer(s, &evaluatorServer{impl: p.impl})
	return nil
}

func (p *evaluatorPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &evaluatorClient{c: pb.NewEvaluatorClient(c)}, nil
}

type generatorPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl Generator
}

func (p *generatorPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterGeneratorServer(s, &generatorServer{impl: p.impl})
	return nil
}

func (p *generatorPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &generatorClient{c: pb.NewGeneratorClient(c)}, nil
}

// ---- shared calls ----------------------------------------------------------------

func serveInfo(ctx context.Context, b Base) (*pb.Info, error) {
	in, err := b.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return infoToPB(in), nil
}

func serveConfigure(ctx context.Context, b Base, req *pb.ConfigureRequest) (*pb.Empty, error) {
	p, err := paramsFromJSON(req.GetParamsJson())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.Empty{}, toStatus(b.Configure(ctx, p))
}

func callInfo(ctx context.Context, f func(context.Context, *pb.Empty, ...grpc.CallOption) (*pb.Info, error)) (Info, error) {
	in, err := f(ctx, &pb.Empty{})
	if err != nil {
		return Info{}, fromStatus(err)
	}
	return infoFromPB(in), nil
}

func callConfigure(ctx context.Context, p Params, f func(context.Context, *pb.ConfigureRequest, ...grpc.CallOption) (*pb.Empty, error)) error {
	js, err := paramsToJSON(p)
	if err != nil {
		return err
	}
	_, err = f(ctx, &pb.ConfigureRequest{ParamsJson: js})
	return fromStatus(err)
}

// ---- encoder ----------------------------------------------------------------------

type encoderServer struct {
	pb.UnimplementedEncoderServer
	impl Encoder
}

func (s *encoderServer) Info(ctx context.Context, _ *pb.Empty) (*pb.Info, error) {
	return serveInfo(ctx, s.impl)
}

func (s *encoderServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.Empty, error) {
	return serveConfigure(ctx, s.impl, req)
}

func (s *encoderServer) Embed(ctx context.Context, req *pb.EmbedRequest) (*pb.EmbedResponse, error) {
	vs, err := s.impl.Embed(ctx, req.GetTexts())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.EmbedResponse{Vectors: make([]*pb.Vector, len(vs))}
	for i, v := range vs {
		out.Vectors[i] = &pb.Vector{Values: v}
	}
	return out, nil
}

type encoderClient struct{ c pb.EncoderClient }

func (c *encoderClient) Info(ctx context.Context) (Info, error) { return callInfo(ctx, c.c.Info) }

func (c *encoderClient) Configure(ctx context.Context, p Params) error {
	return callConfigure(ctx, p, c.c.Configure)
}

func (c *encoderClient) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	resp, err := c.c.Embed(ctx, &pb.EmbedRequest{Texts: texts})
	if err != nil {
		return nil, fromStatus(err)
	}
	if len(resp.GetVectors()) != len(texts) {
		return nil, fmt.Errorf("bad data: %d vectors for %d texts", len(resp.GetVectors()), len(texts))
	}
	out := make([][]float32, len(texts))
	for i, v := range resp.GetVectors() {
		out[i] = v.GetValues()
		if len(out[i]) == 0 || len(out[i]) != len(out[0]) {
			return nil, fmt.Errorf("bad data: vector %d has %d values, vector 0 has %d", i, len(out[i]), len(out[0]))
		}
		if err := checkVector(fmt.Sprintf("bad data: vector %d (text %q)", i, texts[i]), out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ---- evaluator ---------------------------------------------------------------------

type evaluatorServer struct {
	pb.UnimplementedEvaluatorServer
	impl Evaluator
}

func (s *evaluatorServer) Info(ctx context.Context, _ *pb.Empty) (*pb.Info, error) {
	return serveInfo(ctx, s.impl)
}

func (s *evaluatorServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.Empty, error) {
	return serveConfigure(ctx, s.impl, req)
}

func (s *evaluatorServer) CheckTask(ctx context.Context, req *pb.Task) (*pb.Empty, error) {
	t, err := taskFromPB(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.Empty{}, toStatus(s.impl.CheckTask(ctx, t))
}

func (s *evaluatorServer) Train(ctx context.Context, req *pb.TrainRequest) (*pb.TrainResponse, error) {
	t, err := taskFromPB(req.GetTask())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	opts := TrainOptions{Epochs: int(req.GetEpochs()), Snapshots: int(req.GetSnapshots()), Rank: int(req.GetRank()), InitSeed: req.GetInitSeed()}
	res, err := s.impl.Train(ctx, t, req.GetSeed(), opts, req.GetOutputPath())
	if err != nil {
		return nil, toStatus(err)
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
			return nil, toStatus(err)
		}
		if a, err = lora.FromFlat(info.Schema, req.GetAdapter().GetParams()); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	m, err := s.impl.Evaluate(ctx, t, a, req.GetSeed())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.Metrics{Values: m}, nil
}

type evaluatorClient struct{ c pb.EvaluatorClient }

func (c *evaluatorClient) Info(ctx context.Context) (Info, error) { return callInfo(ctx, c.c.Info) }

func (c *evaluatorClient) Configure(ctx context.Context, p Params) error {
	return callConfigure(ctx, p, c.c.Configure)
}

func (c *evaluatorClient) CheckTask(ctx context.Context, t task.Task) error {
	req, err := taskToPB(t)
	if err != nil {
		return err
	}
	_, err = c.c.CheckTask(ctx, req)
	return fromStatus(err)
}

func (c *evaluatorClient) Train(ctx context.Context, t task.Task, seed uint64, opts TrainOptions, outPath string) (TrainResult, error) {
	pt, err := taskToPB(t)
	if err != nil {
		return TrainResult{}, err
	}
	resp, err := c.c.Train(ctx, &pb.TrainRequest{Task: pt, Seed: seed, Epochs: int64(opts.Epochs),
		Snapshots: int64(opts.Snapshots), Rank: int64(opts.Rank), OutputPath: outPath, InitSeed: opts.InitSeed})
	if err != nil {
		return TrainResult{}, fromStatus(err)
	}
	if err := checkMetrics(resp.GetMetrics()); err != nil {
		return TrainResult{}, fmt.Errorf("bad data: %w", err)
	}
	return TrainResult{Snapshots: int(resp.GetSnapshots()), Metrics: resp.GetMetrics()}, nil
}

func (c *evaluatorClient) Evaluate(ctx context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	pt, err := taskToPB(t)
	if err != nil {
		return nil, err
	}
	req := &pb.EvaluateRequest{Task: pt, Seed: seed}
	if a != nil {
		req.Adapter = &pb.Adapter{Params: a.Params}
	}
	resp, err := c.c.Evaluate(ctx, req)
	if err != nil {
		return nil, fromStatus(err)
	}
	if err := checkMetrics(resp.GetValues()); err != nil {
		return nil, fmt.Errorf("bad data: %w", err)
	}
	if resp.GetValues() == nil {
		return map[string]float64{}, nil
	}
	return resp.GetValues(), nil
}

// ---- generator ---------------------------------------------------------------------

type generatorServer struct {
	pb.UnimplementedGeneratorServer
	impl Generator
}

func (s *generatorServer) Info(ctx context.Context, _ *pb.Empty) (*pb.Info, error) {
	return serveInfo(ctx, s.impl)
}

func (s *generatorServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.Empty, error) {
	return serveConfigure(ctx, s.impl, req)
}

func (s *generatorServer) Fit(ctx context.Context, req *pb.FitRequest) (*pb.Empty, error) {
	lib := libraryFromPB(req.GetSchema(), req.GetExperts())
	if err := s.impl.Fit(ctx, lib, req.GetSeed()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}

func (s *generatorServer) Generate(req *pb.GenerateRequest, stream grpc.ServerStreamingServer[pb.Adapter]) error {
	as, err := s.impl.Generate(stream.Context(), req.GetTarget(), int(req.GetN()), req.GetSeed())
	if err != nil {
		return toStatus(err)
	}
	for _, a := range as {
		if err := stream.Send(&pb.Adapter{Params: a.Params}); err != nil {
			return err
		}
	}
	return nil
}

type generatorClient struct {
	c      pb.GeneratorClient
	schema lora.Schema
}

func (c *generatorClient) Info(ctx context.Context) (Info, error) { return callInfo(ctx, c.c.Info) }

func (c *generatorClient) Configure(ctx context.Context, p Params) error {
	return callConfigure(ctx, p, c.c.Configure)
}

func (c *generatorClient) Fit(ctx context.Context, lib Library, seed uint64) error {
	req := &pb.FitRequest{Schema: schemaToPB(lib.Schema), Seed: seed, Experts: expertsToPB(lib)}
	if _, err := c.c.Fit(ctx, req); err != nil {
		return fromStatus(err)
	}
	c.schema = lib.Schema
	return nil
}

func (c *generatorClient) Generate(ctx context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	if c.schema == nil {
		return nil, errors.New("Generate called before Fit")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.c.Generate(ctx, &pb.GenerateRequest{Target: target, N: int64(n), Seed: seed})
	if err != nil {
		return nil, fromStatus(err)
	}
	var out []*lora.Adapter
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fromStatus(err)
		}
		a, err := lora.FromFlat(c.schema, msg.GetParams())
		if err != nil {
			return nil, fmt.Errorf("bad data: adapter %d: %w", len(out), err)
		}
		if err := a.CheckFinite(); err != nil {
			return nil, fmt.Errorf("bad data: adapter %d: %w", len(out), err)
		}
		out = append(out, a)
	}
	if len(out) != n {
		return nil, fmt.Errorf("bad data: asked for %d adapters, got %d", n, len(out))
	}
	return out, nil
}

func libraryFromPB(schema []*pb.Module, experts []*pb.Expert) Library {
	lib := Library{Schema: schemaFromPB(schema)}
	for _, e := range experts {
		lib.Experts = append(lib.Experts, Expert{ID: e.GetId(), Description: e.GetDescription(),
			Embedding: e.GetEmbedding(), SnapshotPath: e.GetSnapshotPath()})
	}
	return lib
}

func expertsToPB(lib Library) []*pb.Expert {
	out := make([]*pb.Expert, 0, len(lib.Experts))
	for _, e := range lib.Experts {
		out = append(out, &pb.Expert{Id: e.ID, Description: e.Description, Embedding: e.Embedding, SnapshotPath: e.SnapshotPath})
	}
	return out
}

func (s *generatorServer) SaveFit(ctx context.Context, req *pb.SaveFitRequest) (*pb.Empty, error) {
	fs, ok := s.impl.(FitSaver)
	if !ok {
		return nil, status.Error(codes.Unimplemented, ErrCannotSaveFit.Error())
	}
	if err := fs.SaveFit(ctx, req.GetPath()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}

func (s *generatorServer) LoadFit(ctx context.Context, req *pb.LoadFitRequest) (*pb.Empty, error) {
	fs, ok := s.impl.(FitSaver)
	if !ok {
		return nil, status.Error(codes.Unimplemented, ErrCannotSaveFit.Error())
	}
	if err := fs.LoadFit(ctx, req.GetPath(), libraryFromPB(req.GetSchema(), req.GetExperts())); err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}

// fitSaveStatus maps UNIMPLEMENTED to ErrCannotSaveFit.
func fitSaveStatus(err error) error {
	if status.Code(err) == codes.Unimplemented {
		return ErrCannotSaveFit
	}
	return fromStatus(err)
}

func (c *generatorClient) SaveFit(ctx context.Context, path string) error {
	_, err := c.c.SaveFit(ctx, &pb.SaveFitRequest{Path: path})
	return fitSaveStatus(err)
}

func (c *generatorClient) LoadFit(ctx context.Context, path string, lib Library) error {
	if _, err := c.c.LoadFit(ctx, &pb.LoadFitRequest{Path: path, Schema: schemaToPB(lib.Schema), Experts: expertsToPB(lib)}); err != nil {
		return fitSaveStatus(err)
	}
	c.schema = lib.Schema
	return nil
}
