/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provision-hub's fleet page: follows the hub without reloading the page. The server renders
 * every view; this fetches the same view's <main> again (GET /ui/fragment/...) each second and
 * swaps it in when it changed, so that a lock or a deactivation can be watched reaching the
 * fleet. Without JavaScript the page shows the state when it was loaded. */
"use strict";
(function () {
        const main = document.getElementById("main");
        const status = document.getElementById("live-status");
        if (!main || !main.dataset.live)
                return;
        const url = main.dataset.live;
        let last = null, busy = false;

        function say(text) {
                if (status && status.textContent !== text)
                        status.textContent = text;
        }

        async function follow() {
                if (busy)
                        return;
                busy = true;
                try {
                        const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
                        if (r.status === 401) {
                                say("Signed out: the session ended. Sign in again to follow the hub.");
                                clearInterval(timer);
                                return;
                        }
                        if (!r.ok) {
                                say("The hub answered " + r.status + "; retrying.");
                                return;
                        }
                        const text = await r.text();
                        if (text !== last) {
                                /* Only the hub's own markup, every name escaped by the server.
                                 * The first answer is swapped in too: the page may have changed
                                 * between its load and this script's start. */
                                main.innerHTML = text;
                                last = text;
                        }
                        say("Live: following the hub (updated " + new Date().toLocaleTimeString() + ").");
                } catch (e) {
                        say("The hub does not answer; retrying.");
                } finally {
                        busy = false;
                }
        }

        const timer = setInterval(follow, 1000);
        follow();
})();
