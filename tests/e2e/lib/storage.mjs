// What the page has stored: IndexedDB keys of the model store and Cache Storage names/entries.

/** Every key in the "onestep-models"/"files" store (strings; chunk keys end in #i, partials in ~partial). */
export function idbKeys(page) {
  return page.evaluate(async () => {
    const db = await new Promise((res, rej) => {
      const r = indexedDB.open('onestep-models');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    if (!db.objectStoreNames.contains('files')) {
      db.close();
      return [];
    }
    const keys = await new Promise((res, rej) => {
      const r = db.transaction('files').objectStore('files').getAllKeys();
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    db.close();
    return keys.map(String);
  });
}

/** One value of the model store (small records only: index and partial records). */
export function idbRecord(page, key) {
  return page.evaluate(async (key) => {
    const db = await new Promise((res, rej) => {
      const r = indexedDB.open('onestep-models');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const v = await new Promise((res, rej) => {
      const r = db.transaction('files').objectStore('files').get(key);
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    db.close();
    return v ?? null;
  }, key);
}

/** The gallery's records ("onestep-gallery"/"entries"), each with its PNG's bytes (numbers, for the node side). */
export function galleryRecords(page) {
  return page.evaluate(async () => {
    const db = await new Promise((res, rej) => {
      const r = indexedDB.open('onestep-gallery');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    if (!db.objectStoreNames.contains('entries')) {
      db.close();
      return [];
    }
    const all = await new Promise((res, rej) => {
      const r = db.transaction('entries').objectStore('entries').getAll();
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    db.close();
    return Promise.all(all.map(async (e) => ({ ...e, png: Array.from(new Uint8Array(await e.png.arrayBuffer())) })));
  });
}

/** Cache Storage: { cacheName: [request URL paths] }. */
export function cacheContents(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      out[name] = (await cache.keys()).map((r) => new URL(r.url).pathname);
    }
    return out;
  });
}
