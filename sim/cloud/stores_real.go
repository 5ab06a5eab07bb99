package cloud

// The env's stores mapped onto the units' Config and Deps: PostgreSQL for
// user, order and payment (each through "<unit>->postgres"), DynamoDB for
// the catalog and notification's dedup, SES for email (through
// "<unit>->aws"). Every build has them (no build tag); an env that names
// other stores leaves the units on their defaults (SQLite, the mailbox).

import (
	"github.com/shoplab/shoplab/envs"
	notificationunit "github.com/shoplab/shoplab/services/notification/unit"
	orderunit "github.com/shoplab/shoplab/services/order/unit"
	paymentunit "github.com/shoplab/shoplab/services/payment/unit"
	productunit "github.com/shoplab/shoplab/services/product/unit"
	userunit "github.com/shoplab/shoplab/services/user/unit"
)

func (c *Cloud) userStores(cfg *userunit.Config, deps *userunit.Deps) error {
	if !c.isPostgres() {
		return nil
	}
	dsn, dial, err := c.pgEdge(User)
	if err != nil {
		return err
	}
	p := c.cfg.Env.Postgres
	cfg.DatabaseURL, cfg.DBMaxConns, cfg.DBMinConns, cfg.StatementTimeout = dsn, int32(p.Pool.MaxConns), int32(p.Pool.MinConns), p.StatementTimeout.Std()
	deps.PGDial, deps.PGTracer = dial, c.pgTracer(User)
	return nil
}

func (c *Cloud) orderStores(cfg *orderunit.Config, deps *orderunit.Deps) error {
	if !c.isPostgres() {
		return nil
	}
	dsn, dial, err := c.pgEdge(Order)
	if err != nil {
		return err
	}
	p := c.cfg.Env.Postgres
	cfg.DatabaseURL, cfg.DBMaxConns, cfg.DBMinConns, cfg.StatementTimeout = dsn, int32(p.Pool.MaxConns), int32(p.Pool.MinConns), p.StatementTimeout.Std()
	deps.PGDial, deps.PGTracer = dial, c.pgTracer(Order)
	return nil
}

func (c *Cloud) paymentStores(cfg *paymentunit.Config, deps *paymentunit.Deps) error {
	if !c.isPostgres() {
		return nil
	}
	dsn, dial, err := c.pgEdge(Payment)
	if err != nil {
		return err
	}
	p := c.cfg.Env.Postgres
	cfg.DatabaseURL, cfg.DBMaxConns, cfg.DBMinConns, cfg.StatementTimeout = dsn, int32(p.Pool.MaxConns), int32(p.Pool.MinConns), p.StatementTimeout.Std()
	deps.PGDial, deps.PGTracer = dial, c.pgTracer(Payment)
	return nil
}

func (c *Cloud) isPostgres() bool {
	return c.cfg.Env != nil && c.cfg.Env.Stores.Relational == envs.StorePostgres
}

func (c *Cloud) productStores(cfg *productunit.Config, deps *productunit.Deps) error {
	e := c.cfg.Env
	if e == nil || e.Stores.Catalog != envs.StoreDynamoDB {
		return nil
	}
	ep, err := c.awsEndpoint(Product)
	if err != nil {
		return err
	}
	cfg.DynamoDBTable, cfg.AWSEndpoint, cfg.AWSRegion, cfg.CreateTable = e.AWS.DynamoDB.ProductsTable, ep, e.AWS.Region, e.AWS.CreateResources
	deps.AWSHTTPClient = c.awsHTTPClient(Product)
	return nil
}

func (c *Cloud) notificationStores(cfg *notificationunit.Config, deps *notificationunit.Deps) error {
	e := c.cfg.Env
	if e == nil || (e.Stores.Dedup != envs.StoreDynamoDB && e.Stores.Email != envs.StoreSES) {
		return nil
	}
	ep, err := c.awsEndpoint(Notification)
	if err != nil {
		return err
	}
	if e.Stores.Dedup == envs.StoreDynamoDB {
		cfg.DedupTable = e.AWS.DynamoDB.DedupTable
	}
	cfg.Email, cfg.Sender = e.Stores.Email, e.AWS.SES.Sender
	cfg.AWSEndpoint, cfg.AWSRegion, cfg.CreateResources = ep, e.AWS.Region, e.AWS.CreateResources
	deps.AWSHTTPClient = c.awsHTTPClient(Notification)
	return nil
}

// RealStores reports that this build maps an env's PostgreSQL, DynamoDB
// and SES stores onto the units: true in every build, no build tag
// selects the adapters.
const RealStores = true
