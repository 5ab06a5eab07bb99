// Stub of k6/metrics: every sample is recorded with k6's scenario tag.
import { world } from '../world.mjs';

class Metric {
  constructor(name, type) {
    this.name = name;
    this.type = type;
    world.metrics[name] = type;
  }

  add(value, tags) {
    world.samples.push({ metric: this.name, value: Number(value), tags: { ...world.scenarioTags(), ...(tags || {}) } });
  }
}

export class Rate extends Metric {
  constructor(name) {
    super(name, 'rate');
  }
}

export class Counter extends Metric {
  constructor(name) {
    super(name, 'counter');
  }
}

export class Trend extends Metric {
  constructor(name) {
    super(name, 'trend');
  }
}

export class Gauge extends Metric {
  constructor(name) {
    super(name, 'gauge');
  }
}
