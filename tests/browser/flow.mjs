// The listener's whole flow on songrec's web page, in headless chromium (playwright-core)
// against the real `songrec serve`. Run by run.sh, which makes the model and the files
// and passes them in the environment:
//   SONGREC_BIN, SONGREC_MODEL, SONGREC_WORK (scratch folder with history.jsonl,
//   notes.txt, stats.json, evaluate.json, gridsearch.json, plays-history.txt),
//   SONGREC_OUT (screenshots), SONGREC_XSS_ARTIST / SONGREC_XSS_TRACK (catalog names
//   that are markup), SONGREC_IMPLICIT_MODEL / SONGREC_IMPLICIT_ABOUT (an ALS model of
//   songs without artists, and its ranking evaluation), CHROMIUM.
//
// Steps: an empty list offers songs to rate; three songs found by search (one with the
// keyboard only, one by a lower-case accentless song name, one through an upper-case
// artist name), rated and added; a rating changed; 10 recommendations, none already
// rated, each with a predicted rating and why; the options; the discovery slider
// re-ranks without a reload; an artist blocked disappears; reload and server restart
// keep the list; more like this; JSPF and XSPF downloads; a history upload; an API error
// shown in words; names that are markup shown as text; the About view (and its charts
// from GET /api/about, with a failed grid-search point); a phone-sized screen; double
// clicks; clear with undo; a first visit in two tabs; a profile deleted mid-session; a
// label on every control. Then the implicit model: plays shown as plays, scores as
// scores, songs without artists, remove and undo keeping a history's plays, search
// typed and cleared at once or too long (a fake clock), About sections that fail
// alone, the ranking evaluation. Fails on an uncaught page error, a CSP violation or an
// alert().
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
  if (!process.env[k]) throw new Error(`flow.mjs: ${k} is not set (run it through run.sh)`);
  return process.env[k];
};
const BIN = env('SONGREC_BIN');
const MODEL = env('SONGREC_MODEL');
const WORK = env('SONGREC_WORK');
const OUT = env('SONGREC_OUT');
const XSS_ARTIST = env('SONGREC_XSS_ARTIST');
const XSS_TRACK = env('SONGREC_XSS_TRACK');
const IMPLICIT_MODEL = env('SONGREC_IMPLICIT_MODEL');
const IMPLICIT_ABOUT = env('SONGREC_IMPLICIT_ABOUT');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DB = join(WORK, 'profiles.db');
const T0 = Date.now();

// ---- the server ---------------------------------------------------------------------

let server = null;

async function startServer(port, model = MODEL, db = DB, about = WORK) {
  const child = spawn(BIN, ['serve', model, '--port', String(port), '--db', db, '--threads', '4', '--about', about], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 30000);
    child.stdout.on('data', (b) => {
      out += b;
      const m = out.match(/^songrec: serving .* on (http:\/\/127\.0\.0\.1:\d+\/)$/m);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  server = { child, url, port: Number(new URL(url).port), stderr: () => stderr };
  return server;
}

async function stopServer() {
  const { child } = server;
  server = null;
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`server exited ${code} after SIGTERM`);
}

// ---- checks and steps -----------------------------------------------------------------

let passed = 0;
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  passed++;
}

let page;
let shot = 0;
// The whole page, or only what the window shows (fullPage false: fixed messages in place).
async function screenshot(name, fullPage = true) {
  shot++;
  const file = join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage });
}

async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
  } catch (e) {
    if (page) await page.screenshot({ path: join(OUT, 'failed.png'), fullPage: true }).catch(() => {});
    console.error(`FAIL: ${name}: ${e.message}`);
    if (server) console.error(`server log:\n${server.stderr()}`);
    throw e;
  }
  console.log(`ok   ${name} (${Date.now() - t} ms)`);
}

async function apiGet(path) {
  const r = await page.request.get(server.url + path.replace(/^\//, ''));
  if (!r.ok()) throw new Error(`GET ${path}: ${r.status()} ${await r.text()}`);
  return r.json();
}

async function token() {
  return page.evaluate(() => localStorage.getItem('songrec.token'));
}

async function profile() {
  return apiGet(`/api/profiles/${await token()}`);
}

const listRows = () => page.locator('#rated-list > li');
const recRows = () => page.locator('#rec-list > li');

async function recIds() {
  return recRows().evaluateAll((lis) => lis.map((li) => Number(li.dataset.id)));
}

async function recArtists() {
  return recRows().evaluateAll((lis) => lis.map((li) => Number(li.dataset.artistId)));
}

// Waits for the recommendation list to be settled: n rows and no request in flight.
async function recsSettled(n = 10) {
  await page.waitForFunction(
    (k) => {
      const ol = document.getElementById('rec-list');
      return ol.children.length === k && ol.getAttribute('aria-busy') !== 'true';
    },
    n,
  );
}

function stripAccents(s) {
  return s.normalize('NFD').replace(/\p{M}/gu, '');
}

// ---- the flow -----------------------------------------------------------------------

const problems = []; // uncaught page errors, CSP violations, alert() calls
const outside = []; // requests to anywhere but the server

// A new tab that reports its problems.
async function newPage(context) {
  const p = await context.newPage();
  p.setDefaultTimeout(10000);
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  p.on('dialog', (d) => {
    problems.push(`a dialog opened: ${d.type()} ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  p.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  p.on('request', (r) => {
    // (between the two servers, a tab of the first one has no server to compare with)
    if (server && !r.url().startsWith(server.url) && !r.url().startsWith('data:')) outside.push(r.url());
  });
  return p;
}

async function ready(p, hash = '') {
  await p.goto(server.url + hash);
  await p.waitForSelector('html[data-ready="true"]');
}

const errorTexts = (p) => p.locator('#errors .message').allTextContents();

// Clicks the element twice in one go, as a double-click's second click lands while the
// first one's request runs.
async function clickTwice(locator) {
  await locator.evaluate((el) => {
    el.click();
    el.click();
  });
}

// A rating as GET /api/profiles answers it, in words, for comparing whole ratings.
const ratingKey = (r) => JSON.stringify([r.id, r.artist, r.track, r.rating, r.source, r.plays, r.added]);

async function main() {
  await startServer(0);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  page = await newPage(context);

  const model = await (await fetch(`${server.url}api/model`)).json();
  const rated = []; // the songs added, as the API names them

  await step('the page loads from the server, with an empty list and songs to rate', async () => {
    await page.goto(server.url);
    await page.waitForSelector('html[data-ready="true"]');
    check((await page.title()).includes('songrec'), 'title');
    check(await page.locator('#list-empty').isVisible(), 'empty list message');
    await page.waitForFunction(() => document.querySelectorAll('#starter-list > li').length >= 3);
    check(await page.locator('#starter').isVisible(), 'rate-a-few set shown for an empty list');
    await screenshot('empty');
  });

  await step('keyboard only: search an artist, pick a song, rate 10, add', async () => {
    const artist = await apiGet('/api/artists/0');
    const q = artist.name.split(/\s+/)[0].slice(0, 3);
    await page.locator('#search').focus();
    await page.keyboard.type(q, { delay: 20 });
    await page.waitForSelector('#search-list:not([hidden]) [role=option]');
    // arrow down to the artist's option
    const opts = await page.locator('#search-list [role=option]').allTextContents();
    const idx = opts.findIndex((t) => t.startsWith('Artist') && t.includes(artist.name));
    check(idx >= 0, `artist "${artist.name}" among the hits for "${q}"`);
    for (let i = 0; i <= idx; i++) await page.keyboard.press('ArrowDown');
    const active = await page.locator('#search').getAttribute('aria-activedescendant');
    check(active === `search-opt-${idx}`, 'aria-activedescendant follows the arrow keys');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#artist-songs:not([hidden]) .pick');
    const songs = await apiGet(`/api/artists/0/songs?limit=1`);
    const first = songs.songs[0];
    check(
      (await page.locator('#artist-song-list .pick').first().textContent()).includes(first.track),
      'the artist’s most played song comes first',
    );
    const focused = await page.evaluate(() => document.activeElement.className);
    check(focused === 'pick', 'focus moves to the first song');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#picked:not([hidden])');
    check(await page.evaluate(() => document.activeElement.id === 'rating'), 'focus on the rating slider');
    await page.keyboard.press('End');
    check((await page.locator('#rating-value').textContent()) === '10', 'slider at 10');
    await page.keyboard.press('Tab');
    check(await page.evaluate(() => document.activeElement.id === 'add-btn'), 'Tab reaches Add');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('#rated-list > li').length === 1);
    rated.push({ ...first, rating: 10 });
  });

  await step('a song typed directly, lower case and without accents', async () => {
    // a song with an accent or a capital, not by artist 0
    let song = null;
    for (let id = 1; id < model.sizes.songs && !song; id++) {
      const s = await apiGet(`/api/songs/${id}`);
      if (s.artist_id !== 0 && stripAccents(s.track) !== s.track) song = s;
    }
    check(song, 'a catalog song with accents');
    const q = stripAccents(song.track).toLowerCase();
    await page.locator('#search').fill(q);
    const option = page
      .locator('#search-list [role=option]', { hasText: song.track })
      .filter({ hasText: song.artist });
    await option.first().click();
    await page.waitForSelector('#picked:not([hidden])');
    check((await page.locator('#picked-track').textContent()) === song.track, 'picked the song');
    await page.locator('#rating').fill('8');
    check((await page.locator('#rating-value').textContent()) === '8', 'output follows the slider');
    await page.locator('#add-btn').click();
    await page.waitForFunction(() => document.querySelectorAll('#rated-list > li').length === 2);
    rated.push({ ...song, rating: 8 });
  });

  await step('an artist typed in capitals, a song from their list', async () => {
    const taken = new Set(rated.map((s) => s.artist_id));
    let artist = null;
    for (let id = 1; id < model.sizes.artists && !artist; id++) {
      const a = await apiGet(`/api/artists/${id}`);
      if (!taken.has(id) && a.songs >= 2 && /^[A-Za-z]/.test(a.name)) artist = a;
    }
    check(artist, 'another artist with two songs');
    await page.locator('#search').fill(artist.name.toUpperCase());
    await page.locator('#search-list [role=option].option-artist', { hasText: artist.name }).first().click();
    await page.waitForSelector('#artist-songs:not([hidden]) .pick');
    const songs = (await apiGet(`/api/artists/${artist.id}/songs?limit=2`)).songs;
    await page.locator('#artist-song-list .pick').nth(1).click();
    check((await page.locator('#picked-track').textContent()) === songs[1].track, 'picked the second song');
    await page.locator('#rating').fill('9');
    await page.locator('#add-btn').click();
    await page.waitForFunction(() => document.querySelectorAll('#rated-list > li').length === 3);
    rated.push({ ...songs[1], rating: 9 });
  });

  await step('the list shows artist, song and rating; a rating changes', async () => {
    for (const s of rated) {
      const row = listRows().filter({ hasText: s.track }).filter({ hasText: s.artist });
      check((await row.count()) === 1, `row for ${s.track}`);
      check((await row.locator('output').textContent()) === String(s.rating), `rating ${s.rating} shown`);
    }
    const row = listRows().filter({ hasText: rated[1].track });
    const posted = page.waitForResponse((r) => r.url().endsWith('/ratings') && r.request().method() === 'POST');
    await row.locator('input[type=range]').fill('6');
    check((await posted).status() === 200, 'changed rating saved (200: replaced)');
    const p = await profile();
    check(p.ratings.find((r) => r.id === rated[1].id).rating === 6, 'server has the new rating');
    check(p.ratings.length === 3, 'three ratings stored');
    rated[1].rating = 6;
    check(await page.locator('#starter').isVisible(), 'still offering songs to rate with a short list');
    await screenshot('list');
  });

  const ratedIds = () => new Set(rated.map((s) => s.id));
  await step('recommend: 10 rows, none rated, each with a prediction and why', async () => {
    await page.locator('#recommend-btn').click();
    await recsSettled(10);
    const ids = await recIds();
    check(ids.length === 10 && ids.every((id) => !ratedIds().has(id)), 'no rated song recommended');
    const scores = (await recRows().locator('.score-num').allTextContents()).map(Number);
    const [lo, hi] = model.scale;
    check(
      scores.every((s, i) => s >= lo && s <= hi && (i === 0 || s <= scores[i - 1] + 1e-9)),
      'sorted by predicted rating',
    );
    check(
      (await recRows().locator('.score-label').allTextContents()).every((t) => t === 'predicted'),
      'a rating model’s scores are predicted ratings',
    );
    const sr = await recRows().locator('.score .sr-only').allTextContents();
    check(sr.every((t) => t.includes(`rating out of ${hi}`)), 'read out as a rating out of the scale');
    const why = await recRows().locator('.because').allTextContents();
    check(why.some((t) => t.startsWith('Because you rated')), 'explanations shown');
    check(why.some((t) => rated.some((s) => t.includes(s.track))), 'explanations name rated songs');
    await screenshot('recommendations');
  });

  await step('options: hide rated artists, one song per artist', async () => {
    await page.locator('#opt-exclude').check();
    await page.waitForFunction(
      (a) => {
        const ol = document.getElementById('rec-list');
        const lis = [...ol.children];
        return lis.every((li) => !a.includes(Number(li.dataset.artistId))) && ol.getAttribute('aria-busy') !== 'true';
      },
      rated.map((s) => s.artist_id),
    );
    await page.locator('#opt-per-artist').check();
    await page.waitForFunction(() => {
      const ol = document.getElementById('rec-list');
      const a = [...ol.children].map((li) => li.dataset.artistId);
      return a.length === 10 && new Set(a).size === 10 && ol.getAttribute('aria-busy') !== 'true';
    });
    const artists = await recArtists();
    check(artists.every((a) => !rated.some((s) => s.artist_id === a)), 'no rated artist');
    check(new Set(artists).size === artists.length, 'one song per artist');
    await page.locator('#opt-exclude').uncheck();
    await page.locator('#opt-per-artist').uncheck();
    await recsSettled(10);
  });

  await step('the discovery slider re-ranks at once, without a reload', async () => {
    await page.evaluate(() => (window.__sameDocument = true));
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    const before = (await recIds()).join();
    await page.locator('#opt-discovery').focus();
    await page.keyboard.press('End'); // all the way to "discovery"
    await page.waitForFunction(
      (b) => {
        const ol = document.getElementById('rec-list');
        const now = [...ol.children].map((li) => li.dataset.id).join();
        return ol.children.length === 10 && now !== b && ol.getAttribute('aria-busy') !== 'true';
      },
      before,
    );
    check(await page.evaluate(() => window.__sameDocument === true), 'same document (no reload)');
    check(navigations === 0, 'no navigation');
    check((await page.locator('#opt-discovery').inputValue()) === '1', 'slider at discovery');
    await screenshot('discovery');
    await page.keyboard.press('Home');
    await page.waitForFunction(() => {
      const ol = document.getElementById('rec-list');
      return ol.children.length === 10 && ol.getAttribute('aria-busy') !== 'true';
    });
    await page.locator('#opt-discovery').fill('0');
    await recsSettled(10);
  });

  let blockedArtist = null;
  await step('"not for me" hides an artist', async () => {
    const first = recRows().first();
    blockedArtist = Number(await first.getAttribute('data-artist-id'));
    const name = await first.locator('.artist').textContent();
    await first.getByRole('button', { name: /^Not for me/ }).click();
    await first.getByRole('button', { name: /^Hide every song by/ }).click();
    await page.waitForFunction(
      (a) => {
        const lis = [...document.querySelectorAll('#rec-list > li')];
        return lis.length === 10 && lis.every((li) => Number(li.dataset.artistId) !== a);
      },
      blockedArtist,
    );
    check(await page.locator('#blocks').isVisible(), 'hidden list shown');
    check((await page.locator('#block-list').textContent()).includes(name), 'hidden artist listed');
    const p = await profile();
    check(p.blocks.length === 1 && p.blocks[0].kind === 'artist' && p.blocks[0].id === blockedArtist, 'block stored');
  });

  async function listSurvives(what) {
    await page.waitForSelector('html[data-ready="true"]');
    await page.waitForFunction(() => document.querySelectorAll('#rated-list > li').length === 3);
    for (const s of rated) {
      const row = listRows().filter({ hasText: s.track }).filter({ hasText: s.artist });
      const shown = await row.locator('output').textContent();
      check(shown === String(s.rating), `${what}: ${s.track} still rated ${s.rating}`);
    }
  }

  await step('reload the page: the list is still there', async () => {
    await page.reload();
    await listSurvives('after reload');
  });

  await step('restart the server: the list and the block are still there', async () => {
    const port = server.port;
    await stopServer();
    await startServer(port); // same origin, so the same localStorage
    await page.reload();
    await listSurvives('after restart');
    await page.locator('#recommend-btn').click();
    await recsSettled(10);
    check((await recArtists()).every((a) => a !== blockedArtist), 'blocked artist still hidden');
  });

  await step('more like this', async () => {
    const first = recRows().first();
    const opener = first.getByRole('button', { name: /^More like/ });
    await opener.click();
    await page.waitForSelector('#similar-dialog[open]');
    await page.waitForFunction(() => document.querySelectorAll('#similar-list > li').length > 0);
    const track = await first.locator('.track').textContent();
    check((await page.locator('#similar-of').textContent()).includes(track), 'dialog names the song');
    await screenshot('more-like-this');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#similar-dialog:not([open])', { state: 'attached' });
    check(await opener.evaluate((b) => b === document.activeElement), 'focus back on the button');
    // "Rate" in the dialog: the song goes to the "Add a song" panel, with the focus on
    // its slider and the panel in view (not back on the opener, far from it)
    await recRows().nth(9).getByRole('button', { name: /^More like/ }).click();
    await page.waitForFunction(() => document.querySelectorAll('#similar-list > li').length > 0);
    const song = await page.locator('#similar-list .track').first().textContent();
    await page.locator('#similar-list > li').first().getByRole('button', { name: /^Rate / }).click();
    await page.waitForSelector('#similar-dialog:not([open])', { state: 'attached' });
    check((await page.locator('#picked-track').textContent()) === song, 'the similar song picked');
    check(await page.evaluate(() => document.activeElement.id === 'rating'), 'focus on the rating slider');
    const box = await page.evaluate(() => {
      const r = document.getElementById('picked').getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, h: window.innerHeight };
    });
    check(box.top >= -1 && box.bottom <= box.h + 1, `the panel in view (${box.top}..${box.bottom} of ${box.h})`);
    await page.locator('#picked-cancel').click();
  });

  await step('export: a JSPF playlist (and XSPF) downloads', async () => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('#export-jspf').click()]);
    check(dl.suggestedFilename().endsWith('.jspf'), `file name ${dl.suggestedFilename()}`);
    const file = join(OUT, dl.suggestedFilename());
    await dl.saveAs(file);
    const jspf = JSON.parse(readFileSync(file, 'utf8'));
    const tracks = jspf.playlist.track;
    check(Array.isArray(tracks) && tracks.length === 10, 'ten tracks');
    check(tracks.every((t) => t.title && typeof t.title === 'string' && typeof t.creator === 'string'), 'names');
    const shown = await recRows().locator('.track').allTextContents();
    check(tracks.map((t) => t.title).join('\n') === shown.join('\n'), 'the playlist is the list shown');
    const [dx] = await Promise.all([page.waitForEvent('download'), page.locator('#export-xspf').click()]);
    const xspf = readFileSync(await dx.path(), 'utf8');
    check(xspf.includes('<playlist') && (xspf.match(/<track>/g) || []).length === 10, 'XSPF with ten tracks');
  });

  await step('upload a listening history', async () => {
    const before = (await profile()).ratings.length;
    await page.locator('#history-file').setInputFiles(join(WORK, 'history.jsonl'));
    await page.waitForFunction(() => /added to your list/.test(document.getElementById('upload-status').textContent));
    const p = await profile();
    const fromHistory = p.ratings.filter((r) => r.source === 'history').length;
    check(fromHistory > 0 && p.ratings.length === before + fromHistory, 'history ratings added');
    const count = (n) => document.getElementById('list-count').textContent === `(${n})`;
    await page.waitForFunction(count, p.ratings.length);
    check((await listRows().count()) === 10, 'a long list shows its newest 10 rows');
    await page.locator('#list-more').click();
    check((await listRows().count()) === p.ratings.length, '"Show all" shows every row');
    await page.locator('#list-more').click();
    check((await page.locator('#rated-list .tag').first().textContent()).startsWith('from history'), 'history tag');
    await screenshot('history-uploaded');
  });

  await step('an API error is shown in words', async () => {
    await page.locator('#history-file').setInputFiles(join(WORK, 'notes.txt'));
    const msg = page.locator('#errors .message').last();
    await msg.waitFor();
    const t = await msg.textContent();
    check(t.startsWith('Could not read the history file:'), `error heading: ${t}`);
    // the server's own message: the same request by hand
    const r = await page.request.post(`${server.url}api/profiles/${await token()}/history?filename=notes.txt`, {
      data: readFileSync(join(WORK, 'notes.txt')),
    });
    check(r.status() === 400, 'the upload is a 400');
    const serverMsg = (await r.json()).error.message;
    check(t.includes(serverMsg), `shows "${serverMsg}"`);
    await page.evaluate(() => window.scrollTo(0, 0));
    const tabFree = await page.evaluate(() => {
      const a = document.querySelector('.tabs a[data-nav=about]').getBoundingClientRect();
      const hit = document.elementFromPoint(a.left + a.width / 2, a.top + a.height / 2);
      return !!hit && !!hit.closest('.tabs a[data-nav=about]');
    });
    check(tabFree, 'the message leaves the About tab free');
    await screenshot('api-error', false);
    await msg.getByRole('button', { name: 'Dismiss' }).click();
    check((await page.locator('#errors .message').count()) === 0, 'dismissed');
  });

  await step('catalog names that are markup are shown as text', async () => {
    await page.locator('#search').fill('img src');
    const option = page.locator('#search-list [role=option]', { hasText: XSS_TRACK });
    await option.first().waitFor();
    check((await option.first().textContent()).includes(XSS_ARTIST), 'artist shown literally in the hit');
    await option.first().click();
    check((await page.locator('#picked-track').textContent()) === XSS_TRACK, 'picked panel shows the characters');
    await page.locator('#add-btn').click();
    const row = listRows().filter({ hasText: XSS_TRACK });
    await row.waitFor();
    check((await row.locator('.artist').textContent()) === XSS_ARTIST, 'artist in the list');
    check((await page.locator('img[src="x"], b').count()) === 0, 'no element made from a name');
    await screenshot('markup-names');
  });

  await step('About the data and model', async () => {
    await page.getByRole('link', { name: 'About the data and model' }).click();
    await page.waitForFunction(() => document.getElementById('model-facts').children.length > 0);
    const facts = await page.locator('#model-facts').textContent();
    check(facts.includes('SVD'), 'algorithm named');
    const summary = await page.locator('#about-summary').textContent();
    check(summary.includes(String(model.sizes.songs)) && summary.includes('songs in the catalog'), 'catalog size');
    check((await page.locator('#model-params').textContent()).includes('n_factors8'), 'parameters');
    // GET /api/about: the CLI's JSON for the data, the evaluation and the grid, which
    // run.sh wrote and the server was started with (serve --about)
    const about = {
      dataset: JSON.parse(readFileSync(join(WORK, 'stats.json'), 'utf8')),
      evaluation: JSON.parse(readFileSync(join(WORK, 'evaluate.json'), 'utf8')),
      gridsearch: JSON.parse(readFileSync(join(WORK, 'gridsearch.json'), 'utf8')),
    };
    await page.waitForSelector('#data-charts svg');
    check((await page.locator('#data-charts figure').count()) === 2, 'plays per pair and ratings charts');
    check(
      (await page.locator('#eval-body figure svg rect').count()) === about.gridsearch.results.length &&
        about.gridsearch.results.length === 2,
      'grid search chart, one bar per point that did not fail',
    );
    const failed = await page.locator('#eval-body .grid-failed li').allTextContents();
    check(
      failed.length === about.gridsearch.failed.length &&
        failed.length === 2 &&
        failed.every((t) => t.includes('diverged')),
      `the failed points listed with why: ${failed.join(' | ')}`,
    );
    check((await page.locator('#eval-title').textContent()) === 'How well it predicts', 'rating evaluation title');
    const ev = await page.locator('#eval-body').textContent();
    const rmse = about.evaluation.rmse.mean.toFixed(3);
    check(ev.includes(rmse) && ev.includes('RMSE') && ev.includes('MAE'), 'RMSE and MAE');
    const r10 = about.dataset.rating10.histogram_1_to_10;
    const cells = await page.locator('#data-charts figure').nth(1).locator('tbody td:nth-child(2)').allTextContents();
    check(cells.map((c) => Number(c.replace(/,/g, ''))).join() === r10.join(), 'rating chart numbers match the data');
    await screenshot('about');
    await page.getByRole('link', { name: 'My recommendations' }).click();
    check(await page.locator('#view-listen').isVisible(), 'back to the list');
  });

  await step('a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('#recommend-btn').click();
    await recsSettled(10);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `no sideways scrolling (${overflow} px too wide)`);
    const order = await page.evaluate(() =>
      ['add', 'list', 'recs', 'start'].map((id) => document.getElementById(id).getBoundingClientRect().top),
    );
    check(order.every((y, i) => i === 0 || y > order[i - 1]), 'one column: add, list, recommendations, start');
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot('phone', false);
    await page.locator('#recs').evaluate((el) => el.scrollIntoView());
    await screenshot('phone-recommendations', false);
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot('phone-dark', false);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('every control has a label', async () => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, button, select, textarea, a[href]')]
        .filter((el) => !el.closest('[hidden]'))
        .filter((el) => {
          const name =
            el.getAttribute('aria-label') ||
            (el.getAttribute('aria-labelledby') || '')
              .split(/\s+/)
              .map((id) => document.getElementById(id)?.textContent || '')
              .join('') ||
            [...(el.labels || [])].map((l) => l.textContent).join('') ||
            el.textContent;
          return !name.trim();
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    check(unlabelled.length === 0, `unlabelled controls: ${unlabelled.join(' | ')}`);
  });

  await step('double clicks: "Show again" and "Remove" act once, without errors', async () => {
    await page.locator('#blocks summary').press('Enter'); // the toast may cover it: no pointer
    await clickTwice(page.locator('#block-list button').first());
    await page.waitForSelector('#blocks', { state: 'hidden' });
    check((await profile()).blocks.length === 0, 'block removed');
    const n = (await profile()).ratings.length;
    await clickTwice(listRows().first().getByRole('button', { name: /^Remove / }));
    await page.waitForFunction((k) => document.getElementById('list-count').textContent === `(${k})`, n - 1);
    check((await profile()).ratings.length === n - 1, 'one song removed');
    check((await errorTexts(page)).length === 0, `no error: ${await errorTexts(page)}`);
  });

  await step('clear the list, undo, clear again', async () => {
    const saved = (await profile()).ratings;
    const n = saved.length;
    await page.locator('#clear-btn').click();
    await page.waitForSelector('#list-empty:not([hidden])');
    check((await profile()).ratings.length === 0, 'cleared on the server');
    check(await page.evaluate(() => document.activeElement.id === 'toast-action'), 'focus on Undo');
    await page.keyboard.press('Enter');
    await page.waitForFunction((k) => document.getElementById('list-count').textContent === `(${k})`, n);
    const back = (await profile()).ratings.map(ratingKey).sort();
    check(back.join() === saved.map(ratingKey).sort().join(), 'undo restored every rating whole (source, plays)');
    await page.locator('#clear-btn').click();
    await page.waitForSelector('#list-empty:not([hidden])');
    check((await listRows().count()) === 0 && (await profile()).ratings.length === 0, 'cleared');
    check(await page.locator('#starter').isVisible(), 'songs to rate offered again');
    await screenshot('cleared');
  });

  await step('a first visit in two tabs: two quick adds make one list, which the other tab shows', async () => {
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const a = await newPage(fresh);
    const b = await newPage(fresh);
    let made = 0;
    a.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/profiles') made++;
    });
    await ready(a);
    await ready(b);
    await a.waitForFunction(() => document.querySelectorAll('#starter-list > li').length >= 2);
    // two Add buttons pressed before the first answer: one profile holds both songs
    await a.locator('#starter-list').evaluate((ul) => {
      const adds = ul.querySelectorAll('.btn-primary');
      adds[0].click();
      adds[1].click();
    });
    await a.waitForFunction(() => document.querySelectorAll('#rated-list > li').length === 2);
    const tok = await a.evaluate(() => localStorage.getItem('songrec.token'));
    check(made === 1, `one profile made (${made})`);
    check((await apiGet(`/api/profiles/${tok}`)).ratings.length === 2, 'both songs in it');
    await b.waitForFunction(() => document.querySelectorAll('#rated-list > li').length === 2);

    // the profile deleted on the server: the next song starts a new list, without an error
    const del = await a.request.delete(`${server.url}api/profiles/${tok}`);
    check(del.status() === 204, 'profile deleted on the server');
    await a.bringToFront();
    await a.locator('#starter-list .btn-primary').first().click();
    await a.waitForFunction((t) => {
      const now = localStorage.getItem('songrec.token');
      return now && now !== t && document.querySelectorAll('#rated-list > li').length === 1;
    }, tok);
    const tok2 = await a.evaluate(() => localStorage.getItem('songrec.token'));
    check((await apiGet(`/api/profiles/${tok2}`)).ratings.length === 1, 'the song is in a new profile');
    check((await a.locator('#toast-text').textContent()).includes('was not found'), 'a word about the lost list');
    check((await errorTexts(a)).length === 0, `no error: ${await errorTexts(a)}`);
    await b.waitForFunction(() => document.querySelectorAll('#rated-list > li').length === 1);
    await fresh.close();
  });
  await stopServer();

  // ---- an implicit model (ALS) of songs without artists ----------------------------------
  await startServer(0, IMPLICIT_MODEL, join(WORK, 'implicit.db'), IMPLICIT_ABOUT);
  const implicit = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await newPage(implicit);
  const imodel = await apiGet('/api/model');
  const rowOf = (track) =>
    listRows().filter({ has: page.locator('.track', { hasText: new RegExp(`^${track}$`) }) });

  await step('implicit: a history of plays shows plays, its recommendations come at once, as scores', async () => {
    check(imodel.implicit === true && imodel.scale[1] === 64, 'an implicit model of up to 64 plays');
    await ready(page);
    check((await page.locator('#recs-status').textContent()).includes('best match first'), 'intro: best match first');
    await page.locator('#history-file').setInputFiles(join(WORK, 'plays-history.txt'));
    await page.waitForFunction(() => /added to your list/.test(document.getElementById('upload-status').textContent));
    await recsSettled(10);
    const r11 = rowOf('s11');
    check((await r11.locator('.plays-value').textContent()) === '64 plays', '64 plays shown as plays');
    check((await r11.locator('input[type=range]').count()) === 0, 'no slider at 10 standing for them');
    check((await listRows().locator('.artist').count()) === 0, 'songs without an artist show the track alone');
    const remove = await r11.getByRole('button', { name: /^Remove / }).getAttribute('aria-label');
    check(remove === 'Remove s11', `named by the track alone: ${remove}`);

    const nums = await recRows().locator('.score-num').allTextContents();
    check(nums.every((t) => /^-?\d+\.\d{3}$/.test(t)), `scores with the digits that rank them: ${nums}`);
    check(nums.map(Number).every((v, i, a) => i === 0 || v <= a[i - 1]), 'best first');
    check((await recRows().locator('.score-label').allTextContents()).every((t) => t === 'score'), 'labelled score');
    const sr = await recRows().locator('.score .sr-only').allTextContents();
    check(sr.every((t) => t.includes('not a rating') && !t.includes('out of')), 'read out as no rating');
    check((await page.locator('#recs-status').textContent()).includes('best match first'), 'status: best match first');
    check((await recRows().locator('.artist').count()) === 0, 'recommendations by track alone');
    const hideArtist = page.locator('#rec-list button', { hasText: 'Hide every song by' });
    check((await hideArtist.count()) === 0, 'no artist to hide');
    const why = await recRows().locator('.because').allTextContents();
    check(why.some((t) => /\(\d+ plays\)/.test(t)), `a history's songs named with their plays: ${why[0]}`);
    await screenshot('implicit-recommendations');

    // the slider comes on request, and only a move of it replaces the plays
    await r11.getByRole('button', { name: /^Rate s11 yourself/ }).click();
    check(await r11.locator('input[type=range]').evaluate((el) => el === document.activeElement), 'slider focused');
    const still = (await profile()).ratings.find((r) => r.track === 's11');
    check(still.source === 'history' && still.plays === 64, 'showing the slider changes nothing');
    const posted = page.waitForResponse((r) => r.url().endsWith('/ratings') && r.request().method() === 'POST');
    await page.keyboard.press('ArrowLeft');
    check((await posted).status() === 200, 'a move is sent');
    const now = (await profile()).ratings.find((r) => r.track === 's11');
    check(now.source === 'rated' && now.rating === 9, 'now rated 9 by hand');
  });

  await step('implicit: removing a song the model lacks, and clear with undo, keep history plays', async () => {
    const tok = await token();
    const add = await page.request.post(`${server.url}api/profiles/${tok}/ratings`, {
      data: { artist: 'Nobody Here', track: 'Not In The Model', rating: 5 },
    });
    check(add.status() === 201, 'a song the model lacks added through the API');
    await page.reload();
    await page.waitForSelector('html[data-ready="true"]');
    const before = (await profile()).ratings;
    const count = (k) => document.getElementById('list-count').textContent === `(${k})`;
    await page.waitForFunction(count, before.length);
    await listRows().filter({ hasText: 'Not In The Model' }).getByRole('button', { name: /^Remove / }).click();
    await page.waitForFunction(count, before.length - 1);
    const after = (await profile()).ratings.map(ratingKey).sort();
    const kept = before.filter((r) => r.id !== null);
    check(after.join() === kept.map(ratingKey).sort().join(), 'every other rating as it was (source, plays, added)');
    check(kept.some((r) => r.source === 'history' && r.plays === 48), 'history plays among them');

    const saved = (await profile()).ratings;
    await page.locator('#clear-btn').click();
    await page.waitForSelector('#list-empty:not([hidden])');
    const other = [...Array(imodel.sizes.songs).keys()].find((id) => !saved.some((r) => r.id === id));
    await page.request.post(`${server.url}api/profiles/${tok}/ratings`, { data: { song: other, rating: 7 } });
    await page.locator('#toast-action').click();
    await page.waitForFunction(count, saved.length + 1);
    const back = (await profile()).ratings;
    check(saved.every((r) => back.some((x) => ratingKey(x) === ratingKey(r))), 'every cleared rating back whole');
    check(back.some((x) => x.id === other && x.rating === 7), 'the song added since the clear kept');
    check((await errorTexts(page)).length === 0, `no error: ${await errorTexts(page)}`);
  });

  await step('search on a fake clock: cleared before it runs, or longer than the server takes', async () => {
    const c = await newPage(implicit);
    await c.clock.install();
    const searches = [];
    c.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/search') searches.push(u.searchParams.get('q'));
    });
    await ready(c);
    const box = c.locator('#search');
    await box.focus();
    // "ri" typed and deleted within the debounce
    await box.evaluate((el) => {
      for (const v of ['ri', '']) {
        el.value = v;
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }
    });
    await c.clock.runFor(1000);
    check(await c.locator('#search-list').isHidden(), 'no list for an empty box');
    // a later search: by its answer, an earlier request would have been seen
    const answered = c.waitForResponse((r) => r.url().includes('q=s1&'));
    await box.fill('s1');
    await c.clock.runFor(200);
    await answered;
    check(searches.join() === 's1', `only the search still typed ran: ${searches.join()}`);

    const long = [
      ['70 emoji', '🎵'.repeat(70)],
      ['130 Cyrillic letters', 'я'.repeat(130)],
      ['70 one-letter words', Array(70).fill('a').join(' ')],
    ];
    for (const [what, q] of long) {
      const res = c.waitForResponse((r) => new URL(r.url()).pathname === '/api/search');
      await box.fill(q);
      await c.clock.runFor(200);
      const r = await res;
      const sent = new URL(r.url()).searchParams.get('q');
      check(r.status() === 200, `${what}: searched (${r.status()})`);
      const words = (sent.match(/[\p{L}\p{N}]+/gu) || []).length;
      check(Buffer.byteLength(sent) <= 256 && words <= 64 && sent.length > 0, `${what}: cut to the server's limits`);
      check((await c.locator('#search-hint').textContent()).startsWith('Only the start'), `${what}: the hint says so`);
    }
    await box.fill('s2');
    await c.clock.runFor(200);
    await c.waitForFunction(() => !document.getElementById('search-hint').textContent.startsWith('Only'));
    check((await errorTexts(c)).length === 0, `no error: ${await errorTexts(c)}`);

    // About: a section of an unexpected shape says so, and the others still draw
    await c.route('**/api/about', (route) =>
      route.fulfill({
        json: {
          dataset: JSON.parse(readFileSync(join(WORK, 'stats.json'), 'utf8')),
          evaluation: { rmse: 'not a figure' },
          gridsearch: { results: 'none' },
        },
      }),
    );
    await c.getByRole('link', { name: 'About the data and model' }).click();
    await c.waitForSelector('#data-charts figure');
    check((await c.locator('#data-charts figure').count()) === 2, 'the dataset charts drawn');
    const card = await c.locator('#eval-body').evaluate((el) => el.closest('section').textContent);
    check(
      card.includes('Could not show the evaluation') && card.includes('Could not show the grid search'),
      'the broken parts say so',
    );

    // a song none of the listener's songs bears on (a k-NN guess without neighbours)
    await c.route('**/api/recommend', (route) =>
      route.fulfill({
        json: {
          items: [
            { rank: 1, id: 0, artist_id: 0, artist: '', track: 's1', score: 0.5, support: 0, weak: true, because: [] },
          ],
          used: 1,
          unknown: 0,
          unmatched: [],
          candidates: 1,
          model: 'als',
        },
      }),
    );
    await c.getByRole('link', { name: 'My recommendations' }).click();
    await c.locator('#recommend-btn').click();
    await c.waitForFunction(() => {
      const ol = document.getElementById('rec-list');
      return ol.children.length === 1 && ol.getAttribute('aria-busy') !== 'true';
    });
    check(
      (await c.locator('#rec-list .because').textContent()) === 'No song in your list bears on this one.',
      'says no song bears on it',
    );
    check((await c.locator('#rec-list .weak').count()) === 0, 'and no reason beside');

    // a model without any notion of similar songs: no "More like this" anywhere
    await c.route('**/api/model', async (route) => {
      const r = await route.fetch();
      await route.fulfill({ response: r, json: { ...(await r.json()), similar: false } });
    });
    await c.reload();
    await c.getByRole('link', { name: 'My recommendations' }).click();
    await c.locator('#recommend-btn').click();
    await c.waitForFunction(() => {
      const ol = document.getElementById('rec-list');
      return ol.children.length === 1 && ol.getAttribute('aria-busy') !== 'true';
    });
    check((await c.getByRole('button', { name: /^More like/ }).count()) === 0, 'no "More like this" without similarity');
    check(await c.locator('#picked-similar').isHidden(), 'nor in the song panel');
    await c.close();
  });

  await step('implicit: About says plays and scores, and shows the ranking evaluation', async () => {
    await page.getByRole('link', { name: 'About the data and model' }).click();
    await page.waitForFunction(() => document.getElementById('model-facts').children.length > 0);
    const facts = await page.locator('#model-facts').textContent();
    check(!facts.includes('Rating scale') && !facts.includes('Average rating'), `no rating scale: ${facts}`);
    check(facts.includes('not a rating') && facts.includes('play counts of 1 to 64'), 'scores and plays named');
    const ev = JSON.parse(readFileSync(join(IMPLICIT_ABOUT, 'evaluate.json'), 'utf8'));
    const gs = JSON.parse(readFileSync(join(IMPLICIT_ABOUT, 'gridsearch.json'), 'utf8'));
    await page.waitForSelector('#eval-body figure');
    check((await page.locator('#eval-title').textContent()) === 'How well it ranks', 'ranking title');
    const body = await page.locator('#eval-body').textContent();
    const als = ev.models.find((m) => m.algo === 'als');
    check(body.includes('NDCG@10') && body.includes(als.ndcg.toFixed(3)), 'the model’s NDCG@10');
    const bars = await page.locator('#eval-body figure svg rect').count();
    check(bars === ev.models.length + gs.results.length, `a bar per model and per grid point (${bars})`);
    check((await page.locator('#data-charts figure').count()) === 2, 'the dataset charts drawn');
    await screenshot('implicit-about');

    // a 375 px phone: nothing wider than the screen, here or in the list of plays
    await page.setViewportSize({ width: 375, height: 740 });
    const wide = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check((await wide()) <= 0, `About fits a phone (${await wide()} px too wide)`);
    await page.getByRole('link', { name: 'My recommendations' }).click();
    check((await wide()) <= 0, `the list of plays fits a phone (${await wide()} px too wide)`);
    await screenshot('implicit-phone', false);
  });

  await browser.close();
  await stopServer();
  check(problems.length === 0, `page problems: ${problems.join(' | ')}`);
  check(outside.length === 0, `requests outside the server: ${outside.join(' ')}`);
}

main().then(
  () => {
    const s = ((Date.now() - T0) / 1000).toFixed(1);
    console.log(`browser flow: ${passed} checks passed in ${s} s; screenshots in ${OUT}`);
    writeFileSync(join(OUT, 'result.txt'), `passed ${passed} checks in ${s} s\n`);
  },
  async (e) => {
    console.error(e.stack || String(e));
    if (problems.length) console.error(`page problems: ${problems.join(' | ')}`);
    if (server) server.child.kill('SIGKILL');
    process.exit(1);
  },
);
