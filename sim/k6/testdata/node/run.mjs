// run.mjs runs a generated k6 script under node against the fake world of
// world.mjs, the way k6 would run it, but on a fake clock and in one
// process:
//
//	node run.mjs <script.js> '<knobs JSON>'
//
// setup(), then `iterations` iterations of the load scenario spread
// evenly over `totalMs`, then the chaos scenario's one iteration from the
// load's start, then teardown(). It prints one JSON document: the
// script's options, every request, metric sample and check, the logs, and
// what the fakes hold at the end. Knobs: see world.knobs, plus iterations,
// totalMs and env (__ENV).

import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('./hooks.mjs', import.meta.url);

const { world } = await import('./world.mjs');
const [script, knobsJSON] = process.argv.slice(2);
const knobs = JSON.parse(knobsJSON || '{}');
const { iterations = 100, totalMs = 60000, env = {}, ...worldKnobs } = knobs;
Object.assign(world.knobs, worldKnobs);

globalThis.__ENV = env;
globalThis.__VU = 1;
globalThis.__ITER = 0;
Date.now = () => world.now;
const out = (level) => (...args) => world.logs.push({ level, t: world.now, msg: args.join(' ') });
console.log = out('info');
console.info = out('info');
console.warn = out('warn');
console.error = out('error');

const mod = await import(pathToFileURL(script).href);
const options = mod.options;
const result = { options, errors: {} };

// k6 hands every VU a JSON copy of setup's data.
const copy = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

let data;
world.scenario = { name: 'setup', startTime: world.now, iterationInTest: 0 };
try {
  data = mod.setup ? mod.setup() : undefined;
} catch (e) {
  result.errors.setup = String(e && e.message ? e.message : e);
}

const start = world.now;
result.start = start;
if (!result.errors.setup) {
  const load = options.scenarios.load;
  const vuData = copy(data);
  world.scenario = { name: 'load', startTime: start, iterationInTest: 0 };
  try {
    for (let i = 0; i < iterations; i++) {
      world.now = start + Math.floor((i * totalMs) / iterations);
      world.scenario.iterationInTest = i;
      mod[load.exec](vuData);
    }
  } catch (e) {
    result.errors.load = String(e && e.stack ? e.stack : e);
  }
  if (options.scenarios.chaos) {
    world.now = start;
    world.scenario = { name: 'chaos', startTime: start, iterationInTest: 0 };
    try {
      mod[options.scenarios.chaos.exec]();
    } catch (e) {
      result.errors.chaos = String(e && e.stack ? e.stack : e);
    }
  }
}
world.scenario = { name: 'teardown', startTime: start, iterationInTest: 0 };
try {
  if (mod.teardown) {
    mod.teardown(copy(data));
  }
} catch (e) {
  result.errors.teardown = String(e && e.stack ? e.stack : e);
}

Object.assign(result, {
  requests: world.requests,
  samples: world.samples,
  checks: world.checks,
  logs: world.logs,
  metrics: world.metrics,
  proxies: world.proxies || {},
  opsFaults: world.opsFaults,
});
process.stdout.write(JSON.stringify(result));
