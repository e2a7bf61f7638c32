package rpc

import (
	"context"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	pb "github.com/sglab/sglab/framework/plugin/proto"
)

var generatorKind = kind{
	name:   plugin.KindGenerator,
	serves: func(b plugin.Base) bool { _, ok := b.(plugin.Generator); return ok },
	register: func(s *grpc.Server, b plugin.Base) {
		pb.RegisterGeneratorServer(s, &generatorServer{baseServer: baseServer{b}, impl: b.(plugin.Generator)})
	},
	client: func(conn *grpc.ClientConn, host *Client) plugin.Base {
		c := pb.NewGeneratorClient(conn)
		return &generatorClient{baseClient: baseClient{c, host}, c: c}
	},
}

type generatorServer struct {
	baseServer
	generatorUnimplemented
	impl plugin.Generator
}

// generatorUnimplemented keeps the generated UnimplementedGeneratorServer below baseServer.
type generatorUnimplemented struct {
	pb.UnimplementedGeneratorServer
}

func (s *generatorServer) Fit(ctx context.Context, req *pb.FitRequest) (*pb.Empty, error) {
	lib := libraryFromPB(req.GetSchema(), req.GetExperts())
	if err := s.impl.Fit(ctx, lib, req.GetSeed()); err != nil {
		return nil, err
	}
	return &pb.Empty{}, nil
}

func (s *generatorServer) Generate(req *pb.GenerateRequest, stream grpc.ServerStreamingServer[pb.Adapter]) error {
	as, err := s.impl.Generate(stream.Context(), req.GetTarget(), int(req.GetN()), req.GetSeed())
	if err != nil {
		return err
	}
	for _, a := range as {
		if err := stream.Send(&pb.Adapter{Params: a.Params}); err != nil {
			return err
		}
	}
	return nil
}

// SaveFit and LoadFit answer UNIMPLEMENTED for a generator without them, as a plugin
// built before protocol 1 had them does.
func (s *generatorServer) SaveFit(ctx context.Context, req *pb.SaveFitRequest) (*pb.Empty, error) {
	fs, ok := s.impl.(plugin.FitSaver)
	if !ok {
		return nil, status.Error(codes.Unimplemented, plugin.ErrCannotSaveFit.Error())
	}
	if err := fs.SaveFit(ctx, req.GetPath()); err != nil {
		return nil, err
	}
	return &pb.Empty{}, nil
}

func (s *generatorServer) LoadFit(ctx context.Context, req *pb.LoadFitRequest) (*pb.Empty, error) {
	fs, ok := s.impl.(plugin.FitSaver)
	if !ok {
		return nil, status.Error(codes.Unimplemented, plugin.ErrCannotSaveFit.Error())
	}
	if err := fs.LoadFit(ctx, req.GetPath(), libraryFromPB(req.GetSchema(), req.GetExperts())); err != nil {
		return nil, err
	}
	return &pb.Empty{}, nil
}

// generatorClient is a Generator and a FitSaver; SaveFit and LoadFit fail with
// plugin.ErrCannotSaveFit on a plugin that lacks them.
type generatorClient struct {
	baseClient
	c      pb.GeneratorClient
	schema lora.Schema // the library's, from Fit or LoadFit: what Generate's adapters are
}

func (c *generatorClient) Fit(ctx context.Context, lib plugin.Library, seed uint64) error {
	req := &pb.FitRequest{Schema: schemaToPB(lib.Schema), Seed: seed, Experts: expertsToPB(lib)}
	if _, err := c.c.Fit(ctx, req); err != nil {
		return err
	}
	c.schema = lib.Schema
	return nil
}

func (c *generatorClient) Generate(ctx context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.c.Generate(ctx, &pb.GenerateRequest{Target: target, N: int64(n), Seed: seed})
	if err != nil {
		return nil, err
	}
	var out []*lora.Adapter
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if c.schema == nil { // asked anyway, so that the plugin's own refusal is what shows
			return nil, c.host.badData("Generate", "adapters before Fit or LoadFit: a generator refuses Generate until it has a library")
		}
		a, err := lora.FromFlat(c.schema, msg.GetParams())
		if err != nil {
			return nil, c.host.badData("Generate", "adapter %d: %v", len(out), err)
		}
		if err := a.CheckFinite(); err != nil {
			return nil, c.host.badData("Generate", "adapter %d: %v", len(out), err)
		}
		out = append(out, a)
	}
	if len(out) != n {
		return nil, c.host.badData("Generate", "asked for %d adapters, got %d", n, len(out))
	}
	return out, nil
}

func (c *generatorClient) SaveFit(ctx context.Context, path string) error {
	_, err := c.c.SaveFit(ctx, &pb.SaveFitRequest{Path: path})
	return err
}

func (c *generatorClient) LoadFit(ctx context.Context, path string, lib plugin.Library) error {
	if _, err := c.c.LoadFit(ctx, &pb.LoadFitRequest{Path: path, Schema: schemaToPB(lib.Schema), Experts: expertsToPB(lib)}); err != nil {
		return err
	}
	c.schema = lib.Schema
	return nil
}

func libraryFromPB(schema []*pb.Module, experts []*pb.Expert) plugin.Library {
	lib := plugin.Library{Schema: schemaFromPB(schema)}
	for _, e := range experts {
		lib.Experts = append(lib.Experts, plugin.Expert{ID: e.GetId(), Description: e.GetDescription(),
			Embedding: e.GetEmbedding(), SnapshotPath: e.GetSnapshotPath()})
	}
	return lib
}

func expertsToPB(lib plugin.Library) []*pb.Expert {
	out := make([]*pb.Expert, 0, len(lib.Experts))
	for _, e := range lib.Experts {
		out = append(out, &pb.Expert{Id: e.ID, Description: e.Description, Embedding: e.Embedding, SnapshotPath: e.SnapshotPath})
	}
	return out
}
