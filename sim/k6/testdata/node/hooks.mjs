// Resolves k6's built-in modules to the stubs next to this file, so that
// node can run a generated script and its libraries (see run.mjs).
const stubs = {
  k6: 'k6.mjs',
  'k6/http': 'http.mjs',
  'k6/execution': 'execution.mjs',
  'k6/metrics': 'metrics.mjs',
};

export async function resolve(specifier, context, next) {
  if (Object.hasOwn(stubs, specifier)) {
    return { url: new URL(`./k6/${stubs[specifier]}`, import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
