/* The web page's files, embedded in the songrec binary at build time.
 *
 * cmake/embed.cmake writes web_assets.c in the build folder from every file under web/
 * (index.html, app.js, app.css, ...): each file's bytes as a static array and one
 * sr_http_asset per file, served at "/<path under web/>" with a content type chosen by
 * its extension. The HTTP core serves them (server/http.h: "/" is "/index.html", ETag
 * and 304), so the page needs nothing from outside the server.
 *
 * Ownership: the table and the bytes are static and read-only; hand them to
 * sr_api_config's assets / n_assets as they are. Only the songrec executable links the
 * generated file; the core library does not depend on it.
 */
#ifndef SR_ASSETS_H
#define SR_ASSETS_H

#include <stddef.h>

#include "server/http.h"

extern const sr_http_asset sr_web_assets[];
extern const size_t sr_web_n_assets;

#endif
