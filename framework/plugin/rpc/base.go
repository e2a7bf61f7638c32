package rpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sglab/sglab/framework/plugin"
	pb "github.com/sglab/sglab/framework/plugin/proto"
)

// The calls every kind shares (plugin.Base), served and called once for all kinds:
// each kind's server and client embed these.

// baseServer serves Info and Configure. A kind's server embeds it beside its
// generated Unimplemented…Server wrapped one level deeper, so that these methods win
// over the Unimplemented ones.
type baseServer struct{ impl plugin.Base }

func (s baseServer) Info(ctx context.Context, _ *pb.Empty) (*pb.Info, error) {
	in, err := s.impl.Info(ctx)
	if err != nil {
		return nil, err
	}
	return infoToPB(in), nil
}

func (s baseServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.Empty, error) {
	p, err := paramsFromJSON(req.GetParamsJson())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.Empty{}, s.impl.Configure(ctx, p)
}

// baseConn is what every kind's generated client has.
type baseConn interface {
	Info(ctx context.Context, in *pb.Empty, opts ...grpc.CallOption) (*pb.Info, error)
	Configure(ctx context.Context, in *pb.ConfigureRequest, opts ...grpc.CallOption) (*pb.Empty, error)
}

// baseClient calls Info and Configure; host names the plugin in errors found on this
// side of the wire.
type baseClient struct {
	conn baseConn
	host *Client
}

func (c baseClient) Info(ctx context.Context) (plugin.Info, error) {
	in, err := c.conn.Info(ctx, &pb.Empty{})
	if err != nil {
		return plugin.Info{}, err
	}
	return infoFromPB(in), nil
}

func (c baseClient) Configure(ctx context.Context, p plugin.Params) error {
	js, err := paramsToJSON(p)
	if err != nil {
		return c.host.callError("Configure", err)
	}
	_, err = c.conn.Configure(ctx, &pb.ConfigureRequest{ParamsJson: js})
	return err
}
