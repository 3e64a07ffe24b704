// songrec's web page: find songs, rate them, get recommendations — over the JSON API of
// `songrec serve` (docs/API.md), served from the same binary (web/ is embedded at build
// time). No framework, no build step, nothing fetched from anywhere but this server.
//
// The listener's list lives in a server profile; this page keeps only its token in
// localStorage ("songrec.token"), so the list survives closing the browser and
// restarting the server. Display options are kept there too ("songrec.options").
//
// Safety: every catalog name reaches the page as text (the h() helper appends strings as
// text nodes; nothing here sets innerHTML), and the server's Content-Security-Policy
// allows only this script and app.css. Errors from the API are shown in words in the
// message area at the top (role="alert"), never swallowed.
//
// Rating models predict a rating on their scale; implicit models (ALS, BPR, ItemKNN,
// sessions, popularity: "implicit" in /api/model) rank songs by a score that is no
// rating, and take a rating, or a history's play count, as that many plays. The page
// shows each as what it is: "predicted" ratings out of the scale, scores as scores, play
// counts as plays.

const TOKEN_KEY = 'songrec.token';
const OPTIONS_KEY = 'songrec.options';
const CHANGED_KEY = 'songrec.changed'; // written after each change, for the other tabs
const SEARCH_LIMIT = 12;
const ARTIST_PAGE = 20;
const REC_PAGE = 10;
const LIST_SHOWN = 10; // rows of a long list shown before "Show all"
const STARTER_SHOWN = 6;
const HISTORY_MAX = 32 << 20; // the server's upload limit (docs/API.md)
const PUT_BUDGET = 3000000; // bytes of one PUT body, under the server's 3 MiB for a profile
const SEARCH_MAX_BYTES = 256; // the server's limits on a search (src/rec/catalog.h)
const SEARCH_MAX_WORDS = 64;
const SEARCH_HINT = "Case and accents don't matter. Use ↓ and Enter to pick.";
const LOST_PROFILE = 'Your saved list was not found on this server, so a new one will be started.';

const $ = (id) => document.getElementById(id);
const numberFmt = new Intl.NumberFormat('en');
const utf8 = new TextEncoder();

const state = {
  model: null,
  similar: true, // the model can find similar songs ("More like this")
  lo: 1,
  hi: 10,
  step: 1,
  token: null,
  profile: { ratings: [], blocks: [] },
  listAll: false, // the whole list shown, not only the newest rows
  picked: null, // the song in the "Add a song" panel: {id, artist_id, artist, track}
  artist: null, // the artist whose songs are listed: {artist, offset, total}
  recs: { shown: false, n: REC_PAGE, seq: 0, items: [], answer: null },
  options: { exclude: false, perArtist: false, discovery: 0 },
  starter: { active: false, loaded: false, pool: [], shown: [] },
  about: { loaded: false },
};

// ---- small helpers ------------------------------------------------------------------

// Makes an element. Strings and numbers among the children become text nodes, so names
// from the catalog can never become markup. attrs: class, dataset, on<event>, or
// attributes (true: present, false/null: absent).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function clear(el) {
  el.replaceChildren();
  return el;
}

function text(el, s) {
  el.textContent = s;
  return el;
}

function show(el, on) {
  el.hidden = !on;
}

function fmtRating(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

// A rating model's prediction to a tenth; an implicit model's score with the digits that
// tell neighbours apart (the server rounds to 3 decimals: 0.747, 0.694, 0.688), a whole
// number as it is (popularity's listener counts).
function fmtScore(v) {
  if (!state.implicit) return v.toFixed(1);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3);
}

function plural(n, one, many) {
  return `${numberFmt.format(n)} ${n === 1 ? one : many || one + 's'}`;
}

// A song in words: "Track by Artist", or the track alone for a song of items-only data
// (rating triples), whose artist is "".
function songLabel(s) {
  return s.artist ? `${s.track} by ${s.artist}` : s.track;
}

// "“Track” by Artist", or "“Track”".
function songQuoted(s) {
  return s.artist ? `“${s.track}” by ${s.artist}` : `“${s.track}”`;
}

// "Artist – Track", or the track alone.
function songDash(s) {
  return s.artist ? `${s.artist} – ${s.track}` : s.track;
}

// A song's name as two lines: the track, then the artist (when it has one).
function songTitle(s) {
  const track = h('span', { class: 'track' }, s.track);
  return h('p', { class: 'rec-title' }, track, s.artist ? h('span', { class: 'artist' }, s.artist) : null);
}

// Whether a rating row shows plays instead of a slider: a history's song for an implicit
// model (which takes its play count as it is: 64 plays, past the slider's 10), or any
// rating the slider cannot hold. Moving a slider would silently replace such a value.
function shownAsPlays(r) {
  return (state.implicit && r.source === 'history') || r.rating > state.hi || r.rating < state.lo;
}

// A rating in words: "7", or "64 plays" where the model counts plays.
function ratingWords(r) {
  if (!shownAsPlays(r)) return fmtRating(r.rating);
  return plural(r.source === 'history' ? r.plays : r.rating, 'play');
}

function statBox(num, label) {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-num' }, num), h('span', { class: 'stat-label' }, label));
}

function sameSong(a, b) {
  if (a.id != null && b.id != null) return a.id === b.id;
  return a.artist === b.artist && a.track === b.track;
}

// fn after ms without a new call; .cancel() drops the call waiting.
function debounce(fn, ms) {
  let t = 0;
  const run = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  run.cancel = () => clearTimeout(t);
  return run;
}

function storageGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // storage disabled: the list lasts as long as the page
  }
}

// ---- the API ------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Calls the API; answers the parsed JSON (null for 204). A JSON body is sent for a plain
// value, the bytes for a Blob (a history upload). Failures throw ApiError with the
// server's message ({"error": {"message"}}) or words for a server that did not answer.
async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body instanceof Blob) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let res;
  let raw = '';
  try {
    res = await fetch(path, init);
    raw = await res.text();
  } catch {
    throw new ApiError(0, 'the songrec server did not answer. Is it still running?');
  }
  let data = null;
  if (raw) {
    try {
      data = JSON.parse(raw);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const msg =
      data && data.error && typeof data.error.message === 'string'
        ? data.error.message
        : `the server answered ${res.status} ${res.statusText}`.trim();
    throw new ApiError(res.status, msg);
  }
  return data;
}

const profilePath = (suffix = '') => `/api/profiles/${encodeURIComponent(state.token)}${suffix}`;

// ---- messages -----------------------------------------------------------------------

// An error in words at the top of the page, until dismissed (at most four are kept).
function showError(what, err) {
  const box = $('errors');
  const msg = err && err.message ? err.message : String(err);
  const item = h(
    'div',
    { class: 'message' },
    h('p', {}, h('strong', {}, `${what}: `), msg),
    h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => item.remove() }, 'Dismiss'),
  );
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
}

// Runs an action; a failure is shown with `what` ("Could not add the song"). A profile
// the server no longer has is no failure of the action: it is forgotten, as at a reload.
async function attempt(what, fn) {
  try {
    return await fn();
  } catch (e) {
    if (profileGone(e)) forgetProfile();
    else showError(what, e);
    return undefined;
  }
}

// Disables a button while its action runs (a second click of a double-click finds it
// disabled); without a button, only runs it.
async function busy(button, fn) {
  if (!button) return fn();
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

let toastTimer = 0;
// A short note at the bottom, optionally with one action (Undo); focus moves to the
// action when asked, so a keyboard user can take it at once.
function toast(message, action) {
  const box = $('toast');
  const btn = $('toast-action');
  text($('toast-text'), message);
  btn.hidden = !action;
  btn.onclick = null;
  if (action) {
    text(btn, action.label);
    btn.onclick = () => {
      hideToast();
      action.run();
    };
  }
  box.hidden = false;
  if (action && action.focus) btn.focus();
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, action ? 15000 : 5000);
}

function hideToast() {
  const box = $('toast');
  if (box.contains(document.activeElement)) $('search').focus();
  box.hidden = true;
}

// ---- the profile --------------------------------------------------------------------

let creatingProfile = null; // the one POST /api/profiles in flight, shared by every caller

// This browser's profile token, made when there is none. Two clicks before the first
// answer share one request, and a token another tab stored meanwhile is taken instead
// of making a second list (the one made here is then deleted).
async function ensureProfile() {
  if (!state.token) state.token = storageGet(TOKEN_KEY);
  if (state.token) return state.token;
  if (!creatingProfile) {
    creatingProfile = api('POST', '/api/profiles')
      .then((r) => {
        const stored = storageGet(TOKEN_KEY);
        if (stored && stored !== r.token) {
          state.token = stored;
          api('DELETE', `/api/profiles/${encodeURIComponent(r.token)}`).catch(() => {});
        } else {
          state.token = r.token;
          storageSet(TOKEN_KEY, r.token);
        }
        return state.token;
      })
      .finally(() => {
        creatingProfile = null;
      });
  }
  return creatingProfile;
}

// Whether an API error says the profile's token is unknown: deleted on the server, or a
// server started with another store.
function profileGone(e) {
  return e instanceof ApiError && e.status === 404 && /no profile with this token/.test(e.message);
}

// Forgets a profile the server no longer has, as a reload does: a word to the listener
// and an empty list; the next song added starts a new profile.
function forgetProfile() {
  state.token = null;
  storageSet(TOKEN_KEY, null);
  state.profile = { ratings: [], blocks: [] };
  renderList();
  renderBlocks();
  renderStarter();
  refreshRecs();
  toast(LOST_PROFILE);
}

// Runs fn, which uses the profile, made first when there is none. When the server no
// longer has the profile it is forgotten and fn runs once more against a new one, so
// the listener's action (adding a song, hiding one, an upload) still counts.
async function withProfile(fn) {
  await ensureProfile();
  try {
    return await fn();
  } catch (e) {
    if (!profileGone(e)) throw e;
    forgetProfile();
    await ensureProfile();
    return fn();
  }
}

// Another tab of this browser stored a token (made a list, or forgot one the server
// lost) or changed the list: this tab shows that list too.
function onStorage(e) {
  if (e.key !== TOKEN_KEY && e.key !== CHANGED_KEY && e.key !== null) return; // null: cleared
  const stored = storageGet(TOKEN_KEY);
  if (stored === state.token && e.key !== CHANGED_KEY) return;
  state.token = stored;
  attempt('Could not load your list', () => afterProfileChange(false));
}

// Reads the stored profile (if this browser has one); a token the server no longer
// knows is forgotten, with a word to the listener.
async function loadProfile() {
  if (!state.token) {
    state.profile = { ratings: [], blocks: [] };
    return;
  }
  try {
    state.profile = await api('GET', profilePath());
  } catch (e) {
    if (e.status !== 404) throw e;
    state.token = null;
    storageSet(TOKEN_KEY, null);
    state.profile = { ratings: [], blocks: [] };
    toast(LOST_PROFILE);
  }
}

function findRating(song) {
  return state.profile.ratings.find((r) => sameSong(r, song));
}

function ratedCount() {
  return state.profile.ratings.length;
}

// Tells this browser's other tabs that the list changed, so they show it too (onStorage).
function announceChange() {
  storageSet(CHANGED_KEY, `${Date.now()} ${Math.random()}`);
}

// Shows the profile as the server has it now; announce: this tab changed it.
async function afterProfileChange(announce = true) {
  if (announce) announceChange();
  await loadProfile();
  renderList();
  renderBlocks();
  renderStarter();
  refreshRecs();
}

// ---- the rating scale ---------------------------------------------------------------

function setupScale(model) {
  // Implicit models rank by score and take a rating as that many plays: rate 1..10.
  const [lo, hi] = model.rating_scale || model.scale;
  state.implicit = model.implicit === true;
  state.similar = model.similar !== false; // older servers do not say: offer it
  $('picked-similar').hidden = !state.similar;
  state.lo = lo;
  state.hi = hi;
  state.step = Number.isInteger(lo) && Number.isInteger(hi) && hi - lo >= 4 ? 1 : 0.5;
  configureSlider($('rating'), defaultRating());
  text($('rating-value'), fmtRating(defaultRating()));
  if (!state.recs.shown) text($('recs-status'), recsIntro());
}

function recsIntro() {
  const order = state.implicit ? 'best match first' : 'best predicted rating first';
  return `Your top 10 appear here, ${order}, each with the songs of yours that led to it.`;
}

function defaultRating() {
  const v = state.lo + ((state.hi - state.lo) * 2) / 3;
  return Math.round(v / state.step) * state.step;
}

function configureSlider(input, value) {
  input.min = String(state.lo);
  input.max = String(state.hi);
  input.step = String(state.step);
  const v = Math.min(state.hi, Math.max(state.lo, value)); // a slider holds only its range
  input.value = String(v);
  input.setAttribute('aria-valuetext', `${fmtRating(v)} out of ${fmtRating(state.hi)}`);
}

function bindSliderOutput(input, output) {
  input.addEventListener('input', () => {
    const v = Number(input.value);
    text(output, fmtRating(v));
    input.setAttribute('aria-valuetext', `${fmtRating(v)} out of ${fmtRating(state.hi)}`);
  });
}

// ---- search -------------------------------------------------------------------------

const search = { seq: 0, hits: [], active: -1 };

function searchOpen(on) {
  show($('search-list'), on);
  $('search').setAttribute('aria-expanded', on ? 'true' : 'false');
  if (!on) {
    search.active = -1;
    $('search').removeAttribute('aria-activedescendant');
  }
}

// Words as the catalog counts them (src/rec/catalog.h: runs of letters and digits after
// NFKC), except that every apostrophe and period breaks a word here, so the count is
// never below the server's.
function searchWords(s) {
  return (s.normalize('NFKC').match(/[\p{L}\p{Nd}]+/gu) || []).length;
}

// The longest start of q that the server searches (at most SEARCH_MAX_BYTES bytes of
// UTF-8 and SEARCH_MAX_WORDS words; it refuses a longer query), cut between characters.
// Answers {q, cut}.
function searchQuery(q) {
  const fits = (s) => utf8.encode(s).length <= SEARCH_MAX_BYTES && searchWords(s) <= SEARCH_MAX_WORDS;
  if (fits(q)) return { q, cut: false };
  const chars = Array.from(q);
  let lo = 0; // chars[0, lo) fit, chars[0, hi) do not
  let hi = chars.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(chars.slice(0, mid).join(''))) lo = mid;
    else hi = mid;
  }
  return { q: chars.slice(0, lo).join('').trim(), cut: true };
}

async function runSearch(typed) {
  const seq = ++search.seq;
  const { q, cut } = searchQuery(typed);
  text(
    $('search-hint'),
    cut
      ? `Only the start of this text is searched: ${SEARCH_MAX_WORDS} words and ${SEARCH_MAX_BYTES} bytes at most.`
      : SEARCH_HINT,
  );
  let r;
  try {
    r = await api('GET', `/api/search?q=${encodeURIComponent(q)}&limit=${SEARCH_LIMIT}`);
  } catch (e) {
    if (seq === search.seq) showError('Search failed', e);
    return;
  }
  if (seq !== search.seq) return; // a newer query is on its way
  search.hits = r.hits;
  renderSearch(q);
}

function renderSearch(q) {
  const list = clear($('search-list'));
  search.active = -1;
  $('search').removeAttribute('aria-activedescendant');
  if (!search.hits.length) {
    searchOpen(false);
    text($('search-status'), `No artist or song matches “${q}”.`);
    $('search-status').classList.remove('sr-only');
    return;
  }
  $('search-status').classList.add('sr-only');
  text($('search-status'), `${plural(search.hits.length, 'match', 'matches')}. Use the arrow keys to choose.`);
  search.hits.forEach((hit, i) => {
    const isArtist = hit.kind === 'artist';
    const li = h(
      'li',
      {
        id: `search-opt-${i}`,
        role: 'option',
        class: `option option-${hit.kind}`,
        'aria-selected': 'false',
        onmousedown: (e) => e.preventDefault(), // keep the focus in the input
        onclick: () => chooseHit(hit),
      },
      h('span', { class: 'option-kind', 'aria-hidden': 'true' }, isArtist ? 'Artist' : 'Song'),
      h(
        'span',
        { class: 'option-text' },
        h('span', { class: 'option-main' }, isArtist ? hit.name : hit.track),
        h(
          'span',
          { class: 'option-sub' },
          isArtist ? `artist · ${plural(hit.songs, 'song')}` : hit.artist ? `song by ${hit.artist}` : 'song',
        ),
      ),
    );
    list.append(li);
  });
  searchOpen(document.activeElement === $('search')); // not after the listener moved on
}

function setActive(i) {
  const opts = $('search-list').children;
  if (!opts.length) return;
  search.active = (i + opts.length) % opts.length;
  for (const [k, li] of Array.from(opts).entries()) {
    li.setAttribute('aria-selected', k === search.active ? 'true' : 'false');
  }
  const li = opts[search.active];
  $('search').setAttribute('aria-activedescendant', li.id);
  li.scrollIntoView({ block: 'nearest' });
}

function onSearchKey(e) {
  const open = !$('search-list').hidden;
  if (e.key === 'ArrowDown') {
    e.preventDefault();
    if (!open && search.hits.length) searchOpen(true);
    setActive(search.active + 1);
  } else if (e.key === 'ArrowUp') {
    e.preventDefault();
    if (open) setActive(search.active - 1);
  } else if (e.key === 'Enter') {
    if (open && search.active >= 0) {
      e.preventDefault();
      chooseHit(search.hits[search.active]);
    }
  } else if (e.key === 'Escape') {
    if (open) {
      e.preventDefault();
      searchOpen(false);
    }
  }
}

const searchSoon = debounce((q) => runSearch(q), 120);

function onSearchInput() {
  const q = $('search').value.trim();
  if (!q) {
    searchSoon.cancel(); // a search typed a moment ago must not fill the list now
    search.seq++;
    search.hits = [];
    text($('search-hint'), SEARCH_HINT);
    searchOpen(false);
    text($('search-status'), '');
    return;
  }
  searchSoon(q);
}

function chooseHit(hit) {
  searchOpen(false);
  if (hit.kind === 'artist') {
    $('search').value = hit.name;
    showArtist({ id: hit.id, name: hit.name });
  } else {
    $('search').value = hit.track;
    show($('artist-songs'), false);
    pickSong(hit);
  }
}

// ---- an artist's songs --------------------------------------------------------------

async function showArtist(artist) {
  state.artist = { artist, offset: 0, total: 0 };
  show($('picked'), false);
  clear($('artist-song-list'));
  const title = clear($('artist-songs-title'));
  title.append('Songs by ', h('span', { class: 'name' }, artist.name));
  show($('artist-songs'), true);
  await loadArtistPage(true);
}

async function loadArtistPage(focusFirst) {
  const a = state.artist;
  const r = await attempt('Could not list the artist’s songs', () =>
    api('GET', `/api/artists/${a.artist.id}/songs?offset=${a.offset}&limit=${ARTIST_PAGE}`),
  );
  if (!r || state.artist !== a) return;
  a.total = r.total;
  const list = $('artist-song-list');
  let first = null;
  for (const s of r.songs) {
    const rated = findRating(s);
    const b = h(
      'button',
      { type: 'button', class: 'pick', onclick: () => pickSong(s) },
      h('span', { class: 'pick-main' }, s.track),
      h(
        'span',
        { class: 'pick-sub' },
        plural(s.popularity, 'listener'),
        rated ? ` · in your list (${ratingWords(rated)})` : '',
      ),
    );
    first = first || b;
    list.append(h('li', {}, b));
  }
  a.offset += r.songs.length;
  show($('artist-more'), a.offset < a.total);
  if (focusFirst && first) first.focus();
}

// ---- the picked song: rate and add --------------------------------------------------

function pickSong(song) {
  state.picked = { id: song.id, artist_id: song.artist_id, artist: song.artist, track: song.track };
  text($('picked-track'), song.track);
  text($('picked-artist'), song.artist);
  show($('picked-by'), !!song.artist);
  const existing = findRating(song);
  const note = $('picked-note');
  if (existing && shownAsPlays(existing)) {
    text(note, `Already in your list: ${ratingWords(existing)}. Adding it rates it yourself instead.`);
  } else if (existing) {
    text(note, `Already in your list, rated ${fmtRating(existing.rating)}. Adding it again changes the rating.`);
  }
  show(note, !!existing);
  text($('add-btn'), existing ? 'Change my rating' : 'Add to my list');
  configureSlider($('rating'), existing ? existing.rating : defaultRating());
  text($('rating-value'), fmtRating(Number($('rating').value)));
  show($('picked'), true);
  $('picked').scrollIntoView({ block: 'nearest' });
  $('rating').focus();
}

function closePicked() {
  state.picked = null;
  show($('picked'), false);
}

async function addPicked() {
  const song = state.picked;
  if (!song) return;
  const rating = Number($('rating').value);
  await busy($('add-btn'), () =>
    attempt('Could not add the song', async () => {
      await withProfile(() => api('POST', profilePath('/ratings'), { song: song.id, rating }));
      closePicked();
      show($('artist-songs'), false);
      $('search').value = '';
      await afterProfileChange();
      toast(`Added ${songQuoted(song)}, rated ${fmtRating(rating)}.`);
      $('search').focus();
    }),
  );
}

// ---- my list ------------------------------------------------------------------------

const ratingTimers = new Map();

// Newest first, songs rated by hand before a history's (whose songs, added at once, stay
// most played first); a long list shows its first rows and a button for the rest.
const byHand = ([r]) => (r.source === 'history' ? 0 : 1);

function renderList() {
  const ratings = state.profile.ratings
    .map((r, k) => [r, k])
    .sort((a, b) => b[0].added - a[0].added || byHand(b) - byHand(a) || (byHand(a) ? b[1] - a[1] : a[1] - b[1]))
    .map(([r]) => r);
  const list = clear($('rated-list'));
  show($('list-empty'), ratings.length === 0);
  document.body.classList.toggle('list-empty', ratings.length === 0);
  show($('clear-btn'), ratings.length > 0);
  text($('list-count'), ratings.length ? `(${numberFmt.format(ratings.length)})` : '');
  const shown = state.listAll ? ratings : ratings.slice(0, LIST_SHOWN);
  shown.forEach((r, i) => list.append(ratedRow(r, i)));
  const more = $('list-more');
  show(more, ratings.length > LIST_SHOWN);
  text(more, state.listAll ? 'Show only the newest' : `Show all ${numberFmt.format(ratings.length)} songs`);
  more.setAttribute('aria-expanded', state.listAll ? 'true' : 'false');
}

function ratedRow(r, i) {
  const id = `rated-${i}`;
  const tags = [];
  if (r.source === 'history') {
    const what = shownAsPlays(r) ? 'from history' : `from history · ${plural(r.plays, 'play')}`;
    tags.push(h('span', { class: 'tag' }, what));
  }
  if (r.id === null) tags.push(h('span', { class: 'tag tag-warn' }, 'not in this model’s catalog'));
  const remove = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-quiet btn-danger',
      'aria-label': `Remove ${songLabel(r)}`,
      onclick: () => removeRating(r, i, remove),
    },
    'Remove',
  );
  return h(
    'li',
    { class: 'rated', dataset: { artist: r.artist, track: r.track } },
    h(
      'div',
      { class: 'rated-main' },
      h('span', { class: 'track' }, r.track),
      r.artist ? h('span', { class: 'artist' }, r.artist) : null,
      tags.length ? h('span', { class: 'tags' }, tags) : null,
    ),
    shownAsPlays(r) ? playsBox(r, id) : sliderBox(r, id),
    h(
      'div',
      { class: 'rated-actions' },
      state.similar &&
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-quiet',
            disabled: r.id === null,
            'aria-label': `More like ${songLabel(r)}`,
            onclick: (e) => showSimilar(r, e.currentTarget),
          },
          'More like this',
        ),
      remove,
    ),
  );
}

// A rating row's slider: a move the listener makes is sent (changeRating).
function sliderBox(r, id) {
  const slider = h('input', { type: 'range', id, class: 'row-slider' });
  configureSlider(slider, r.rating);
  const out = h('output', { for: id, class: 'rating-value' }, fmtRating(Number(slider.value)));
  bindSliderOutput(slider, out);
  slider.addEventListener('change', () => changeRating(r, Number(slider.value)));
  return h(
    'div',
    { class: 'rated-rating' },
    h('label', { for: id, class: 'sr-only' }, `Your rating for ${songLabel(r)}`),
    slider,
    out,
  );
}

// A row the slider cannot show truthfully (shownAsPlays): its plays, and a button that
// brings the slider for a rating of the listener's own. Only a move of that slider
// replaces the plays.
function playsBox(r, id) {
  const box = h(
    'div',
    { class: 'rated-rating rated-plays' },
    h('span', { class: 'plays-value' }, ratingWords(r)),
    h(
      'button',
      {
        type: 'button',
        class: 'btn btn-quiet',
        'aria-label': `Rate ${songLabel(r)} yourself instead of its ${ratingWords(r)}`,
        onclick: () => {
          const slider = sliderBox(r, id);
          box.replaceWith(slider);
          slider.querySelector('input').focus();
        },
      },
      'Rate it',
    ),
  );
  return box;
}

// A rating moved in the list: sent after the slider rests a moment (arrow keys fire a
// change per step); the row stays as it is, so the focus does too.
function changeRating(r, rating) {
  const key = `${r.artist}\u0000${r.track}`;
  clearTimeout(ratingTimers.get(key));
  ratingTimers.set(
    key,
    setTimeout(() => {
      ratingTimers.delete(key);
      attempt('Could not change the rating', async () => {
        await api('POST', profilePath('/ratings'), { artist: r.artist, track: r.track, rating });
        r.rating = rating;
        r.source = 'rated';
        r.plays = 0;
        announceChange();
        refreshRecs();
      });
    }, 250),
  );
}

// Removes one rating: by the song's id, or, for a song this model lacks (no id), by
// writing back the profile as the server has it now without that one song.
async function removeRating(r, index, button) {
  await busy(button, () =>
    attempt('Could not remove the song', async () => {
      if (r.id !== null) {
        await api('DELETE', profilePath(`/ratings/${r.id}`));
      } else {
        const now = await api('GET', profilePath());
        await putRatings(now.ratings.filter((x) => !(x.id === null && x.artist === r.artist && x.track === r.track)));
      }
      await afterProfileChange();
      toast(`Removed ${songQuoted(r)}.`);
      const buttons = $('rated-list').querySelectorAll('.rated-actions .btn-danger');
      if (buttons.length) buttons[Math.min(index, buttons.length - 1)].focus();
      else $('search').focus();
    }),
  );
}

// A rating of GET's answer as PUT takes it back, whole: its song (by names, as stored,
// or by id where names would not fit), rating, source, plays and when it was added.
function fullRating(r, byId) {
  const x = byId && r.id !== null ? { song: r.id } : { artist: r.artist, track: r.track };
  x.rating = r.rating;
  if (r.source === 'history') {
    x.source = 'history';
    x.plays = r.plays;
  }
  if (r.added) x.added = r.added;
  return x;
}

const jsonBytes = (v) => utf8.encode(JSON.stringify(v)).length;

// Makes ratings (as GET answers them) the profile's whole list, every field kept. One
// PUT body holds a whole profile (1,000 ratings); should one ever not fit, the rest are
// added one by one, which keeps each song and rating but makes it one set by hand, now.
async function putRatings(ratings) {
  let body = ratings.map((r) => fullRating(r, false));
  if (jsonBytes({ ratings: body }) >= PUT_BUDGET) body = ratings.map((r) => fullRating(r, true));
  let size = jsonBytes({ ratings: [] });
  let k = 0;
  while (k < body.length && size + jsonBytes(body[k]) + 1 < PUT_BUDGET) {
    size += jsonBytes(body[k]) + 1;
    k++;
  }
  await api('PUT', profilePath(), { ratings: body.slice(0, k) });
  for (const x of body.slice(k)) {
    const one = x.song !== undefined ? { song: x.song } : { artist: x.artist, track: x.track };
    await api('POST', profilePath('/ratings'), { ...one, rating: x.rating });
  }
}

async function clearList() {
  if (!ratedCount()) return;
  await busy($('clear-btn'), () =>
    attempt('Could not clear the list', async () => {
      const saved = (await api('GET', profilePath())).ratings; // whole, with what another tab added
      await api('DELETE', profilePath('/ratings'));
      await afterProfileChange();
      toast(`Cleared ${plural(saved.length, 'song')} from your list.`, {
        label: 'Undo',
        focus: true,
        run: () => restoreList(saved),
      });
    }),
  );
}

// Undo of a clear: the cleared ratings back as they were (history plays and all), with
// the songs added since the clear kept as they are now.
async function restoreList(saved) {
  await attempt('Could not restore the list', async () => {
    const now = (await api('GET', profilePath())).ratings;
    const back = saved.filter((r) => !now.some((x) => sameSong(x, r)));
    await putRatings([...back, ...now]);
    await afterProfileChange();
    toast(`Restored ${plural(back.length, 'song')}.`);
  });
}

// ---- recommendations ----------------------------------------------------------------

function recOptions() {
  return {
    exclude_rated_artists: state.options.exclude,
    max_per_artist: state.options.perArtist ? 1 : 0,
    discovery: state.options.discovery,
  };
}

async function refreshRecs() {
  const recs = state.recs;
  if (!recs.shown) return;
  const seq = ++recs.seq;
  if (!ratedCount() || !state.token) {
    $('rec-list').removeAttribute('aria-busy');
    recs.items = [];
    recs.answer = null;
    renderRecs('Add a few songs you know to your list first: recommendations start from your ratings.');
    return;
  }
  $('rec-list').setAttribute('aria-busy', 'true');
  try {
    const r = await api('POST', '/api/recommend', {
      token: state.token,
      n: recs.n,
      because: 2,
      ...recOptions(),
    });
    if (seq !== recs.seq) return; // an answer to older options
    recs.items = r.items;
    recs.answer = r;
    renderRecs();
  } catch (e) {
    if (seq !== recs.seq) return;
    if (profileGone(e)) forgetProfile();
    else showError('Could not get recommendations', e);
  } finally {
    if (seq === recs.seq) $('rec-list').removeAttribute('aria-busy');
  }
}

function renderRecs(message) {
  const recs = state.recs;
  const list = clear($('rec-list'));
  const r = recs.answer;
  if (message) {
    text($('recs-status'), message);
  } else if (r && !recs.items.length) {
    text($('recs-status'), 'Nothing left to recommend with these options.');
  } else if (r) {
    let s = `${plural(recs.items.length, 'song')}, ${state.implicit ? 'best match' : 'best predicted rating'} first`;
    if (r.used === 0) {
      s += ' — none of your rated songs is in this model’s catalog, so these are not chosen for you';
    }
    if (r.unknown) s += ` (${plural(r.unknown, 'rated song')} not in the catalog left out)`;
    text($('recs-status'), `${s}.`);
  }
  recs.items.forEach((it) => list.append(recRow(it)));
  show($('recs-foot'), recs.items.length > 0);
  show($('recs-more'), !!r && recs.items.length >= recs.n && recs.n < 1000);
  updateExports();
}

// Why a song is recommended: the listener's songs that weigh most in it, each with its
// rating or, for a history's song, its plays. A song none of them bears on (a k-NN
// prediction without neighbours, support 0) says so rather than giving a reason.
function becauseLine(it) {
  if (state.model && state.model.algorithm === 'popularity') {
    return h('p', { class: 'because' }, 'Popular with this model’s listeners.');
  }
  if (!it.because.length) return h('p', { class: 'because' }, 'No song in your list bears on this one.');
  const played = it.because.map((b) => {
    const mine = findRating(b);
    return mine && mine.source === 'history' ? mine : null;
  });
  let lead = 'Because you rated ';
  if (played.every(Boolean)) lead = 'Because you played ';
  else if (played.some(Boolean)) lead = 'Because of ';
  return h(
    'p',
    { class: 'because' },
    lead,
    it.because.map((b, k) => [
      k ? (k === it.because.length - 1 ? ' and ' : ', ') : '',
      h('span', { class: 'because-song' }, songDash(b)),
      played[k] ? ` (${plural(played[k].plays, 'play')})` : ` (${fmtRating(b.rating)})`,
    ]),
  );
}

// The score column: a rating model's predicted rating on its scale; an implicit model's
// score, whose bar is relative to the best in the list and which is not a rating.
function scoreBox(it) {
  let frac;
  if (state.implicit) {
    const scores = state.recs.items.map((x) => x.score);
    const lo = Math.min(0, ...scores);
    const top = Math.max(...scores);
    frac = top > lo ? (it.score - lo) / (top - lo) : 1;
  } else {
    frac = (it.score - state.lo) / (state.hi - state.lo || 1);
  }
  const bar = h('span', { class: 'score-bar-fill' });
  bar.style.width = `${(Math.max(0, Math.min(1, frac)) * 100).toFixed(1)}%`;
  return h(
    'div',
    { class: 'score' },
    h('span', { class: 'score-num' }, fmtScore(it.score)),
    h('span', { class: 'score-label' }, state.implicit ? 'score' : 'predicted'),
    h('span', { class: 'score-bar', 'aria-hidden': 'true' }, bar),
    h(
      'span',
      { class: 'sr-only' },
      state.implicit
        ? ', a ranking score: higher is a closer match, not a rating'
        : ` rating out of ${fmtRating(state.hi)}`,
    ),
  );
}

function recRow(it) {
  const label = songLabel(it);
  const notFor = h(
    'div',
    { class: 'not-for-me', hidden: true },
    h(
      'button',
      { type: 'button', class: 'btn btn-quiet', onclick: (e) => block(it, 'song', e.currentTarget) },
      'Hide this song',
    ),
    // a song without an artist (items-only data) shares its artist id with every other
    it.artist
      ? h(
          'button',
          { type: 'button', class: 'btn btn-quiet', onclick: (e) => block(it, 'artist', e.currentTarget) },
          'Hide every song by ',
          h('span', { class: 'name' }, it.artist),
        )
      : null,
  );
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-quiet',
      'aria-expanded': 'false',
      'aria-label': `Not for me: ${label}`,
      onclick: () => {
        const open = notFor.hidden;
        notFor.hidden = !open;
        toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
        if (open) notFor.querySelector('button').focus();
      },
    },
    'Not for me',
  );
  return h(
    'li',
    { class: 'rec', dataset: { id: it.id, artistId: it.artist_id } },
    h('span', { class: 'rank', 'aria-hidden': 'true' }, it.rank),
    h(
      'div',
      { class: 'rec-main' },
      songTitle(it),
      becauseLine(it),
      it.weak && it.because.length ? h('p', { class: 'weak' }, 'Few of your songs back this guess.') : null,
    ),
    scoreBox(it),
    h(
      'div',
      { class: 'rec-actions' },
      h(
        'button',
        { type: 'button', class: 'btn btn-quiet', 'aria-label': `Rate ${label}`, onclick: () => pickSong(it) },
        'Rate',
      ),
      state.similar &&
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-quiet',
            'aria-label': `More like ${label}`,
            onclick: (e) => showSimilar(it, e.currentTarget),
          },
          'More like this',
        ),
      toggle,
      notFor,
    ),
  );
}

function updateExports() {
  const ok = !!state.token && state.recs.items.length > 0;
  const q = recOptions();
  for (const fmt of ['jspf', 'xspf', 'csv']) {
    const a = $(`export-${fmt}`);
    if (!ok) {
      a.removeAttribute('href');
      continue;
    }
    const params = new URLSearchParams({
      format: fmt,
      n: String(state.recs.items.length),
      exclude_rated_artists: String(q.exclude_rated_artists),
      max_per_artist: String(q.max_per_artist),
      discovery: String(q.discovery),
    });
    a.href = `${profilePath('/recommendations')}?${params}`;
    a.setAttribute('download', `songrec-recommendations.${fmt}`);
    a.setAttribute('aria-label', `Download the recommendations as a ${fmt.toUpperCase()} playlist`);
  }
}

async function block(it, kind, button) {
  const body = kind === 'song' ? { song: it.id } : { artist: it.artist_id };
  await busy(button, () =>
    attempt('Could not hide it', async () => {
      await withProfile(() => api('POST', profilePath('/blocks'), body));
      announceChange();
      await loadProfile();
      renderBlocks();
      await refreshRecs();
      const what = kind === 'song' ? `“${it.track}”` : `every song by ${it.artist}`;
      toast(`Hidden ${what}.`, { label: 'Undo', run: () => unblock(kind, kind === 'song' ? it.id : it.artist_id) });
      $('recs-status').focus();
    }),
  );
}

async function unblock(kind, id, button) {
  await busy(button, () =>
    attempt('Could not show it again', async () => {
      await api('DELETE', profilePath(`/blocks/${kind}/${id}`));
      announceChange();
      await loadProfile();
      renderBlocks();
      await refreshRecs();
    }),
  );
}

function renderBlocks() {
  const blocks = state.profile.blocks || [];
  show($('blocks'), blocks.length > 0);
  text($('blocks-count'), `(${blocks.length})`);
  const list = clear($('block-list'));
  for (const b of blocks) {
    const what = b.kind === 'song' ? songLabel(b) : `every song by ${b.artist}`;
    list.append(
      h(
        'li',
        {},
        h('span', {}, what),
        b.id === null
          ? h('span', { class: 'tag tag-warn' }, 'not in this model')
          : h(
              'button',
              {
                type: 'button',
                class: 'btn btn-quiet',
                'aria-label': `Show ${what} again`,
                onclick: (e) => unblock(b.kind, b.id, e.currentTarget),
              },
              'Show again',
            ),
      ),
    );
  }
}

// ---- more like this -----------------------------------------------------------------

async function showSimilar(song, opener) {
  const dlg = $('similar-dialog');
  const list = clear($('similar-list'));
  text($('similar-of'), `Songs most like ${songQuoted(song)}.`);
  text($('similar-status'), 'Loading…');
  dlg.returnFocus = opener || document.activeElement;
  if (!dlg.open) dlg.showModal();
  let r;
  try {
    r = await api('GET', `/api/songs/${song.id}/similar?n=10`);
  } catch (e) {
    text($('similar-status'), `Could not find similar songs: ${e.message}`);
    return;
  }
  text($('similar-status'), r.items.length ? '' : 'This song has no similar songs in the catalog.');
  for (const it of r.items) {
    list.append(
      h(
        'li',
        { class: 'similar' },
        h(
          'div',
          { class: 'rec-main' },
          songTitle(it),
          h('p', { class: 'hint' }, `similarity ${it.similarity.toFixed(2)}`),
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-quiet',
            'aria-label': `Rate ${songLabel(it)}`,
            onclick: () => {
              // the focus goes to the rating slider in view, not back to the opener
              dlg.returnFocus = null;
              closeSimilar();
              show($('artist-songs'), false);
              pickSong(it);
            },
          },
          'Rate',
        ),
      ),
    );
  }
}

function closeSimilar() {
  const dlg = $('similar-dialog');
  if (dlg.open) dlg.close();
}

// ---- start faster: a few songs to rate, a history upload ------------------------------

// Songs chosen to tell listeners apart: GET /api/starter when the server has it;
// otherwise well-liked songs of as many artists as possible, from the model.
async function loadStarterPool() {
  try {
    const r = await api('GET', '/api/starter?n=30');
    return r.items;
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  const r = await api('POST', '/api/recommend', { n: 40, max_per_artist: 1, discovery: -1, because: 0 });
  text($('starter-hint'), 'Popular, well-liked songs, one per artist. Rate the ones you know; skip the others.');
  return r.items;
}

async function renderStarter() {
  const st = state.starter;
  if (ratedCount() === 0) st.active = true;
  if (ratedCount() >= 8) st.active = false;
  show($('starter'), st.active);
  if (!st.active) return;
  if (!st.loaded) {
    st.loaded = true;
    const pool = await attempt('Could not load songs to rate', loadStarterPool);
    st.pool = pool || [];
    st.shown = [];
  }
  st.shown = st.shown.filter((s) => !findRating(s));
  st.pool = st.pool.filter((s) => !findRating(s) && !st.shown.includes(s));
  while (st.shown.length < STARTER_SHOWN && st.pool.length) st.shown.push(st.pool.shift());
  const list = clear($('starter-list'));
  st.shown.forEach((s, i) => list.append(starterRow(s, i)));
  if (!st.shown.length) text($('starter-hint'), 'That was every suggestion: find more songs above.');
}

function starterRow(s, i) {
  const id = `starter-${i}`;
  const slider = h('input', { type: 'range', id, class: 'row-slider' });
  configureSlider(slider, defaultRating());
  const out = h('output', { for: id, class: 'rating-value' }, fmtRating(defaultRating()));
  bindSliderOutput(slider, out);
  const add = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-primary',
      'aria-label': `Add ${songLabel(s)} with this rating`,
      onclick: () =>
        busy(add, () =>
          attempt('Could not add the song', async () => {
            const rating = Number(slider.value);
            await withProfile(() => api('POST', profilePath('/ratings'), { song: s.id, rating }));
            await afterProfileChange();
            focusStarter(i);
          }),
        ),
    },
    'Add',
  );
  const skip = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-quiet',
      'aria-label': `Skip ${songLabel(s)}: I don't know it`,
      onclick: () => {
        state.starter.shown = state.starter.shown.filter((x) => x !== s);
        renderStarter();
        focusStarter(i);
      },
    },
    'Don’t know it',
  );
  return h(
    'li',
    { class: 'starter-item' },
    songTitle(s),
    h(
      'div',
      { class: 'rated-rating' },
      h('label', { for: id, class: 'sr-only' }, `Your rating for ${songLabel(s)}`),
      slider,
      out,
    ),
    h('div', { class: 'rated-actions' }, add, skip),
  );
}

function focusStarter(i) {
  const rows = $('starter-list').querySelectorAll('input[type=range]');
  if (rows.length && !$('starter').hidden) rows[Math.min(i, rows.length - 1)].focus();
  else $('search').focus();
}

async function uploadHistory() {
  const input = $('history-file');
  const file = input.files && input.files[0];
  if (!file) return;
  const status = $('upload-status');
  if (file.size > HISTORY_MAX) {
    const why = new Error(`${file.name} is larger than the 32 MiB the server accepts.`);
    showError('Could not upload the history', why);
    input.value = '';
    return;
  }
  text(status, `Reading ${file.name}…`);
  const r = await attempt('Could not read the history file', () =>
    withProfile(() => api('POST', profilePath(`/history?filename=${encodeURIComponent(file.name)}`), file)),
  );
  input.value = '';
  if (!r) {
    text(status, `${file.name} was not used.`);
    return;
  }
  const parts = [
    `${file.name}: ${plural(r.listens, 'listen')} read,`,
    `${numberFmt.format(r.matched)} of them songs this model knows.`,
    `${plural(r.added, 'song')} added to your list`,
  ];
  if (r.updated) parts.push(`, ${numberFmt.format(r.updated)} updated`);
  if (r.kept_rated) parts.push(`, ${numberFmt.format(r.kept_rated)} you rated yourself kept your rating`);
  if (r.over_limit) parts.push(`; ${numberFmt.format(r.over_limit)} more did not fit in the list`);
  parts.push('.');
  text(status, parts.join(' ').replace(/ ([,;.])/g, '$1'));
  state.recs.shown = true; // the list changed at once: its recommendations follow
  await afterProfileChange();
}

// ---- about the data and the model -----------------------------------------------------

function fact(dl, term, ...value) {
  dl.append(h('div', { class: 'fact' }, h('dt', {}, term), h('dd', {}, ...value)));
}

function fmtBytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function fmtDate(unix) {
  return new Date(unix * 1000).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
}

async function loadAbout() {
  const ab = state.about;
  if (ab.loaded) return;
  ab.loaded = true;
  text($('about-status'), 'Loading…');
  const m = state.model || (await attempt('Could not describe the model', () => api('GET', '/api/model')));
  if (!m) {
    ab.loaded = false;
    text($('about-status'), '');
    return;
  }
  state.model = m;
  let extra = null;
  try {
    extra = await api('GET', '/api/about');
  } catch (e) {
    if (e.status !== 404) showError('Could not load the evaluation and charts', e);
  }
  text($('about-status'), '');
  renderAbout(m, extra);
}

// Runs build, which fills part of the About view; an error in it (a file of an
// unexpected shape) is said in words in that part's card, and the other parts still
// render.
function guarded(card, what, build) {
  try {
    build();
  } catch (e) {
    card.append(h('p', { class: 'empty' }, `Could not show ${what}: ${e.message}`));
  }
}

function renderAbout(m, extra) {
  const card = (id) => $(id).closest('section');
  guarded(card('about-summary'), 'the model’s sizes', () => renderSummary(m));
  guarded(card('model-facts'), 'the model’s description', () => renderModelFacts(m));
  guarded(card('data-facts'), 'the data’s description', () => renderDataFacts(m));
  renderEvaluation(extra);
  renderDataCharts(extra);
}

function renderSummary(m) {
  const sizes = m.sizes;
  const meta = (m.data && m.data.meta) || {};
  const grid = clear($('about-summary'));
  const stat = (n, label) => grid.append(statBox(n, label));
  stat(numberFmt.format(sizes.songs), 'songs in the catalog');
  stat(numberFmt.format(sizes.artists), 'artists');
  stat(numberFmt.format(sizes.users), 'listeners it learnt from');
  stat(numberFmt.format(sizes.ratings), m.implicit ? 'play counts (listener × song)' : 'ratings (listener × song)');
  if (typeof meta.records === 'number') stat(numberFmt.format(meta.records), 'listens read');
}

// The model's facts. An implicit model's "scale" and "mean" are those of the play counts
// it learnt from, and its scores are no ratings: the facts say so.
function renderModelFacts(m) {
  const facts = clear($('model-facts'));
  fact(facts, 'Algorithm', `${m.class} (--algo ${m.algorithm})`);
  if (m.implicit) {
    const [lo, hi] = m.rating_scale || [1, 10];
    const counts = `${fmtRating(m.scale[0])} to ${fmtRating(m.scale[1])}`;
    fact(facts, 'What it gives', 'a score per song that ranks songs: higher is a closer match; not a rating');
    fact(
      facts,
      'What it learnt from',
      `play counts of ${counts} per listener and song, ${m.global_mean.toFixed(2)} on average; ` +
        'a song never played is unknown, not disliked',
    );
    fact(
      facts,
      'Your ratings',
      `${fmtRating(lo)} to ${fmtRating(hi)}, each taken as that many plays; a history’s songs count their plays`,
    );
  } else {
    fact(facts, 'Rating scale', `${fmtRating(m.scale[0])} to ${fmtRating(m.scale[1])}`);
    fact(facts, 'Average rating', m.global_mean.toFixed(2));
  }
  fact(facts, 'Stored precision', m.precision);
  fact(facts, 'Model file', `${m.file} (${fmtBytes(m.file_size)}), trained ${fmtDate(m.created_unix)}`);
  const params = clear($('model-params'));
  for (const [k, v] of Object.entries(m.params)) {
    if (v !== null) fact(params, k, String(v));
  }
}

function renderDataFacts(m) {
  const sizes = m.sizes;
  const meta = (m.data && m.data.meta) || {};
  const data = clear($('data-facts'));
  if (!m.data) return;
  const tr = m.data.transform;
  if (m.implicit) {
    const tf = m.params && m.params.transform;
    const how = tf ? ` (the model weighs them: transform=${tf})` : '';
    fact(data, 'Trained on', `the play counts stored in the data${how}`);
  } else {
    fact(
      data,
      'Ratings made from',
      tr === 'cap10' ? 'play counts: a song played n times is rated n, capped at 10' : 'the values stored in the data',
    );
  }
  fact(data, 'Dataset file', m.data.file);
  if (Array.isArray(meta.sources) && meta.sources.length) fact(data, 'Read from', meta.sources.join(', '));
  if (sizes.users && sizes.songs) {
    const pct = (100 * sizes.ratings) / (sizes.users * sizes.songs);
    fact(data, 'Density', `${pct.toFixed(2)}% of listener × song pairs`);
  }
}

// The evaluation and the grid search, as `songrec evaluate --json` and `songrec
// gridsearch --json` write them: for rating models (RMSE, MAE) or, with --task ranking,
// for top-k lists (NDCG, precision, recall at k). Each is drawn on its own.
function renderEvaluation(extra) {
  const box = clear($('eval-body'));
  const ev = extra && extra.evaluation;
  const gs = extra && extra.gridsearch;
  const ranking = (ev && ev.task === 'ranking') || (gs && gs.task === 'ranking');
  text($('eval-title'), ranking ? 'How well it ranks' : 'How well it predicts');
  if (!ev && !gs) {
    box.append(h('p', { class: 'empty' }, 'This server does not include an evaluation of the model.'));
    return;
  }
  const card = box.closest('section');
  if (ev) {
    const parts = () => (ev.task === 'ranking' ? rankingEvaluation(ev) : ratingEvaluation(ev));
    guarded(card, 'the evaluation', () => box.append(...parts()));
  }
  if (gs) guarded(card, 'the grid search', () => box.append(...gridSearch(gs)));
}

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

function ratingEvaluation(ev) {
  if (!ev.rmse || !isNum(ev.rmse.mean)) throw new Error('the evaluation has no RMSE (nor a ranking "task")');
  const grid = h('div', { class: 'stat-grid' });
  const add = (name, m) => {
    if (!m || !isNum(m.mean)) return;
    const spread = isNum(m.std) ? ` ± ${m.std.toFixed(3)}` : '';
    grid.append(statBox(m.mean.toFixed(3), `${name}${spread}`));
  };
  add('RMSE', ev.rmse);
  add('MAE', ev.mae);
  const out = [grid];
  if (ev.splits) {
    const how = `Cross-validated over ${ev.splits} splits of the ratings; lower is better (errors in rating points).`;
    out.push(h('p', { class: 'hint' }, how));
  }
  return out;
}

// Ranking measures shown as figures, best known first.
const RANK_MEASURES = [
  ['ndcg', 'NDCG'],
  ['precision', 'Precision'],
  ['recall', 'Recall'],
  ['hit_rate', 'Hit rate'],
  ['map', 'MAP'],
];

const rankName = (key) => (RANK_MEASURES.find(([k]) => k === key) || [key, key])[1];

// `evaluate --task ranking --json`: every model evaluated on the same split. The figures
// are this server's model's (or the first's); a chart compares the models' NDCG.
function rankingEvaluation(ev) {
  const models = Array.isArray(ev.models) ? ev.models : [];
  if (!models.length) throw new Error('the ranking evaluation lists no models');
  const k = ev.k;
  const mine = models.find((x) => state.model && x.algo === state.model.algorithm) || models[0];
  const grid = h('div', { class: 'stat-grid' });
  for (const [key, name] of RANK_MEASURES) {
    if (isNum(mine[key])) grid.append(statBox(mine[key].toFixed(3), `${name}@${k}`));
  }
  const out = [grid];
  const who = isNum(mine.users) ? ` of ${plural(mine.users, 'listener')}` : '';
  const how =
    `${mine.algo}’s top ${k} lists against the held-out songs${who} (${ev.split || 'holdout'} split; ` +
    'songs played in training left out); higher is better.';
  out.push(h('p', { class: 'hint' }, how));
  const rows = models.filter((x) => isNum(x.ndcg)).map((x) => ({ label: x.algo, value: x.ndcg }));
  if (rows.length > 1) {
    rows.sort((a, b) => b.value - a.value);
    out.push(
      barChart({
        title: `NDCG@${k} of each model on the same split (higher is better)`,
        rows,
        horizontal: true,
        fmt: (v) => v.toFixed(3),
        highlightFirst: true,
      }),
    );
  }
  return out;
}

const paramsLabel = (params) =>
  Object.entries(params || {})
    .map(([key, v]) => `${key}=${v}`)
    .join(', ');

// `gridsearch --json`, rating or ranking: a bar per parameter set by the measure it was
// ranked by, and the sets that failed (a fit that diverged) with the reason.
function gridSearch(gs) {
  const results = Array.isArray(gs.results) ? gs.results : [];
  const failed = Array.isArray(gs.failed) ? gs.failed : [];
  const ranking = gs.task === 'ranking';
  const measure = gs.refit || (ranking ? 'ndcg' : 'rmse');
  const value = ranking ? (r) => r[measure] : (r) => r[measure] && r[measure].mean;
  const higher = ranking || measure === 'fcp';
  const rows = results
    .filter((r) => isNum(value(r)))
    .map((r) => ({ label: paramsLabel(r.params), value: value(r) }))
    .sort((a, b) => (higher ? b.value - a.value : a.value - b.value));
  if (!rows.length && !failed.length) throw new Error(`no parameter set has a figure for ${measure}`);
  const name = ranking ? `${rankName(measure)}@${gs.k}` : measure.toUpperCase();
  const out = [];
  if (rows.length) {
    out.push(
      barChart({
        title: `Grid search: ${name} of each parameter set (${higher ? 'higher' : 'lower'} is better)`,
        rows,
        horizontal: true,
        fmt: (v) => v.toFixed(3),
        highlightFirst: true,
      }),
    );
  }
  if (failed.length) {
    out.push(
      h(
        'div',
        { class: 'grid-failed' },
        h(
          'p',
          { class: 'hint' },
          `${plural(failed.length, 'parameter set')} failed and ${failed.length === 1 ? 'is' : 'are'} left out:`,
        ),
        h(
          'ul',
          {},
          failed.map((f) =>
            h('li', {}, h('span', { class: 'name' }, paramsLabel(f.params)), `: ${f.error || 'failed'}`),
          ),
        ),
      ),
    );
  }
  return out;
}

// The dataset's charts from `songrec stats --json`: plays per pair and the 1–10 ratings
// made from them (a play-count dataset), or the stored ratings' values (a ratings one,
// when they are few distinct values). Each chart is drawn on its own.
function renderDataCharts(extra) {
  const box = clear($('data-charts'));
  const ds = extra && extra.dataset;
  if (!ds) {
    box.append(h('p', { class: 'empty' }, 'This server does not include the dataset’s charts.'));
    return;
  }
  const card = box.closest('section');
  guarded(card, 'the chart of plays per pair', () => {
    const ppp = ds.plays_per_pair && ds.plays_per_pair.histogram_1_to_99_and_100_plus;
    if (!Array.isArray(ppp) || ppp.length !== 100) return;
    const sum = (a, b) => ppp.slice(a - 1, b).reduce((x, y) => x + y, 0);
    const bins = [
      ['1', sum(1, 1)],
      ['2', sum(2, 2)],
      ['3', sum(3, 3)],
      ['4', sum(4, 4)],
      ['5', sum(5, 5)],
      ['6–9', sum(6, 9)],
      ['10–19', sum(10, 19)],
      ['20–49', sum(20, 49)],
      ['50–99', sum(50, 99)],
      ['100+', ppp[99]],
    ];
    box.append(
      barChart({
        title: 'Plays per listener × song pair',
        rows: bins.map(([label, value]) => ({ label, value })),
        fmt: (v) => numberFmt.format(v),
        xTitle: 'times a listener played a song',
      }),
    );
  });
  guarded(card, 'the chart of ratings', () => {
    const r10 = ds.rating10 && ds.rating10.histogram_1_to_10;
    const hist = ds.ratings && ds.ratings.histogram;
    if (Array.isArray(r10) && r10.length === 10) {
      box.append(
        barChart({
          title: 'Ratings 1–10 (play counts capped at 10)',
          rows: r10.map((value, i) => ({ label: String(i + 1), value })),
          fmt: (v) => numberFmt.format(v),
          xTitle: 'rating',
        }),
      );
    } else if (Array.isArray(hist) && hist.length > 0 && hist.length <= 20) {
      box.append(
        barChart({
          title: 'Values stored per listener × song pair',
          rows: hist.map((b) => ({
            label: b.lo === b.hi ? fmtRating(b.lo) : `${fmtRating(b.lo)}–${fmtRating(b.hi)}`,
            value: b.count,
          })),
          fmt: (v) => numberFmt.format(v),
          xTitle: 'value',
        }),
      );
    }
  });
  if (!box.children.length && !card.querySelector('p.empty')) {
    box.append(h('p', { class: 'empty' }, 'The dataset’s figures have no chart this page draws.'));
  }
}

// A bar chart as SVG drawn with DOM calls (no markup strings), with its numbers as a
// table for screen readers and for anyone who prefers them.
function barChart({ title, rows, fmt, horizontal = false, highlightFirst = false, xTitle = '' }) {
  const max = Math.max(...rows.map((r) => r.value), 0) || 1;
  const fig = h('figure', { class: horizontal ? 'chart chart-wide' : 'chart' });
  const id = `chart-${Math.random().toString(36).slice(2)}`;
  fig.append(h('figcaption', { id }, title));
  let el;
  if (horizontal) {
    const rowH = 26;
    const labelW = 230;
    const W = 640;
    const H = rows.length * rowH + 8;
    el = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': id, class: 'chart-svg' });
    const min = Math.min(...rows.map((r) => r.value));
    const lo = min - (max - min) * 0.5 - 1e-9; // start the axis near the values, so differences show
    rows.forEach((r, i) => {
      const y = i * rowH + 4;
      const w = ((r.value - lo) / (max - lo)) * (W - labelW - 70);
      el.append(
        svg('text', { x: labelW - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end', class: 'chart-label' }, r.label),
        svg('rect', {
          x: labelW,
          y: y + 3,
          width: Math.max(w, 1),
          height: rowH - 8,
          rx: 3,
          class: i === 0 && highlightFirst ? 'bar bar-best' : 'bar',
        }),
        svg('text', { x: labelW + w + 6, y: y + rowH / 2 + 4, class: 'chart-value' }, fmt(r.value)),
      );
    });
  } else {
    const W = 640;
    const H = 240;
    const pad = { l: 12, r: 12, t: 22, b: 40 };
    const bw = (W - pad.l - pad.r) / rows.length;
    el = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': id, class: 'chart-svg' });
    rows.forEach((r, i) => {
      const bh = (r.value / max) * (H - pad.t - pad.b);
      const x = pad.l + i * bw;
      const y = H - pad.b - bh;
      el.append(
        svg('rect', { x: x + 3, y, width: bw - 6, height: Math.max(bh, 0.5), rx: 3, class: 'bar' }),
        svg('text', { x: x + bw / 2, y: y - 5, 'text-anchor': 'middle', class: 'chart-value' }, fmt(r.value)),
        svg('text', { x: x + bw / 2, y: H - pad.b + 16, 'text-anchor': 'middle', class: 'chart-label' }, r.label),
      );
    });
    if (xTitle) el.append(svg('text', { x: W / 2, y: H - 6, 'text-anchor': 'middle', class: 'chart-axis' }, xTitle));
  }
  fig.append(el);
  const table = h(
    'table',
    { class: 'chart-table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, xTitle || 'item'), h('th', { scope: 'col' }, 'value'))),
    h('tbody', {}, rows.map((r) => h('tr', {}, h('td', {}, r.label), h('td', {}, fmt(r.value))))),
  );
  fig.append(h('details', { class: 'chart-data' }, h('summary', {}, 'Show the numbers'), table));
  return fig;
}

// ---- views --------------------------------------------------------------------------

function route() {
  const about = location.hash === '#about';
  show($('view-listen'), !about);
  show($('view-about'), about);
  for (const a of document.querySelectorAll('.tabs a')) {
    if ((a.dataset.nav === 'about') === about) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = about ? 'About the data and model — songrec' : 'songrec — song recommendations';
  if (about) loadAbout();
}

function navigate(e) {
  const target = e.currentTarget.dataset.nav;
  e.preventDefault();
  const hash = target === 'about' ? '#about' : '';
  if (location.hash !== hash) history.pushState(null, '', hash || location.pathname);
  route();
  if (target === 'about') $('about-title').focus();
  else $('search').focus();
}

// ---- start --------------------------------------------------------------------------

function loadOptions() {
  try {
    const o = JSON.parse(storageGet(OPTIONS_KEY) || '{}');
    if (typeof o.exclude === 'boolean') state.options.exclude = o.exclude;
    if (typeof o.perArtist === 'boolean') state.options.perArtist = o.perArtist;
    if (typeof o.discovery === 'number' && o.discovery >= -1 && o.discovery <= 1) {
      state.options.discovery = o.discovery;
    }
  } catch {
    // ignore a damaged value
  }
  $('opt-exclude').checked = state.options.exclude;
  $('opt-per-artist').checked = state.options.perArtist;
  $('opt-discovery').value = String(state.options.discovery);
  discoveryText();
}

function saveOptions() {
  storageSet(OPTIONS_KEY, JSON.stringify(state.options));
}

function discoveryText() {
  const d = state.options.discovery;
  let words = 'balanced';
  if (d < -0.6) words = 'mostly familiar';
  else if (d < 0) words = 'a little familiar';
  else if (d > 0.6) words = 'mostly discovery';
  else if (d > 0) words = 'a little discovery';
  $('opt-discovery').setAttribute('aria-valuetext', words);
}

const recsDebounced = debounce(() => refreshRecs(), 120);
// A re-rank is coming: the list says so at once (aria-busy), not only once the request
// starts, so nothing acts on rows about to be replaced.
function recsSoon() {
  if (state.recs.shown) $('rec-list').setAttribute('aria-busy', 'true');
  recsDebounced();
}

function wire() {
  for (const a of document.querySelectorAll('[data-nav]')) a.addEventListener('click', navigate);
  window.addEventListener('popstate', route);
  window.addEventListener('storage', onStorage);
  window.addEventListener('hashchange', route);

  const input = $('search');
  input.addEventListener('input', onSearchInput);
  input.addEventListener('keydown', onSearchKey);
  input.addEventListener('blur', () => searchOpen(false));
  input.addEventListener('focus', () => {
    if (search.hits.length && input.value.trim()) searchOpen(true);
  });
  $('artist-more').addEventListener('click', () => loadArtistPage(false));

  bindSliderOutput($('rating'), $('rating-value'));
  $('add-btn').addEventListener('click', addPicked);
  $('picked-cancel').addEventListener('click', () => {
    closePicked();
    input.focus();
  });
  $('picked-similar').addEventListener('click', (e) => state.picked && showSimilar(state.picked, e.currentTarget));

  $('clear-btn').addEventListener('click', () => clearList());
  $('list-more').addEventListener('click', () => {
    state.listAll = !state.listAll;
    renderList();
  });
  $('history-file').addEventListener('change', uploadHistory);

  $('recommend-btn').addEventListener('click', () => {
    state.recs.shown = true;
    state.recs.n = REC_PAGE;
    refreshRecs();
  });
  $('recs-more').addEventListener('click', () => {
    state.recs.n = Math.min(1000, state.recs.n + REC_PAGE);
    refreshRecs();
  });
  $('recs-status').tabIndex = -1;
  $('opt-exclude').addEventListener('change', (e) => {
    state.options.exclude = e.target.checked;
    saveOptions();
    refreshRecs();
  });
  $('opt-per-artist').addEventListener('change', (e) => {
    state.options.perArtist = e.target.checked;
    saveOptions();
    refreshRecs();
  });
  $('opt-discovery').addEventListener('input', (e) => {
    state.options.discovery = Number(e.target.value);
    discoveryText();
    saveOptions();
    recsSoon();
  });

  $('similar-close').addEventListener('click', closeSimilar);
  const dlg = $('similar-dialog');
  dlg.addEventListener('close', () => {
    const back = dlg.returnFocus;
    dlg.returnFocus = null;
    if (back && back.isConnected) back.focus();
  });
  dlg.addEventListener('click', (e) => {
    if (e.target === dlg) closeSimilar(); // a click on the backdrop
  });
}

async function start() {
  wire();
  loadOptions();
  state.token = storageGet(TOKEN_KEY);
  route();
  const model = await attempt('Could not reach the model', () => api('GET', '/api/model'));
  if (model) {
    state.model = model;
    setupScale(model);
  }
  await attempt('Could not load your list', loadProfile);
  renderList();
  renderBlocks();
  renderStarter();
  if (ratedCount()) {
    state.recs.shown = true; // a returning listener sees their recommendations at once
    await refreshRecs();
  }
  document.documentElement.dataset.ready = 'true';
}

start();
