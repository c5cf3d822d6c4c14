#!/usr/bin/env node
// SCIM 2.0 (RFC 7643/7644) test server for provision's integration tests and demo.
//
// express 4 + scimmy + scimmy-routers, an in-memory directory, bearer-token auth,
// and a loopback-only test-control API under /_control (see README.md).
//
//   node tests/scim-server/server.js --port 0 --data FILE [--token TOKEN]
//        [--token-file PATH] [--port-file PATH] [--page-cap N] [--default-count N]
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const crypto = require("node:crypto");
const express = require("express");
const SCIMMY = require("scimmy");
const {SCIMMYRouters} = require("scimmy-routers");

const BASE = "/scim/v2";
const POSIX_USER = "urn:ietf:params:scim:schemas:extension:posix:2.0:User";
const POSIX_GROUP = "urn:ietf:params:scim:schemas:extension:posix:2.0:Group";
const LOG_MAX = 200;

// ---------------------------------------------------------------- arguments
function usage(msg) {
    if (msg) process.stderr.write(`server.js: ${msg}\n`);
    process.stderr.write("usage: server.js --port N|0 [--data FILE] [--token TOKEN | --token-file PATH]\n" +
        "                 [--port-file PATH] [--page-cap N] [--default-count N] [--host 127.0.0.1]\n");
    process.exit(2);
}

function parseArgs(argv) {
    const a = {port: 0, data: null, token: null, tokenFile: null, portFile: null,
        pageCap: 1000, defaultCount: 100, host: "127.0.0.1"};
    const intArg = (name, v) => {
        if (v === undefined || !/^\d+$/.test(v)) usage(`${name} needs a non-negative integer`);
        return Number(v);
    };
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i], v = argv[i + 1];
        switch (k) {
            case "--port": a.port = intArg(k, v); i++; break;
            case "--data": if (v === undefined) usage("--data needs a file"); a.data = v; i++; break;
            case "--token": if (!v) usage("--token needs a value"); a.token = v; i++; break;
            case "--token-file": if (!v) usage("--token-file needs a path"); a.tokenFile = v; i++; break;
            case "--port-file": if (!v) usage("--port-file needs a path"); a.portFile = v; i++; break;
            case "--page-cap": a.pageCap = intArg(k, v); i++; break;
            case "--default-count": a.defaultCount = intArg(k, v); i++; break;
            case "--host": if (!v) usage("--host needs a value"); a.host = v; i++; break;
            case "-h": case "--help": usage();
            default: usage(`unknown argument '${k}'`);
        }
    }
    if (!["127.0.0.1", "::1", "localhost"].includes(a.host)) usage("--host must be a loopback address");
    if (a.tokenFile) a.token = fs.readFileSync(a.tokenFile, "utf8").trim();
    if (!a.token) a.token = process.env.SCIM_TOKEN || "test-token";
    return a;
}

const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- options (steerable via /_control/options)
const DEFAULT_OPTIONS = () => ({
    pageCap: args.pageCap,          // max items per page regardless of count (0 = no cap)
    defaultCount: args.defaultCount, // page size when the client sends no count
    lieItemsPerPage: false,         // true, or a number to report as itemsPerPage
    filtering: true,                // false: filter requests get 400 invalidFilter
    userGroups: false,              // true: fill the read-only User "groups" attribute
    mutateDuringPaging: null,       // see README
});
let options = DEFAULT_OPTIONS();

// ---------------------------------------------------------------- store
let lastStamp = 0;
function stamp() {
    // strictly increasing, millisecond ISO timestamps, so "ge T" deltas are exact
    let t = Date.now();
    if (t <= lastStamp) t = lastStamp + 1;
    lastStamp = t;
    return new Date(t).toISOString();
}

const clone = (o) => (o === undefined ? o : JSON.parse(JSON.stringify(o)));
const lc = (s) => String(s ?? "").toLowerCase();

class Collection {
    constructor(kind) {
        this.kind = kind;               // "User" | "Group"
        this.map = new Map();           // id -> plain resource (insertion order = list order)
        this.gen = 0;
        this._list = null;
        this._filterCache = new Map();
    }
    touch() { this.gen++; this._list = null; this._filterCache.clear(); }
    list() { return this._list ??= Array.from(this.map.values()); }
}

const store = {Users: new Collection("User"), Groups: new Collection("Group"), userNames: new Map()};

function prepare(kind, r, now) {
    if (Object(r) !== r || Array.isArray(r)) throw new TypeError(`${kind} entries must be objects`);
    const o = clone(r);
    if (o.id === undefined || o.id === null || o.id === "") o.id = crypto.randomUUID();
    o.id = String(o.id);
    o.meta = {...(o.meta ?? {}), resourceType: kind};
    o.meta.created ??= now;
    o.meta.lastModified ??= o.meta.created;
    delete o.meta.location;
    return o;
}

function loadDirectory(doc) {
    if (Object(doc) !== doc || Array.isArray(doc)) throw new TypeError("directory must be an object {\"Users\":[...],\"Groups\":[...]}");
    const users = doc.Users ?? doc.users ?? [];
    const groups = doc.Groups ?? doc.groups ?? [];
    if (!Array.isArray(users) || !Array.isArray(groups)) throw new TypeError("Users and Groups must be arrays");
    const now = stamp();
    const U = new Map(), G = new Map(), names = new Map();
    for (const r of users) {
        const o = prepare("User", r, now);
        if (U.has(o.id)) throw new TypeError(`duplicate User id '${o.id}'`);
        U.set(o.id, o);
        if (o.userName !== undefined) names.set(lc(o.userName), o.id);
    }
    for (const r of groups) {
        const o = prepare("Group", r, now);
        if (G.has(o.id)) throw new TypeError(`duplicate Group id '${o.id}'`);
        G.set(o.id, o);
    }
    store.Users.map = U; store.Users.touch();
    store.Groups.map = G; store.Groups.touch();
    store.userNames = names;
    userGroupsIndex = null;
}

let userGroupsIndex = null, userGroupsGen = -1;
function groupsOfUser(id) {
    if (!userGroupsIndex || userGroupsGen !== store.Groups.gen) {
        userGroupsIndex = new Map();
        for (const g of store.Groups.list()) for (const m of g.members ?? []) {
            if (m?.value === undefined) continue;
            const k = String(m.value);
            if (!userGroupsIndex.has(k)) userGroupsIndex.set(k, []);
            userGroupsIndex.get(k).push({value: g.id, display: g.displayName, type: "direct"});
        }
        userGroupsGen = store.Groups.gen;
    }
    return userGroupsIndex.get(id);
}

// ---------------------------------------------------------------- filtering (scimmy parses, we apply)
function fastFilter(coll, filter) {
    // Fast paths for the expressions a sync client uses; null means "use scimmy's Filter.match".
    if (filter.length !== 1) return null;
    const expr = filter[0], keys = Object.keys(expr);
    if (keys.length !== 1) return null;
    const key = keys[0], cond = expr[key];
    if (key === "id" && Array.isArray(cond) && cond.length === 2 && lc(cond[0]) === "eq") {
        const r = coll.map.get(String(cond[1]));
        return r ? [r] : [];
    }
    if (key === "userName" && Array.isArray(cond) && cond.length === 2 && lc(cond[0]) === "eq" && coll === store.Users) {
        // userName is caseExact=false (RFC 7643 4.1.1)
        const id = store.userNames.get(lc(cond[1]));
        const r = id !== undefined ? coll.map.get(id) : undefined;
        return r ? [r] : [];
    }
    if (key === "meta" && !Array.isArray(cond) && Object(cond) === cond) {
        const sub = Object.keys(cond);
        if (sub.length === 1 && ["lastmodified", "created"].includes(lc(sub[0]))) {
            const c = cond[sub[0]];
            if (Array.isArray(c) && c.length === 2 && ["gt", "ge", "lt", "le"].includes(lc(c[0]))) {
                const want = Date.parse(c[1]);
                if (Number.isNaN(want)) throw new SCIMMY.Types.Error(400, "invalidFilter", `Invalid date '${c[1]}' in filter`);
                const field = lc(sub[0]) === "created" ? "created" : "lastModified";
                const op = lc(c[0]);
                return coll.list().filter(r => {
                    const t = Date.parse(r.meta?.[field]);
                    if (Number.isNaN(t)) return false;
                    return op === "gt" ? t > want : op === "ge" ? t >= want : op === "lt" ? t < want : t <= want;
                });
            }
        }
    }
    return null;
}

function matching(coll, filter) {
    if (!filter) return coll.list();
    const key = filter.expression;
    let hit = coll._filterCache.get(key);
    if (hit) return hit;
    hit = fastFilter(coll, filter) ?? filter.match(coll.list());
    if (coll._filterCache.size >= 16) coll._filterCache.delete(coll._filterCache.keys().next().value);
    coll._filterCache.set(key, hit);
    return hit;
}

// ---------------------------------------------------------------- scimmy handlers
function decorate(coll, r) {
    if (coll === store.Users && options.userGroups) {
        const g = groupsOfUser(r.id);
        if (g) return {...r, groups: g};
    }
    return r;
}

function egressFor(coll) {
    return (resource, req) => {
        if (resource.id) {
            const r = coll.map.get(resource.id);
            if (!r) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            return clone(decorate(coll, r));
        }
        if (resource.filter && !options.filtering)
            throw new SCIMMY.Types.Error(400, "invalidFilter", "Filtering is not supported by this service provider");
        const all = matching(coll, resource.filter);
        // A root-level POST /.search spans resource types; scimmy merges, slices and
        // counts the combined list itself, so hand it everything that matched.
        if (req.originalUrl.split("?")[0].replace(/\/+$/, "") === `${BASE}/.search`)
            return all.map(r => decorate(coll, r));
        const c = resource.constraints ?? {};
        const startIndex = Math.max(1, Number.isInteger(c.startIndex) ? c.startIndex : 1);
        let count = Number.isInteger(c.count) ? Math.max(0, c.count) : options.defaultCount;
        if (options.pageCap > 0) count = Math.min(count, options.pageCap);
        const page = all.slice(startIndex - 1, startIndex - 1 + count).map(r => decorate(coll, r));
        let reported = page.length;
        if (options.lieItemsPerPage !== false && options.lieItemsPerPage !== null) {
            const asked = Number.isInteger(c.count) ? c.count : options.defaultCount;
            reported = Number.isInteger(options.lieItemsPerPage) ? options.lieItemsPerPage
                : (asked !== page.length ? asked : page.length + 1);
        }
        // The page is already sliced. scimmy's ListResponse would slice again when
        // startIndex <= page length, so hand it a startIndex past the page and put the
        // real startIndex/itemsPerPage back just before the response is sent.
        req.res.locals.scimPage = {startIndex, itemsPerPage: reported};
        resource.constraints = {startIndex: page.length + 1, itemsPerPage: page.length, totalResults: all.length};
        return page;
    };
}

function ingressFor(coll) {
    return (resource, instance, req) => {
        const data = clone(instance);
        delete data.groups; // read-only, computed
        const now = stamp();
        let old;
        if (resource.id) {
            old = coll.map.get(resource.id);
            if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            data.id = old.id;
            data.meta = {resourceType: coll.kind, created: old.meta?.created ?? now, lastModified: now};
        } else {
            data.id = crypto.randomUUID();
            data.meta = {resourceType: coll.kind, created: now, lastModified: now};
        }
        if (coll === store.Users) {
            const holder = store.userNames.get(lc(data.userName));
            if (holder !== undefined && holder !== data.id)
                throw new SCIMMY.Types.Error(409, "uniqueness", `userName '${data.userName}' is already in use`);
            if (old && lc(old.userName) !== lc(data.userName)) store.userNames.delete(lc(old.userName));
            store.userNames.set(lc(data.userName), data.id);
        }
        coll.map.set(data.id, data);
        coll.touch();
        return clone(decorate(coll, data));
    };
}

function removeMemberEverywhere(userId) {
    const now = stamp();
    let changed = false;
    for (const g of store.Groups.map.values()) {
        if (!Array.isArray(g.members)) continue;
        const before = g.members.length;
        g.members = g.members.filter(m => String(m?.value) !== userId);
        if (g.members.length !== before) { g.meta.lastModified = now; changed = true; }
    }
    if (changed) store.Groups.touch();
}

function degressFor(coll) {
    return (resource) => {
        const old = coll.map.get(resource.id);
        if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        coll.map.delete(resource.id);
        coll.touch();
        if (coll === store.Users) {
            if (store.userNames.get(lc(old.userName)) === old.id) store.userNames.delete(lc(old.userName));
            removeMemberEverywhere(old.id);
        }
    };
}

// ---------------------------------------------------------------- scimmy declarations
const {Attribute, SchemaDefinition} = SCIMMY.Types;
const PosixUser = new SchemaDefinition("PosixUser", POSIX_USER, "POSIX account attributes", [
    new Attribute("integer", "uidNumber"),
    new Attribute("integer", "gidNumber"),
    new Attribute("string", "homeDirectory", {caseExact: true}),
    new Attribute("string", "loginShell", {caseExact: true}),
]);
const PosixGroup = new SchemaDefinition("PosixGroup", POSIX_GROUP, "POSIX group attributes", [
    new Attribute("integer", "gidNumber"),
]);

SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .extend(SCIMMY.Schemas.EnterpriseUser, false)
    .extend(PosixUser, false)
    .ingress(ingressFor(store.Users)).egress(egressFor(store.Users)).degress(degressFor(store.Users));
SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .extend(PosixGroup, false)
    .ingress(ingressFor(store.Groups)).egress(egressFor(store.Groups)).degress(degressFor(store.Groups));

// scimmy-routers sizes its JSON body parser from bulk.maxPayloadSize (default 1 MiB);
// a 50k-member group PUT is larger than that.
SCIMMY.Config.set({bulk: {supported: false, maxPayloadSize: 256 * 1024 * 1024}});

function syncServiceProviderConfig() {
    SCIMMY.Config.set({
        patch: true, bulk: false, sort: false, etag: false, changePassword: false,
        filter: {supported: !!options.filtering, maxResults: options.pageCap > 0 ? options.pageCap : 100000},
    });
}

function tokenOk(header) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
    if (!m) return false;
    const a = crypto.createHash("sha256").update(m[1]).digest();
    const b = crypto.createHash("sha256").update(args.token).digest();
    return crypto.timingSafeEqual(a, b);
}

let boundPort = 0;
const scimRouter = new SCIMMYRouters({
    type: "bearer",
    docUri: "https://datatracker.ietf.org/doc/html/rfc6750",
    handler: (req) => {
        if (!tokenOk(req.get("authorization"))) {
            req.res.set("WWW-Authenticate", 'Bearer realm="scim"');
            throw new Error(req.get("authorization") ? "Invalid bearer token" : "Authorization required");
        }
        return undefined;
    },
    context: (req) => req,
    baseUri: (req) => `http://${req.get("host") || `127.0.0.1:${boundPort}`}`,
});
syncServiceProviderConfig();

// ---------------------------------------------------------------- faults, stats, log
let faults = [];
const stats = {requests: 0, byPath: {}, byStatus: {}};
let requestLog = [];
const listCounts = new Map(); // collection path -> list GETs served (for mutateDuringPaging)

function normalizeFault(f) {
    if (Object(f) !== f || Array.isArray(f)) throw new TypeError("fault must be an object");
    const n = {
        path: typeof f.path === "string" && f.path ? f.path : "*",
        method: typeof f.method === "string" ? f.method.toUpperCase() : null,
        status: f.status === undefined ? null : Number(f.status),
        count: f.count === undefined ? 1 : Number(f.count),
        retryAfter: f.retryAfter === undefined ? null : String(f.retryAfter),
        delayMs: f.delayMs === undefined ? 0 : Number(f.delayMs),
        body: f.body === undefined ? null : String(f.body),
        afterRequests: f.afterRequests === undefined ? 0 : Number(f.afterRequests),
        exact: !!f.exact,
        hits: 0,
    };
    if (n.status !== null && !(Number.isInteger(n.status) && n.status >= 100 && n.status <= 599)) throw new TypeError("status must be an HTTP status code");
    for (const k of ["count", "delayMs", "afterRequests"]) if (!Number.isInteger(n[k]) || n[k] < 0) throw new TypeError(`${k} must be a non-negative integer`);
    if (n.status === null && n.delayMs === 0 && n.body === null) throw new TypeError("fault needs status, delayMs or body");
    return n;
}

function faultMatches(f, req) {
    if (f.method && f.method !== req.method) return false;
    if (f.path === "*") return true;
    const full = req.baseUrl + req.path;          // /scim/v2/Users/123
    const rel = req.path;                           // /Users/123
    const p = f.path.replace(/\/+$/, "") || "/";
    const under = (s) => s === p || (!f.exact && (s.startsWith(p + "/") || p === "/"));
    return under(rel) || under(full);
}

function faultMiddleware(req, res, next) {
    const f = faults.find(f => f.count > 0 && faultMatches(f, req));
    if (!f) return next();
    if (f.afterRequests > 0) { f.afterRequests--; return next(); }
    f.count--; f.hits++;
    const answer = () => {
        if (f.status === null && f.body === null) return next(); // pure delay
        if (f.retryAfter !== null) res.set("Retry-After", f.retryAfter);
        const status = f.status ?? 200;
        res.status(status).set("Content-Type", "application/scim+json");
        if (f.body !== null) return res.send(Buffer.from(f.body, "utf8"));
        res.send(JSON.stringify({schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
            status: String(status), detail: `Injected fault (${status})`}));
    };
    if (f.delayMs > 0) {
        const t = setTimeout(answer, f.delayMs);
        res.on("close", () => clearTimeout(t));
    } else answer();
}

function recordMiddleware(req, res, next) {
    const t0 = process.hrtime.bigint();
    // capture before the routers rewrite req.baseUrl/req.path and cast req.query
    const p = (req.baseUrl + req.path).replace(/(.)\/+$/, "$1");
    const rel = p.slice(BASE.length) || "/";
    const query = {...req.query};
    res.on("finish", () => {
        stats.requests++;
        stats.byPath[p] = (stats.byPath[p] ?? 0) + 1;
        stats.byStatus[res.statusCode] = (stats.byStatus[res.statusCode] ?? 0) + 1;
        requestLog.push({time: new Date().toISOString(), method: req.method, path: p, query,
            status: res.statusCode, ms: Math.round(Number(process.hrtime.bigint() - t0) / 1e5) / 10});
        if (requestLog.length > LOG_MAX) requestLog = requestLog.slice(-LOG_MAX);
        if (req.method === "GET" && res.statusCode === 200 && (rel === "/Users" || rel === "/Groups")) {
            listCounts.set(rel, (listCounts.get(rel) ?? 0) + 1);
            maybeMutate(rel);
        }
    });
    next();
}

// mutateDuringPaging: {"path": "/Users", "afterRequests": K, "delete": [ids],
//                      "add": [resources], "prepend": bool, "modify": [{"id":..., ...attrs}]}
function maybeMutate(p) {
    const m = options.mutateDuringPaging;
    if (!m || (m.path ?? "/Users") !== p) return;
    if ((listCounts.get(p) ?? 0) < (m.afterRequests ?? 1)) return;
    options.mutateDuringPaging = null;
    const coll = p === "/Groups" ? store.Groups : store.Users;
    const now = stamp();
    for (const id of m.delete ?? []) {
        const old = coll.map.get(String(id));
        if (!old) continue;
        coll.map.delete(old.id);
        if (coll === store.Users) { store.userNames.delete(lc(old.userName)); removeMemberEverywhere(old.id); }
    }
    for (const mod of m.modify ?? []) {
        const old = coll.map.get(String(mod.id));
        if (!old) continue;
        const upd = {...old, ...clone(mod), id: old.id, meta: {...old.meta, lastModified: now}};
        if (coll === store.Users && lc(old.userName) !== lc(upd.userName)) {
            store.userNames.delete(lc(old.userName)); store.userNames.set(lc(upd.userName), upd.id);
        }
        coll.map.set(old.id, upd);
    }
    const added = (m.add ?? []).map(r => {
        const o = prepare(coll.kind, r, now);
        o.meta.created = o.meta.lastModified = now;
        if (coll === store.Users && o.userName !== undefined) store.userNames.set(lc(o.userName), o.id);
        return o;
    });
    if (added.length) {
        if (m.prepend) {
            const rest = Array.from(coll.map.entries()).filter(([id]) => !added.some(a => a.id === id));
            coll.map = new Map([...added.map(a => [a.id, a]), ...rest]);
        } else for (const a of added) coll.map.set(a.id, a);
    }
    coll.touch();
}

// ---------------------------------------------------------------- app
const app = express();
app.disable("x-powered-by");
app.set("etag", false);
app.set("query parser", "simple"); // keep filter strings with [] intact

function loopbackOnly(req, res, next) {
    const a = req.socket.remoteAddress ?? "";
    if (a === "127.0.0.1" || a === "::1" || a === "::ffff:127.0.0.1") return next();
    res.status(403).json({error: "control API is loopback only"});
}

const control = express.Router();
control.use(loopbackOnly);
control.use(express.json({limit: "1gb", type: () => true}));
const ok = (res, body = {ok: true}) => res.json(body);
const bad = (res, ex) => res.status(400).json({error: ex.message ?? String(ex)});
const summary = () => ({users: store.Users.map.size, groups: store.Groups.map.size});

control.get("/health", (req, res) => ok(res, {ok: true, port: boundPort, ...summary()}));
control.post("/reset", (req, res) => {
    try { loadDirectory(req.body ?? {}); ok(res, {ok: true, ...summary()}); } catch (ex) { bad(res, ex); }
});
control.get("/dump", (req, res) => ok(res, {Users: store.Users.list(), Groups: store.Groups.list()}));
control.get("/fault", (req, res) => ok(res, {faults}));
control.post("/fault", (req, res) => {
    try {
        const list = (Array.isArray(req.body) ? req.body : [req.body]).map(normalizeFault);
        faults.push(...list);
        ok(res, {ok: true, faults});
    } catch (ex) { bad(res, ex); }
});
control.delete("/fault", (req, res) => { faults = []; ok(res); });
control.get("/options", (req, res) => ok(res, options));
control.post("/options", (req, res) => {
    const b = req.body ?? {};
    if (Object(b) !== b || Array.isArray(b)) return bad(res, new TypeError("options must be an object"));
    const next = {...options};
    for (const [k, v] of Object.entries(b)) {
        if (!(k in next)) return bad(res, new TypeError(`unknown option '${k}'`));
        if (["pageCap", "defaultCount"].includes(k) && !(Number.isInteger(v) && v >= 0)) return bad(res, new TypeError(`${k} must be a non-negative integer`));
        if (["filtering", "userGroups"].includes(k) && typeof v !== "boolean") return bad(res, new TypeError(`${k} must be a boolean`));
        if (k === "lieItemsPerPage" && !(typeof v === "boolean" || Number.isInteger(v))) return bad(res, new TypeError("lieItemsPerPage must be a boolean or an integer"));
        if (k === "mutateDuringPaging" && v !== null && (Object(v) !== v || Array.isArray(v))) return bad(res, new TypeError("mutateDuringPaging must be an object or null"));
        next[k] = v;
    }
    if (b.mutateDuringPaging) listCounts.clear();
    options = next;
    syncServiceProviderConfig();
    ok(res, options);
});
control.delete("/options", (req, res) => { options = DEFAULT_OPTIONS(); syncServiceProviderConfig(); ok(res, options); });
control.get("/stats", (req, res) => ok(res, {requests: stats.requests, byPath: stats.byPath, byStatus: stats.byStatus, ...summary()}));
control.post("/stats/reset", (req, res) => {
    stats.requests = 0; stats.byPath = {}; stats.byStatus = {}; requestLog = []; listCounts.clear();
    ok(res);
});
control.get("/log", (req, res) => ok(res, requestLog));
control.post("/shutdown", (req, res) => { ok(res); setImmediate(shutdown); });
control.use((req, res) => res.status(404).json({error: "unknown control endpoint"}));
control.use((ex, req, res, next) => res.status(ex.status ?? 400).json({error: ex.message}));
app.use("/_control", control);

app.use(BASE, recordMiddleware, faultMiddleware, (req, res, next) => {
    // Restore the real startIndex/itemsPerPage of a page the egress handler pre-sliced.
    const send = res.send;
    res.send = function (body) {
        const fix = res.locals.scimPage;
        if (fix && body instanceof SCIMMY.Messages.ListResponse) {
            body.startIndex = fix.startIndex;
            body.itemsPerPage = fix.itemsPerPage;
        }
        return send.call(this, body);
    };
    next();
}, scimRouter);

app.use((req, res) => res.status(404).type("application/scim+json").send(JSON.stringify({
    schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "404", detail: "Endpoint Not Found"})));
// scimmy-routers answers errors itself and then calls next(ex) for 5xx; do not let
// express's final handler touch an already answered response.
app.use((ex, req, res, next) => {
    if (res.headersSent) { if ((ex.status ?? 500) >= 500) process.stderr.write(`scim-server: ${ex.stack ?? ex}\n`); return; }
    const status = ex.status ?? ex.statusCode ?? 500;
    res.status(status).type("application/scim+json").send(JSON.stringify({
        schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(status),
        ...(ex.type === "entity.parse.failed" ? {scimType: "invalidSyntax"} : {}), detail: ex.message}));
});

// ---------------------------------------------------------------- start
if (args.data) {
    try { loadDirectory(JSON.parse(fs.readFileSync(args.data, "utf8"))); }
    catch (ex) { process.stderr.write(`server.js: cannot load ${args.data}: ${ex.message}\n`); process.exit(1); }
}

const server = app.listen(args.port, args.host === "localhost" ? "127.0.0.1" : args.host, () => {
    boundPort = server.address().port;
    if (args.portFile) {
        const tmp = `${args.portFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, `${boundPort}\n`);
        fs.renameSync(tmp, args.portFile);
    }
    process.stdout.write(`listening on ${args.host === "::1" ? "[::1]" : "127.0.0.1"}:${boundPort}\n`);
});
server.keepAliveTimeout = 30000;
server.on("error", (ex) => { process.stderr.write(`server.js: ${ex.message}\n`); process.exit(1); });

function shutdown() {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
