package parts

import (
	"context"
	"fmt"
	"strings"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// StopPart stops one running part that this owner's state dir started (a
// scenario's kill or restart of postgres or kafka). A part that is not
// running as ours is an error, never a signal to someone else's process.
func (o *Owner) StopPart(ctx context.Context, name string) error {
	p, err := o.find(name)
	if err != nil {
		return err
	}
	if _, ok := o.live(p); !ok {
		return errs.E(errs.FailedPrecondition, "%s is not running as a part of %s (shoplab deps up --state-dir %s starts it)", name, o.cfg.StateDir, o.cfg.StateDir)
	}
	if st := o.down(ctx, p); st.Err != nil {
		return fmt.Errorf("stop %s: %w", name, st.Err)
	}
	return nil
}

// StartPart starts one part again on its recorded data and waits until it
// answers over its protocol.
func (o *Owner) StartPart(ctx context.Context, name string) error {
	p, err := o.find(name)
	if err != nil {
		return err
	}
	if st := o.up(ctx, p); st.Err != nil {
		return fmt.Errorf("start %s: %w", name, st.Err)
	}
	return nil
}

func (o *Owner) find(name string) (part, error) {
	for _, p := range o.parts {
		if p.name() == name {
			return p, nil
		}
	}
	var have []string
	for _, p := range o.parts {
		have = append(have, p.name())
	}
	return nil, errs.InvalidField("part", "%q is not one of this owner's parts (%s)", name, strings.Join(have, ", "))
}
