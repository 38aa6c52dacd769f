// Offline use: on install, cache every file the page needs (the list and the version are written by
// pocketecg.app.site when the site is built); afterwards answer from the cache first. A new version
// (any changed file) installs under a new cache name and the old cache is deleted.
const VERSION = "__VERSION__";
const CACHE = `pocketecg-${VERSION}`;
const PRECACHE = __PRECACHE__;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith("pocketecg-") && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).pathname.includes("/api/")) return;  // the API is online only
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(request, { ignoreSearch: true })
      ?? (request.mode === "navigate" ? await cache.match("./") : undefined);
    return hit ?? fetch(request);
  })());
});
