// Stub of the k6 module: sleep advances the fake clock.
import { world } from '../world.mjs';

export function sleep(seconds) {
  world.now += Math.round(seconds * 1000);
}

export function check(value, sets, tags) {
  let all = true;
  for (const [name, fn] of Object.entries(sets)) {
    const ok = Boolean(fn(value));
    world.checks.push({ name, ok, tags: { ...world.scenarioTags(), ...(tags || {}) } });
    all = all && ok;
  }
  return all;
}

export function fail(msg) {
  throw new Error(msg);
}

export default { sleep, check, fail };
