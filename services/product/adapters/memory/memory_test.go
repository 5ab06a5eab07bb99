package memory_test

import (
	"testing"

	"github.com/shoplab/shoplab/services/product/adapters/memory"
	"github.com/shoplab/shoplab/services/product/app"
	"github.com/shoplab/shoplab/services/product/producttest"
)

func TestStoreContract(t *testing.T) {
	producttest.RunStoreContract(t, func(*testing.T) app.Store { return memory.New() })
}
