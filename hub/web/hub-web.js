/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provision-hub's fleet page: follows the hub without reloading the page. The server renders
 * every view; this asks for the same view's <main> again (GET /ui/fragment/...?after=N), a
 * request the hub holds until one of its commits may have changed the view (or 25 s passed),
 * and swaps it in when it changed, so that a lock or a deactivation can be watched reaching the
 * fleet. Without JavaScript the page shows the state when it was loaded. */
"use strict";
(function () {
        const main = document.getElementById("main");
        const status = document.getElementById("live-status");
        if (!main || !main.dataset.live)
                return;
        const base = main.dataset.live + (main.dataset.live.indexOf("?") < 0 ? "?" : "&") + "after=";
        let last = null, generation = "";

        function say(text) {
                if (status && status.textContent !== text)
                        status.textContent = text;
        }

        function pause(ms) {
                return new Promise(resolve => setTimeout(resolve, ms));
        }

        async function follow() {
                for (;;) {
                        let r;
                        try {
                                r = await fetch(base + encodeURIComponent(generation),
                                                { credentials: "same-origin", cache: "no-store" });
                        } catch (e) {
                                say("The hub does not answer; retrying.");
                                await pause(2000);
                                continue;
                        }
                        if (r.status === 401) {
                                say("Signed out: the session ended. Sign in again to follow the hub.");
                                return;
                        }
                        if (!r.ok) {
                                say("The hub answered " + r.status + "; retrying.");
                                await pause(2000);
                                continue;
                        }
                        const text = await r.text();
                        generation = r.headers.get("X-Hub-Generation") || "";
                        if (text !== last) {
                                /* Only the hub's own markup, every name escaped by the server.
                                 * The first answer is swapped in too: the page may have changed
                                 * between its load and this script's start. */
                                main.innerHTML = text;
                                last = text;
                        }
                        say("Live: following the hub (updated " + new Date().toLocaleTimeString() + ").");
                        /* At least 1 s between answers (the hub re-renders the view for each),
                         * longer when it says so (its held requests were full). */
                        const retry = parseInt(r.headers.get("Retry-After") || "0", 10);
                        await pause(Math.max(1000, Math.min(retry > 0 ? retry * 1000 : 0, 60000)));
                }
        }

        follow();
})();
