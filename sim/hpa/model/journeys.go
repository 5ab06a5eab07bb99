package model

// The platform's units, in the order a request meets them.
const (
	Gateway = "gateway"
	User    = "user"
	Product = "product"
	Order   = "order"
	Payment = "payment"
)

// Units lists the units a profile of the platform covers.
func Units() []string { return []string{Gateway, User, Product, Order, Payment} }

// DefaultJourneys is the platform's call graph: the calls one iteration of
// each shopper journey makes, read off the gateway's routes
// (services/gateway/ports/http.go) and the order workflow
// (services/order/app/service.go). Per iteration, per unit:
//
//	journey            gateway  user  product  order  payment
//	browse                 2.5     -      2.5      -        -
//	search                   1     -        1      -        -
//	checkout                 4     2        3      1        1
//	declined_checkout        2     2        2      1        1
//
// browse lists the catalog, goes on to a second page every other time, and
// opens one product. search lists one category (GET /products?category=).
// checkout is spec.Checkout, "browse, then place an order": one list and
// one product view, then a login (gateway -> user Authenticate) and the
// order (gateway -> order CreateOrder, which calls user GetUser, product
// ReserveStock and payment ProcessPayment). declined_checkout logs in and
// places an order whose card is declined, without browsing first; order
// then releases the stock it reserved (product ReleaseStock).
//
// The table must follow what the load simulator's journeys do: a call left
// out here still has its CPU in the unit's cost per iteration, but not in
// the request rate that drives latency and memory.
//
// Retries, the outbox relay's Kafka writes and the recovery loop are not
// calls of a journey; their cost is in the units' per-iteration CPU (the
// relay runs once per placed order) or idle CPU (the loops).
func DefaultJourneys() map[string][]Call {
	placeOrder := func(declined bool) []Call {
		var calls []Call
		if !declined {
			calls = append(calls,
				Call{From: Client, To: Gateway, Method: "GET /api/v1/products", PerIteration: 1},
				Call{From: Client, To: Gateway, Method: "GET /api/v1/products/{id}", PerIteration: 1},
				Call{From: Gateway, To: Product, Method: "ProductService.ListProducts", PerIteration: 1},
				Call{From: Gateway, To: Product, Method: "ProductService.GetProduct", PerIteration: 1},
			)
		}
		calls = append(calls, []Call{
			{From: Client, To: Gateway, Method: "POST /api/v1/auth/login", PerIteration: 1},
			{From: Gateway, To: User, Method: "UserService.Authenticate", PerIteration: 1},
			{From: Client, To: Gateway, Method: "POST /api/v1/orders", PerIteration: 1},
			{From: Gateway, To: Order, Method: "OrderService.CreateOrder", PerIteration: 1},
			{From: Order, To: User, Method: "UserService.GetUser", PerIteration: 1},
			{From: Order, To: Product, Method: "ProductService.ReserveStock", PerIteration: 1},
			{From: Order, To: Payment, Method: "PaymentService.ProcessPayment", PerIteration: 1},
		}...)
		if declined {
			calls = append(calls, Call{From: Order, To: Product, Method: "ProductService.ReleaseStock", PerIteration: 1})
		}
		return calls
	}
	return map[string][]Call{
		"browse": {
			{From: Client, To: Gateway, Method: "GET /api/v1/products", PerIteration: 1.5},
			{From: Client, To: Gateway, Method: "GET /api/v1/products/{id}", PerIteration: 1},
			{From: Gateway, To: Product, Method: "ProductService.ListProducts", PerIteration: 1.5},
			{From: Gateway, To: Product, Method: "ProductService.GetProduct", PerIteration: 1},
		},
		"search": {
			{From: Client, To: Gateway, Method: "GET /api/v1/products?category=", PerIteration: 1},
			{From: Gateway, To: Product, Method: "ProductService.ListProducts", PerIteration: 1},
		},
		"checkout":          placeOrder(false),
		"declined_checkout": placeOrder(true),
	}
}

// CallsPerIteration returns, for each journey, the calls one iteration
// makes to each unit: the table in DefaultJourneys' comment.
func CallsPerIteration(journeys map[string][]Call) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for j, calls := range journeys {
		perUnit := map[string]float64{}
		for _, c := range calls {
			perUnit[c.To] += c.PerIteration
		}
		out[j] = perUnit
	}
	return out
}
