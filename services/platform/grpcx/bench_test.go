package grpcx_test

import (
	"context"
	"net"
	"testing"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// products answers GetProduct with one product the size of the catalog's.
type products struct {
	shoplabv1.UnimplementedProductServiceServer
	p *shoplabv1.Product
}

func (s products) GetProduct(context.Context, *shoplabv1.GetProductRequest) (*shoplabv1.GetProductResponse, error) {
	return &shoplabv1.GetProductResponse{Product: s.p}, nil
}

var benchProduct = &shoplabv1.Product{
	Id: "p-0042", Name: "Stoneware Pour-Over Coffee Dripper", Category: "kitchen",
	Description: "A ceramic dripper for one or two cups, with three drain holes and a wide base.",
	PriceCents:  2499, Currency: "USD", Stock: 120,
}

// BenchmarkGRPCHop measures one GetProduct through the platform's server
// and client (interceptors, deadline, metrics, request id) over loopback
// TCP, with a handler that does no work: what a hop between two units
// costs on its own.
func BenchmarkGRPCHop(b *testing.B) {
	svc := products{p: benchProduct}
	req := &shoplabv1.GetProductRequest{Id: "p-0042"}
	{
		srv := grpcx.NewServer(logx.Discard(), metrics.New("product", false))
		shoplabv1.RegisterProductServiceServer(srv, svc)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(srv.Stop)
		cc, err := grpcx.Dial(ln.Addr().String(), grpcx.ClientOptions{Target: "product", Metrics: metrics.New("gateway", false)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cc.Close() })
		client := shoplabv1.NewProductServiceClient(cc)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.GetProduct(context.Background(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
}
