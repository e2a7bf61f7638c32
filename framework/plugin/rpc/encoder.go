package rpc

import (
	"context"

	"google.golang.org/grpc"

	"github.com/sglab/sglab/framework/plugin"
	pb "github.com/sglab/sglab/framework/plugin/proto"
)

var encoderKind = kind{
	name:   plugin.KindEncoder,
	serves: func(b plugin.Base) bool { _, ok := b.(plugin.Encoder); return ok },
	register: func(s *grpc.Server, b plugin.Base) {
		pb.RegisterEncoderServer(s, &encoderServer{baseServer: baseServer{b}, impl: b.(plugin.Encoder)})
	},
	client: func(conn *grpc.ClientConn, host *Client) plugin.Base {
		c := pb.NewEncoderClient(conn)
		return &encoderClient{baseClient: baseClient{c, host}, c: c}
	},
}

type encoderServer struct {
	baseServer
	encoderUnimplemented
	impl plugin.Encoder
}

// encoderUnimplemented keeps the generated UnimplementedEncoderServer below baseServer.
type encoderUnimplemented struct{ pb.UnimplementedEncoderServer }

func (s *encoderServer) Embed(ctx context.Context, req *pb.EmbedRequest) (*pb.EmbedResponse, error) {
	vs, err := s.impl.Embed(ctx, req.GetTexts())
	if err != nil {
		return nil, err
	}
	out := &pb.EmbedResponse{Vectors: make([]*pb.Vector, len(vs))}
	for i, v := range vs {
		out.Vectors[i] = &pb.Vector{Values: v}
	}
	return out, nil
}

type encoderClient struct {
	baseClient
	c pb.EncoderClient
}

func (c *encoderClient) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	resp, err := c.c.Embed(ctx, &pb.EmbedRequest{Texts: texts})
	if err != nil {
		return nil, err
	}
	if len(resp.GetVectors()) != len(texts) {
		return nil, c.host.badData("Embed", "%d vectors for %d texts", len(resp.GetVectors()), len(texts))
	}
	out := make([][]float32, len(texts))
	for i, v := range resp.GetVectors() {
		out[i] = v.GetValues()
		if len(out[i]) == 0 || len(out[i]) != len(out[0]) {
			return nil, c.host.badData("Embed", "vector %d has %d values, vector 0 has %d", i, len(out[i]), len(out[0]))
		}
		if err := checkVector(out[i]); err != nil {
			return nil, c.host.badData("Embed", "vector %d (text %q): %v", i, texts[i], err)
		}
	}
	return out, nil
}
