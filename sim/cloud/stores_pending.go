//go:build !shoplab_realstores

package cloud

// Until the PostgreSQL and DynamoDB adapters (branches pg and dynamo) are
// in this build, an env that asks for them is refused at start with the
// field named; Kafka, S3 and every edge of the env work regardless. With
// them merged, stores_real.go (build tag shoplab_realstores, to become the
// default) maps the env onto the units' Config and Deps.

import (
	"fmt"

	"github.com/shoplab/shoplab/envs"
	notificationunit "github.com/shoplab/shoplab/services/notification/unit"
	orderunit "github.com/shoplab/shoplab/services/order/unit"
	paymentunit "github.com/shoplab/shoplab/services/payment/unit"
	productunit "github.com/shoplab/shoplab/services/product/unit"
	userunit "github.com/shoplab/shoplab/services/user/unit"
)

func (c *Cloud) notYet(field, value, what string) error {
	return fmt.Errorf("%s: this build has no %s adapter yet; use an env file with stores.relational/catalog/dedup: sqlite and email: mailbox", c.cfg.Env.Where(field, value), what)
}

func (c *Cloud) relational() error {
	if e := c.cfg.Env; e != nil && e.Stores.Relational == envs.StorePostgres {
		return c.notYet("stores.relational", e.Stores.Relational, "PostgreSQL")
	}
	return nil
}

func (c *Cloud) userStores(*userunit.Config, *userunit.Deps) error          { return c.relational() }
func (c *Cloud) orderStores(*orderunit.Config, *orderunit.Deps) error       { return c.relational() }
func (c *Cloud) paymentStores(*paymentunit.Config, *paymentunit.Deps) error { return c.relational() }

func (c *Cloud) productStores(*productunit.Config, *productunit.Deps) error {
	if e := c.cfg.Env; e != nil && e.Stores.Catalog == envs.StoreDynamoDB {
		return c.notYet("stores.catalog", e.Stores.Catalog, "DynamoDB catalog")
	}
	return nil
}

func (c *Cloud) notificationStores(*notificationunit.Config, *notificationunit.Deps) error {
	e := c.cfg.Env
	switch {
	case e == nil:
	case e.Stores.Dedup == envs.StoreDynamoDB:
		return c.notYet("stores.dedup", e.Stores.Dedup, "DynamoDB dedup wiring")
	case e.Stores.Email == envs.StoreSES:
		return c.notYet("stores.email", e.Stores.Email, "SES")
	}
	return nil
}

// RealStores reports whether this build maps an env's PostgreSQL, DynamoDB
// and SES stores onto the units (false: such an env is refused at start).
const RealStores = false
