// Stub of k6/execution: the harness sets the scenario.
import { world } from '../world.mjs';

export default {
  get scenario() {
    return world.scenario;
  },
};
