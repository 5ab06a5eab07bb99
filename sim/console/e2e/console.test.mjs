// The console as a person uses it, in a real Chromium: every unit ready, a
// latency fault on order->payment added by clicking, the checkout p95 rising
// on the page, the fault removed, product killed and started again from the
// page, restarted, and the HPA twin's suggestion rising when the page scales
// the traffic to a cluster's. Started by sim/console's Go test, which runs the env, drives orders
// and passes OPS_URL, CHROMIUM and SCREENSHOT_DIR.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const ops = process.env.OPS_URL;
const shots = process.env.SCREENSHOT_DIR || tmpdir();
const ORDERS = 'tr[data-endpoint="POST /api/v1/orders"]';

async function p95(page) {
  const v = await page.locator(`${ORDERS} td[data-field="p95"]`).getAttribute("data-value");
  return Number(v);
}

async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last.ok) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

test("the console shows the env, injects a fault and kills a unit", { timeout: 150_000 }, async () => {
  assert.ok(ops, "OPS_URL is not set");
  // A fresh profile per run (playwright passes it as --user-data-dir).
  const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "shoplab-chromium-")), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 1100 },
  });
  const page = browser.pages()[0] || (await browser.newPage());
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  page.on("request", (r) => { if (!r.url().startsWith(ops)) problems.push(`request off the page's origin: ${r.url()}`); });
  try {
    await page.goto(`${ops}/`);
    await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 15_000 });
    // Every unit ready.
    await waitFor("7 units ready", async () => {
      const n = await page.locator('#units tr[data-ready="true"]').count();
      return { ok: n === 7, n };
    }, 20_000);
    // The order endpoint carries traffic and has a healthy p95.
    await page.locator(ORDERS).waitFor({ timeout: 20_000 });
    const before = await waitFor("a checkout p95", async () => ({ ok: (await p95(page)) > 0, p95: await p95(page) }), 20_000);
    await page.screenshot({ path: join(shots, "01-ready.png"), fullPage: true });

    // The HPA twin: at this env's own traffic order sits at its
    // minReplicas; scaled to a cluster's traffic from the page, the twin
    // says it would not stay there.
    const order = page.locator('#hpa tr[data-deployment="order"]');
    await order.waitFor({ timeout: 15_000 });
    const settles = async () => Number(await order.locator('td[data-field="settles"]').getAttribute("data-value"));
    const atOwn = await settles();
    await page.fill("#hpa-scale", "2000");
    await page.click("#hpa-set");
    await page.locator("#hpa-msg", { hasText: "×2000" }).waitFor({ timeout: 10_000 });
    await waitFor(`order settling above ${atOwn} replicas at 2000x the traffic`, async () => {
      const v = await settles();
      return { ok: v > atOwn, settles: v };
    }, 15_000);
    await page.locator("#hpa-mix", { hasText: "order" }).waitFor({ timeout: 5_000 });
    await page.screenshot({ path: join(shots, "05-hpa-scaled.png"), fullPage: true });

    // Slow every payment by 400 ms, by clicking.
    await page.selectOption("#f-type", "latency");
    await page.selectOption("#f-target", "order->payment");
    await page.fill("#f-attr-latency", "400ms");
    await page.fill("#f-duration", "");
    await page.click("#f-add");
    await page.locator("#f-msg", { hasText: "added latency on order->payment" }).waitFor({ timeout: 10_000 });
    const row = page.locator('#faults tr[data-type="latency"][data-target="order->payment"]');
    await row.waitFor({ timeout: 10_000 });
    // Every checkout now waits 400 ms more on payment: the page's p95 must
    // rise well past where it was (the first p95 can be high on a busy
    // machine, so the bound is relative as well as absolute).
    const bound = Math.max(300, before.p95 + 100);
    await waitFor(`checkout p95 above ${bound} ms`, async () => {
      const v = await p95(page);
      return { ok: v > bound, p95: v };
    }, 40_000);
    await page.screenshot({ path: join(shots, "02-payment-latency.png"), fullPage: true });

    // Remove it from the page.
    await row.locator('button[data-action="remove"]').click();
    await page.locator("#faults", { hasText: "no active faults" }).waitFor({ timeout: 10_000 });

    // Kill product, see it down, start it again.
    const product = page.locator('#units tr[data-unit="product"]');
    await product.locator('button[data-action="kill"]').click();
    await page.locator('#units tr[data-unit="product"][data-ready="false"]').waitFor({ timeout: 15_000 });
    await page.locator('#faults tr[data-type="kill"][data-target="product"]').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, "03-product-killed.png"), fullPage: true });
    await product.locator('button[data-action="start"]').click();
    await page.locator('#units tr[data-unit="product"][data-ready="true"]').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(shots, "04-product-back.png"), fullPage: true });

    // Restart: down and back up again on its own.
    await product.locator('button[data-action="restart"]').click();
    await page.locator("#f-msg", { hasText: "restart product: done" }).waitFor({ timeout: 10_000 });
    await page.locator('#units tr[data-unit="product"][data-ready="true"]').waitFor({ timeout: 30_000 });
    assert.deepEqual(problems, []);
  } catch (e) {
    await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
});
