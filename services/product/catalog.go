package product

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Catalog defaults.
const (
	DefaultCatalogSize   = 300
	MaxCatalogSize       = 100_000
	DefaultStockMin      = 50
	DefaultStockMax      = 500
	DefaultLowStockCount = 5
	MaxStock             = 1_000_000_000
)

// CatalogSpec describes a seeded catalog. The same spec always yields the
// same catalog, so a scenario seed reproduces a run's products, prices and
// stock.
type CatalogSpec struct {
	Seed int64
	// Size is the number of products; 0 means DefaultCatalogSize.
	Size int
	// StockMin and StockMax bound the initial stock of a product; both 0
	// mean DefaultStockMin..DefaultStockMax. Load tests raise them so that
	// stock does not run out mid-run.
	StockMin, StockMax int64
	// LowStockCount is how many products, the first ids (p-0001, p-0002,
	// ...), get only 1-3 units so that out-of-stock paths are easy to hit:
	// product i (0-based) gets 1 + i%3 units. 0 means DefaultLowStockCount;
	// a negative value means none.
	LowStockCount int
}

// withDefaults fills the zero values and validates the spec.
func (s CatalogSpec) withDefaults() (CatalogSpec, error) {
	if s.Size == 0 {
		s.Size = DefaultCatalogSize
	}
	if s.StockMin == 0 && s.StockMax == 0 {
		s.StockMin, s.StockMax = DefaultStockMin, DefaultStockMax
	}
	switch {
	case s.LowStockCount == 0:
		s.LowStockCount = DefaultLowStockCount
	case s.LowStockCount < 0:
		s.LowStockCount = 0
	}
	switch {
	case s.Size < 1 || s.Size > MaxCatalogSize:
		return s, fmt.Errorf("catalog size must be 1..%d, got %d", MaxCatalogSize, s.Size)
	case s.StockMin < 1 || s.StockMin > s.StockMax || s.StockMax > MaxStock:
		return s, fmt.Errorf("catalog stock range must satisfy 1 <= min <= max <= %d, got %d..%d", MaxStock, s.StockMin, s.StockMax)
	case s.LowStockCount > s.Size:
		return s, fmt.Errorf("catalog low-stock count %d exceeds size %d", s.LowStockCount, s.Size)
	}
	return s, nil
}

// ProductID returns the id of the i-th (0-based) product of a catalog of
// size products: "p-" and i+1 zero-padded to at least 4 digits, wider for
// big catalogs so that ids sort in catalog order.
func ProductID(i, size int) string {
	width := max(4, len(strconv.Itoa(size)))
	return fmt.Sprintf("p-%0*d", width, i+1)
}

// LowStockIDs returns the ids of the products a spec seeds with 1-3 units.
func LowStockIDs(spec CatalogSpec) ([]string, error) {
	s, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	ids := make([]string, s.LowStockCount)
	for i := range ids {
		ids[i] = ProductID(i, s.Size)
	}
	return ids, nil
}

// GenerateCatalog builds the catalog a spec describes: ids p-0001.. in
// order, categories drawn from Categories, names composed from each
// category's word lists (unique while the lists allow), prices ending in 99
// cents, and stock within the spec's range (low-stock products excepted).
func GenerateCatalog(spec CatalogSpec) ([]Product, error) {
	s, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	// PCG is a specified algorithm, so the catalog of a seed does not depend
	// on the Go release. The second word keeps the stream apart from other
	// generators seeded with the same scenario seed.
	rng := rand.New(rand.NewPCG(uint64(s.Seed), 0x70726f64756374)) // "product"
	names := make(map[string]bool, s.Size)
	out := make([]Product, s.Size)
	for i := range out {
		c := &catalogCategories[rng.IntN(len(catalogCategories))]
		var name, adjective, noun string
		// A few redraws make names unique in any catalog the word lists can
		// cover; past that a repeat is harmless, since ids are the identity.
		for try := 0; try < 8; try++ {
			adjective, noun = pick(rng, c.adjectives), pick(rng, c.nouns)
			name = pick(rng, c.brands) + " " + adjective + " " + noun
			if !names[name] {
				break
			}
		}
		names[name] = true
		// No article: nouns such as "Headphones" and "Coffee Beans" are plural.
		desc := fmt.Sprintf("%s %s %s %s. %s", capitalize(pick(rng, c.qualities)), midSentence(adjective), strings.ToLower(noun),
			pick(rng, c.uses), pick(rng, c.features))
		dollars := c.minDollars + rng.Int64N(c.maxDollars-c.minDollars+1)
		stock := s.StockMin + rng.Int64N(s.StockMax-s.StockMin+1)
		// The draw above is made for low-stock products too, so changing
		// LowStockCount changes only their stock, not the rest of the catalog.
		if i < s.LowStockCount {
			stock = 1 + int64(i%3)
		}
		out[i] = Product{
			ID:          ProductID(i, s.Size),
			Name:        name,
			Description: desc,
			Category:    c.name,
			PriceCents:  dollars*100 + 99,
			Currency:    Currency,
			Stock:       stock,
		}
	}
	return out, nil
}

// Categories returns the categories a generated catalog uses.
func Categories() []string {
	out := make([]string, len(catalogCategories))
	for i, c := range catalogCategories {
		out[i] = c.name
	}
	return out
}

func pick(rng *rand.Rand, words []string) string { return words[rng.IntN(len(words))] }

// midSentence lower-cases a title-case word for use inside a sentence,
// keeping tokens such as "4K" and "Vitamin C" whose case carries meaning.
func midSentence(w string) string {
	if strings.ContainsAny(w, "0123456789") || strings.HasSuffix(w, " C") {
		return w
	}
	return strings.ToLower(w)
}

// capitalize upper-cases the first letter of an ASCII word.
func capitalize(w string) string {
	if w == "" {
		return w
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

// wordCategory is one category's vocabulary and price range.
type wordCategory struct {
	name                   string
	brands                 []string
	adjectives             []string
	nouns                  []string
	qualities              []string
	uses                   []string
	features               []string
	minDollars, maxDollars int64
}

// catalogCategories is the vocabulary of generated catalogs. Editing it
// changes every seed's catalog: update the golden file in the same change.
var catalogCategories = [...]wordCategory{
	{
		name:       "books",
		brands:     []string{"Harbor House", "Penrose", "Quill & Ink", "Lantern Press", "Northbound", "Tidewater", "Old Mill", "Bluejay"},
		adjectives: []string{"Silent", "Forgotten", "Midnight", "Hidden", "Last", "Crimson", "Quiet", "Endless", "Paper"},
		nouns:      []string{"Harbor", "Garden", "Atlas", "Cookbook", "Chronicle", "Field Guide", "Memoir", "Mystery", "Almanac"},
		qualities:  []string{"gripping", "beautifully illustrated", "thoughtful", "bestselling", "award-winning", "pocket-sized"},
		uses:       []string{"for long train rides", "for curious young readers", "for the bedside table", "for book clubs", "to read aloud"},
		features:   []string{"Paperback, 320 pages.", "Hardcover with ribbon marker.", "Includes a reading group guide.", "Printed on recycled paper."},
		minDollars: 4, maxDollars: 39,
	},
	{
		name:       "electronics",
		brands:     []string{"Voltix", "Nimbus", "Arcwave", "Pixelon", "Sonora", "Kestrel", "Lumio", "Quanta"},
		adjectives: []string{"Wireless", "Portable", "Smart", "Compact", "Ultra", "Noise-Cancelling", "Rechargeable", "4K", "Bluetooth"},
		nouns:      []string{"Headphones", "Speaker", "Charger", "Webcam", "Keyboard", "Mouse", "Monitor", "Power Bank", "Earbuds", "Router"},
		qualities:  []string{"reliable", "fast", "energy-efficient", "sleek", "feature-packed", "lightweight"},
		uses:       []string{"for working from home", "for everyday listening", "for gaming marathons", "for travel", "for the home office"},
		features:   []string{"Ships with a 2-year warranty.", "USB-C charging included.", "Pairs in seconds.", "Battery lasts up to 30 hours."},
		minDollars: 9, maxDollars: 899,
	},
	{
		name:       "home",
		brands:     []string{"Hearthstone", "Linenloft", "Oakhaven", "Casa Verde", "Nordvik", "Willow & Co", "Maplewood", "Brightside"},
		adjectives: []string{"Ceramic", "Linen", "Cast Iron", "Bamboo", "Woven", "Stoneware", "Copper", "Glass", "Cotton"},
		nouns:      []string{"Dutch Oven", "Throw Blanket", "Table Lamp", "Mug Set", "Cutting Board", "Vase", "Pillow Cover", "Skillet", "Storage Basket"},
		qualities:  []string{"cosy", "durable", "handcrafted", "timeless", "easy-care", "minimalist"},
		uses:       []string{"for the kitchen", "for the living room", "for weekend brunches", "for small apartments", "as a housewarming gift"},
		features:   []string{"Dishwasher safe.", "Machine washable.", "Made from sustainably sourced materials.", "Available in three colours."},
		minDollars: 5, maxDollars: 299,
	},
	{
		name:       "toys",
		brands:     []string{"Playbright", "Tinkertots", "Wonderbox", "Jollyjump", "Brickworks", "Funforge", "Little Oak", "Zoomzoo"},
		adjectives: []string{"Wooden", "Magnetic", "Remote Control", "Plush", "Glow-in-the-Dark", "Musical", "Stacking", "Giant", "Puzzle"},
		nouns:      []string{"Train Set", "Building Blocks", "Dinosaur", "Race Car", "Robot", "Unicorn", "Board Game", "Kite", "Marble Run"},
		qualities:  []string{"colourful", "sturdy", "imaginative", "educational", "award-winning", "hands-on"},
		uses:       []string{"for ages 3 and up", "for rainy afternoons", "for family game night", "for budding engineers", "for the playroom"},
		features:   []string{"Batteries not included.", "Non-toxic paints.", "Over 100 pieces.", "Fits in a backpack."},
		minDollars: 3, maxDollars: 119,
	},
	{
		name:       "sports",
		brands:     []string{"Peakline", "Stridex", "Trailhawk", "Aquafin", "Courtside", "Summit Gear", "Velocity", "Ironwood"},
		adjectives: []string{"Lightweight", "Waterproof", "Adjustable", "Insulated", "Foldable", "Breathable", "Pro", "Carbon", "Grip"},
		nouns:      []string{"Yoga Mat", "Running Shoes", "Water Bottle", "Dumbbell Set", "Tennis Racket", "Backpack", "Bike Helmet", "Jump Rope", "Tent"},
		qualities:  []string{"tough", "comfortable", "performance-tested", "versatile", "ergonomic", "compact"},
		uses:       []string{"for the trail", "for home workouts", "for race day", "for weekend camping", "for the gym"},
		features:   []string{"Sweat-resistant finish.", "Carry bag included.", "Tested by athletes.", "Lifetime guarantee."},
		minDollars: 6, maxDollars: 399,
	},
	{
		name:       "grocery",
		brands:     []string{"Green Acre", "Morning Farm", "Spice Route", "Honeybrook", "Golden Field", "Riverbend", "Saltmarsh", "Orchard Lane"},
		adjectives: []string{"Organic", "Roasted", "Smoked", "Wildflower", "Extra Virgin", "Whole Grain", "Dark", "Sea Salt", "Spiced"},
		nouns:      []string{"Coffee Beans", "Olive Oil", "Honey", "Granola", "Chocolate", "Pasta", "Almonds", "Green Tea", "Maple Syrup"},
		qualities:  []string{"rich", "fresh", "small-batch", "fair-trade", "wholesome", "artisan"},
		uses:       []string{"for slow mornings", "for the pantry", "for weeknight dinners", "for snacking", "for baking"},
		features:   []string{"Resealable pack.", "Best before 12 months from packing.", "Vegan friendly.", "Sourced from family farms."},
		minDollars: 1, maxDollars: 29,
	},
	{
		name:       "beauty",
		brands:     []string{"Lumiere", "Petal & Pine", "Aurea", "Velvetine", "Bloomskin", "Seabreeze", "Rosewater", "Nuvo"},
		adjectives: []string{"Hydrating", "Nourishing", "Matte", "Gentle", "Vitamin C", "Lavender", "Charcoal", "Repair", "Daily"},
		nouns:      []string{"Face Serum", "Lip Balm", "Shampoo", "Moisturiser", "Cleanser", "Hand Cream", "Sunscreen", "Face Mask", "Body Wash"},
		qualities:  []string{"lightweight", "fragrance-free", "soothing", "dermatologist-tested", "refreshing", "rich"},
		uses:       []string{"for sensitive skin", "for everyday use", "for dry hair", "for the morning routine", "for travel"},
		features:   []string{"Cruelty free.", "50 ml bottle.", "Recyclable packaging.", "Free from parabens."},
		minDollars: 3, maxDollars: 89,
	},
	{
		name:       "garden",
		brands:     []string{"Greenthumb", "Rootwell", "Fernhill", "Sunpatch", "Blossom Bay", "Tillford", "Moss & Stone", "Hedgerow"},
		adjectives: []string{"Galvanised", "Raised", "Solar", "Heirloom", "Self-Watering", "Terracotta", "Stainless", "Hanging", "Heavy-Duty"},
		nouns:      []string{"Planter", "Watering Can", "Pruning Shears", "Seed Kit", "Garden Hose", "Bird Feeder", "String Lights", "Trowel", "Compost Bin"},
		qualities:  []string{"weatherproof", "rust-resistant", "easy-to-use", "eco-friendly", "hard-wearing", "charming"},
		uses:       []string{"for balcony gardens", "for the vegetable patch", "for summer evenings", "for new gardeners", "for the patio"},
		features:   []string{"UV-stable finish.", "Assembly in minutes.", "Made from recycled plastic.", "Two-year guarantee."},
		minDollars: 4, maxDollars: 249,
	},
}
