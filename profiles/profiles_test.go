package profiles_test

import (
	"reflect"
	"testing"

	"github.com/shoplab/shoplab/profiles"
	"github.com/shoplab/shoplab/sim/hpa/model"
)

// TestLocalIsValid keeps the committed profile loadable and its call graph in
// step with the code's: a profile fitted by calibrate carries
// model.DefaultJourneys, and an estimated one must not drift from it.
func TestLocalIsValid(t *testing.T) {
	p, err := profiles.Local()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Journeys, model.DefaultJourneys()) {
		t.Errorf("local.json's journeys differ from model.DefaultJourneys(); rewrite them from the code")
	}
	for _, u := range model.Units() {
		if _, ok := p.Units[u]; !ok {
			t.Errorf("local.json has no unit %s", u)
		}
	}
	if p.Source == model.SourceEstimated && p.Note == "" {
		t.Error("an estimated profile must say in its note how it was estimated")
	}
}
