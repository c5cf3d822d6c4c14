// SPDX-License-Identifier: LGPL-2.1-or-later
// Drives Debian's Chromium (headless, through playwright-core; no browser download) against the
// real hub that tests/web/test-hub-web.py started with real hosts following it. Reads its
// settings (URLs, tokens: never in argv) as JSON on stdin; prints "PASS: case" or
// "FAIL: case: why" per case and exits 1 when one failed.
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const cfg = JSON.parse(fs.readFileSync(0, "utf8"));
const STEP = 30000; // ms a browser wait may take; far above what the page takes to follow the hub
let failed = 0;

function check(cond, what) {
        if (!cond)
                throw new Error(what);
}

async function shot(page, name) {
        if (cfg.screenshots)
                await page.screenshot({ path: path.join(cfg.screenshots, name + ".png"), fullPage: true });
}

// Polls fn (async, true when done) until it is or STEP has passed.
async function until(fn, what) {
        const end = Date.now() + STEP;
        let last;
        while (Date.now() < end) {
                try {
                        if (await fn())
                                return;
                } catch (e) {
                        last = e;
                }
                await new Promise(r => setTimeout(r, 200));
        }
        throw new Error(`timed out waiting for ${what}` + (last ? ` (${last.message})` : ""));
}

// The IdP's side of the test, as an IdP does it: SCIM with its bearer token.
async function scim(method, p, body) {
        const r = await fetch(cfg.base + p, {
                method,
                headers: { Authorization: "Bearer " + cfg.scim, "Content-Type": "application/scim+json" },
                body: body ? JSON.stringify(body) : undefined,
        });
        check(r.status < 300, `${method} ${p} answered ${r.status}`);
        return r.status === 204 ? null : r.json();
}

async function admin(p) {
        const r = await fetch(cfg.base + p, { headers: { Authorization: "Bearer " + cfg.admin } });
        check(r.status === 200, `GET ${p} answered ${r.status}`);
        return r.json();
}

async function run(name, fn) {
        try {
                await fn();
                console.log(`PASS: ${name}`);
        } catch (e) {
                failed++;
                console.log(`FAIL: ${name}: ${e.message}`);
        }
}

function deactivate(id) {
        return scim("PATCH", `/scim/v2/Users/${id}`, {
                schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                Operations: [{ op: "replace", path: "active", value: false }],
        });
}

(async () => {
        const browser = await chromium.launch({ executablePath: cfg.chromium, headless: true,
                                                args: ["--no-sandbox", "--disable-gpu", "--no-first-run"] });
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        const problems = [];
        page.on("console", m => {
                if (m.type() === "error")
                        problems.push(m.text());
        });
        page.on("pageerror", e => problems.push(e.message));
        page.on("response", r => {
                if (r.status() >= 400)
                        problems.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
        });
        page.on("dialog", d => {
                problems.push("a dialog opened: " + d.message());
                d.dismiss();
        });

        await run("the sign-in form opens a session from the admin token", async () => {
                await page.goto(cfg.base + "/ui/");
                check(page.url().endsWith("/ui/login"), `not sent to the sign-in form: ${page.url()}`);
                await shot(page, "login");
                await page.getByLabel("Admin token").fill(cfg.admin);
                await Promise.all([page.waitForURL(cfg.base + "/ui/"), page.getByRole("button", { name: "Sign in" }).click()]);
                await page.getByRole("heading", { name: "Is their access gone?" }).waitFor();
                const cookies = await context.cookies();
                const c = cookies.find(x => x.name === "provision_session");
                check(c && c.httpOnly && c.sameSite === "Strict" && c.path === "/ui", `the session cookie: ${JSON.stringify(c)}`);
                check(!page.url().includes(cfg.admin), "the token is in the URL");
        });

        await run("a leaver's progress reaches 'gone on all hosts' live after the IdP's PATCH", async () => {
                await page.goto(cfg.base + "/ui/");
                // A mark in the page's own JavaScript world: a full reload would lose it.
                await page.evaluate(() => { window.provisionTestMark = 42; });
                await deactivate(cfg.leaver.id);
                const row = page.locator("#leavers tbody tr", { hasText: cfg.leaver.name });
                await until(async () => (await row.count()) === 1, "the leaver's row");
                await until(async () => (await row.locator("td.done").textContent()).startsWith("Gone on all hosts"),
                            "'Gone on all hosts' in the leaver's row");
                const text = await row.textContent();
                check(text.includes(`(${cfg.hosts} of ${cfg.hosts})`), `the row does not count every host: ${text}`);
                check(text.includes("deactivated") && text.includes("entra-test"), `what and who: ${text}`);
                check(await page.evaluate(() => window.provisionTestMark) === 42, "the page was reloaded");
        });

        await run("lock-now through its confirmation step reaches every host", async () => {
                await page.goto(cfg.base + "/ui/search?q=" + encodeURIComponent(cfg.lockee.name));
                await page.getByRole("link", { name: cfg.lockee.name }).click();
                await page.getByRole("button", { name: "Lock now…" }).click();
                await page.getByRole("heading", { name: `Lock ${cfg.lockee.name}?` }).waitFor();
                await page.getByRole("button", { name: "Lock now", exact: true }).click();
                await page.waitForURL(/\/ui\/leaver\?id=/);
                await until(async () => (await page.locator(".progress").textContent()).startsWith("Gone on all hosts"),
                            "the lock gone on all hosts").catch(async e => {
                        throw new Error(e.message + ": " + page.url() + " " + (await page.content()));
                });
                const facts = await page.locator("dl.facts").textContent();
                check(facts.includes("locked") && facts.includes("admin-test"), `the leaver page: ${facts}`);
                await until(async () => (await page.locator("tbody tr").count()) === cfg.hosts, "every host's ack");
                await shot(page, "leaver");
        });

        await run("search shows a person at the IdP, at the hub and per host", async () => {
                await page.goto(cfg.base + "/ui/");
                await page.getByLabel("Find a person").fill(cfg.lockee.display.slice(0, 6));
                await page.getByRole("button", { name: "Search" }).click();
                const row = page.locator("tbody tr", { hasText: cfg.lockee.name });
                await row.waitFor();
                const text = await row.textContent();
                check(text.includes("active") && text.includes("locked by admin-test") && text.includes("Gone on all hosts"),
                      `the search row: ${text}`);
                await shot(page, "search");
        });

        await run("hostile names are shown as text, never run", async () => {
                await page.goto(cfg.base + "/ui/search?q=" + encodeURIComponent("<script>"));
                const cellText = await page.locator("tbody th").first().textContent();
                check(cellText === cfg.hostile, `the hostile name reads ${JSON.stringify(cellText)}`);
                check(await page.locator("main script").count() === 0, "a script element in the page's main");
                check(await page.evaluate(() => window.provisionPwned === undefined), "the hostile name ran");
        });

        await run("a held change is approved through its confirmation step", async () => {
                // Deactivations until the guard holds some, as an IdP's mass deactivation would.
                let held = [];
                for (const id of cfg.staff) {
                        await deactivate(id);
                        held = (await admin("/v1/admin/holds")).users.map(u => u.id);
                        if (held.length >= 2)
                                break;
                }
                check(held.length >= 2, `the guard held ${held.length}`);
                await page.goto(cfg.base + "/ui/#holds");
                const rows = page.locator("#holds tbody tr");
                await until(async () => (await rows.count()) === held.length, "the held users on the page");
                await shot(page, "fleet");
                await page.getByRole("button", { name: "Approve…" }).click();
                await page.getByRole("heading", { name: "Approve the held changes?" }).waitFor();
                await shot(page, "approve");
                await page.getByRole("button", { name: "Approve and release" }).click();
                await page.waitForURL(/approved=/);
                const notice = await page.locator(".notice").textContent();
                check(notice.includes(`${held.length} held user(s) released`), `the notice: ${notice}`);
                check((await admin("/v1/admin/holds")).users.length === 0, "something is still held");
                console.log("HELD " + JSON.stringify(held));
        });

        await run("the page keeps no script or style inline and loads nothing from elsewhere", async () => {
                await page.goto(cfg.base + "/ui/");
                check(await page.locator("script:not([src])").count() === 0, "an inline script");
                check(await page.locator("style, [style]").count() === 0, "an inline style");
                const srcs = await page.locator("script[src], link[href]").evaluateAll(
                        els => els.map(e => e.getAttribute("src") || e.getAttribute("href")));
                check(srcs.every(s => s.startsWith("/ui/static/")), `assets: ${srcs}`);
                check(problems.length === 0, `console errors (a CSP violation?): ${problems.join(" | ")}`);
        });

        await run("every control has a label, every table its headers, and text a contrast of 4.5:1", async () => {
                for (const url of ["/ui/", "/ui/search?q=e", `/ui/leaver?id=${cfg.lockee.id}`]) {
                        await page.goto(cfg.base + url);
                        const report = await page.evaluate(() => {
                                const bad = [];
                                for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea"))
                                        if (!el.labels || el.labels.length === 0)
                                                bad.push(`no label: ${el.outerHTML}`);
                                for (const th of document.querySelectorAll("th"))
                                        if (!th.getAttribute("scope"))
                                                bad.push(`th without scope: ${th.textContent}`);
                                for (const t of document.querySelectorAll("table"))
                                        if (!t.querySelector("caption"))
                                                bad.push("a table without a caption");
                                if (!document.querySelector("header") || !document.querySelector("main") ||
                                    !document.querySelector("nav") || document.documentElement.lang !== "en")
                                        bad.push("landmarks or lang missing");
                                // WCAG 2 relative luminance and contrast ratio.
                                const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
                                const lum = ([r, g, b]) => {
                                        const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                                        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
                                };
                                const background = el => {
                                        for (; el; el = el.parentElement) {
                                                const c = rgb(getComputedStyle(el).backgroundColor);
                                                if (c.length === 3 || (c.length === 4 && c[3] > 0))
                                                        return c.slice(0, 3);
                                        }
                                        return [255, 255, 255];
                                };
                                let checked = 0;
                                for (const el of document.querySelectorAll("body *")) {
                                        const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
                                        if (!own || el.closest("svg"))
                                                continue;
                                        const a = lum(rgb(getComputedStyle(el).color).slice(0, 3)), b = lum(background(el));
                                        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
                                        checked++;
                                        if (ratio < 4.5)
                                                bad.push(`contrast ${ratio.toFixed(2)} of ${el.tagName} '${el.textContent.trim().slice(0, 30)}'`);
                                }
                                if (checked < 10)
                                        bad.push(`only ${checked} text elements checked`);
                                return bad;
                        });
                        check(report.length === 0, `${url}: ${report.join("; ")}`);
                }
        });

        await run("without JavaScript the tables are there", async () => {
                const nojs = await browser.newContext({ javaScriptEnabled: false });
                const p = await nojs.newPage();
                await p.goto(cfg.base + "/ui/login");
                await p.getByLabel("Admin token").fill(cfg.admin);
                await p.getByRole("button", { name: "Sign in" }).click();
                await p.waitForURL(cfg.base + "/ui/");
                check(await p.locator("#leavers tbody tr", { hasText: cfg.leaver.name }).count() === 1, "no leaver row");
                check(await p.locator("#fleet tbody tr").count() === cfg.hosts, "the fleet table");
                check(await p.locator("#sources tbody tr").count() >= 1, "the sources table");
                await nojs.close();
        });

        await run("signing out ends the session", async () => {
                await page.goto(cfg.base + "/ui/");
                const cookie = (await context.cookies()).find(x => x.name === "provision_session").value;
                await page.getByRole("button", { name: "Sign out" }).click();
                await page.waitForURL(cfg.base + "/ui/login");
                const r = await fetch(cfg.base + "/ui/fragment/", { headers: { Cookie: "provision_session=" + cookie } });
                check(r.status === 401, `the old cookie answered ${r.status}`);
                console.log("OLDCOOKIE " + cookie);
        });

        await browser.close();
        process.exit(failed ? 1 : 0);
})().catch(e => {
        console.log(`FAIL: the browser driver: ${e.stack || e}`);
        process.exit(1);
});
