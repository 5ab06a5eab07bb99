// Package ports serves the user use cases over gRPC as shoplabv1.UserService.
// Handlers return errs errors; grpcx's server interceptor turns them into
// status codes.
package ports

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/user"
)

// Users is what the gRPC server needs from the app layer.
type Users interface {
	Register(ctx context.Context, email, password, name string) (user.User, error)
	Authenticate(ctx context.Context, email, password string) (user.User, error)
	GetUser(ctx context.Context, id string) (user.User, error)
}

// GRPCServer implements shoplabv1.UserServiceServer over Users.
type GRPCServer struct {
	pb.UnimplementedUserServiceServer
	users Users
}

// NewGRPCServer returns a UserService server over users.
func NewGRPCServer(users Users) *GRPCServer { return &GRPCServer{users: users} }

// Register implements shoplabv1.UserServiceServer.
func (s *GRPCServer) Register(ctx context.Context, req *pb.RegisterRequest) (*pb.RegisterResponse, error) {
	u, err := s.users.Register(ctx, req.GetEmail(), req.GetPassword(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &pb.RegisterResponse{User: toProto(u)}, nil
}

// Authenticate implements shoplabv1.UserServiceServer.
func (s *GRPCServer) Authenticate(ctx context.Context, req *pb.AuthenticateRequest) (*pb.AuthenticateResponse, error) {
	u, err := s.users.Authenticate(ctx, req.GetEmail(), req.GetPassword())
	if err != nil {
		return nil, err
	}
	return &pb.AuthenticateResponse{User: toProto(u)}, nil
}

// GetUser implements shoplabv1.UserServiceServer.
func (s *GRPCServer) GetUser(ctx context.Context, req *pb.GetUserRequest) (*pb.GetUserResponse, error) {
	u, err := s.users.GetUser(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &pb.GetUserResponse{User: toProto(u)}, nil
}

// toProto converts a user for the wire; the password hash never leaves the unit.
func toProto(u user.User) *pb.User {
	return &pb.User{Id: u.ID, Email: u.Email, Name: u.Name, CreatedAt: timestamppb.New(u.CreatedAt)}
}
