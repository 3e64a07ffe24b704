/* songrec serve: the JSON API (server/api.h) over one trained model and a profile store.
 *
 *   songrec serve MODEL.srm [--port N] [--bind ADDR] [--db PATH] [--threads N]
 *                 [--rate-limit R] [--rate-burst B] [--max-connections N] [--max-per-ip N]
 *
 * It also serves the web page embedded in the binary (server/assets.h, from web/): "/"
 * is the page, the API stays under /api.
 *
 * Order: load the model (a missing or damaged one ends the command before anything
 * binds), open the profile store, raise the open-files limit (RLIMIT_NOFILE, up to its
 * hard limit) to what the connection limit needs — every connection is a descriptor,
 * and the HTTP core lowers its connection limit to fit the descriptors it may open —
 * block SIGINT and SIGTERM in this thread so that every
 * server thread inherits the mask, start the server, print "songrec: serving MODEL on
 * http://ADDR:PORT/" on stdout (flushed, so a script can read the port it got with
 * --port 0), then sigwait. On a signal: stop the server (requests in flight finish),
 * close the store, free the engine, exit 0.
 *
 * Log lines go to stderr, one fprintf each, from any server thread.
 */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "rec/engine.h"
#include "server/api.h"
#include "server/assets.h"
#include "server/profiles.h"

static void usage(FILE *f) {
    fprintf(f, "usage: songrec serve MODEL.srm [OPTIONS]\n\n"
               "Serves recommendations, catalog search and listener profiles as a JSON API\n"
               "under /api (docs/API.md) and the web page at /. Stops cleanly on SIGINT or\n"
               "SIGTERM.\n\n"
               "  --port N               TCP port; 0 picks a free one [8080]\n"
               "  --bind ADDR            IPv4 or IPv6 address to listen on [127.0.0.1]\n"
               "  --db PATH              the profile store (SQLite), created when absent "
               "[profiles.db]\n"
               "  --threads N            server threads, 1..64 [2 x CPUs]\n"
               "  --rate-limit R         requests per second per client (an IPv4 address or an\n"
               "                         IPv6 /64); over it: 429 with Retry-After; 0: no limit "
               "[50]\n"
               "  --rate-burst B         requests a client may make at once [2 x R]\n"
               "  --max-connections N    open connections; past it new ones wait [16384, less\n"
               "                         when the open-files limit is lower]\n"
               "  --max-per-ip N         open connections from one address [64]\n"
               "  --about DIR            stats.json, evaluate.json, gridsearch.json (the --json\n"
               "                         output of songrec stats, evaluate, gridsearch) for the\n"
               "                         page's \"About the data and model\" view\n"
               "  -h, --help             this help\n\n"
               "It prints \"songrec: serving MODEL on http://ADDR:PORT/\" once it listens.\n");
}

/* Thread-safe: one fprintf per line (stdio locks the stream). */
static void serve_message(void *user, sr_log_level level, const char *text) {
    (void)user;
    if (level == SR_LOG_DEBUG) return;
    const char *tag = level == SR_LOG_ERROR ? "error: " : level == SR_LOG_WARN ? "warning: " : "";
    fprintf(stderr, "songrec serve: %s%s\n", tag, text);
}

/* Raises the soft open-files limit, up to the hard one, to cover `connections` (0: the
 * HTTP core's default) plus the descriptors the rest of the server keeps; a shortfall is
 * said on stderr (the core then allows fewer connections). */
static void raise_fd_limit(unsigned connections) {
    if (!connections) connections = SR_HTTP_MAX_CONNECTIONS;
    rlim_t want = (rlim_t)connections + SR_HTTP_FD_RESERVE;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
    rlim_t cur = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = cur;
    if (rl.rlim_cur < want)
        fprintf(stderr,
                "songrec serve: warning: open files are limited to %llu, so fewer than %u "
                "connections are allowed\n",
                (unsigned long long)rl.rlim_cur, connections);
}

/* --max-connections, --max-per-ip, --rate-burst: 1..2^31. */
static bool parse_count(const char *opt, const char *arg, unsigned *out) {
    uint64_t v;
    if (!sr_cli_parse_u64(arg, &v) || v < 1 || v > 0x7fffffff) {
        fprintf(stderr, "songrec serve: %s wants a whole number from 1, not '%s'\n", opt, arg);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

int sr_cmd_serve(int argc, char **argv) {
    enum { O_PORT = 256, O_BIND, O_DB, O_THREADS, O_ABOUT, O_RATE, O_BURST, O_MAXCONN, O_PERIP };
    static const struct option opts[] = {{"port", required_argument, 0, O_PORT},
                                         {"bind", required_argument, 0, O_BIND},
                                         {"db", required_argument, 0, O_DB},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"about", required_argument, 0, O_ABOUT},
                                         {"rate-limit", required_argument, 0, O_RATE},
                                         {"rate-burst", required_argument, 0, O_BURST},
                                         {"max-connections", required_argument, 0, O_MAXCONN},
                                         {"max-per-ip", required_argument, 0, O_PERIP},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    uint64_t port = 8080, threads = 0;
    const char *bind = "127.0.0.1", *db = "profiles.db", *about = NULL;
    sr_http_limits lim = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == O_RATE) {
            double r;
            if (!sr_cli_parse_double(optarg, &r) || !(r == 0 || (r >= 0.001 && r <= 1e6))) {
                fprintf(stderr,
                        "songrec serve: --rate-limit wants 0 (no limit) or 0.001..1000000 "
                        "requests/s, not '%s'\n",
                        optarg);
                return 1;
            }
            lim.rate = r == 0 ? SR_HTTP_NO_RATE_LIMIT : r;
        } else if (c == O_BURST) {
            if (!parse_count("--rate-burst", optarg, &lim.burst)) return 1;
        } else if (c == O_MAXCONN) {
            if (!parse_count("--max-connections", optarg, &lim.max_connections)) return 1;
        } else if (c == O_PERIP) {
            if (!parse_count("--max-per-ip", optarg, &lim.max_per_ip)) return 1;
        } else if (c == O_PORT) {
            if (!sr_cli_parse_u64(optarg, &port) || port > 65535) {
                fprintf(stderr, "songrec serve: --port wants 0..65535, not '%s'\n", optarg);
                return 1;
            }
        } else if (c == O_BIND) {
            bind = optarg;
        } else if (c == O_DB) {
            db = optarg;
        } else if (c == O_ABOUT) {
            about = optarg;
        } else if (c == O_THREADS) {
            if (!sr_cli_parse_u64(optarg, &threads) || threads < 1 || threads > 64) {
                fprintf(stderr, "songrec serve: --threads wants 1..64, not '%s'\n", optarg);
                return 1;
            }
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "songrec serve: need one model file\n");
        usage(stderr);
        return 1;
    }
    const char *model = argv[optind];
    sr_diag d = {{0}};
    sr_engine *eng = NULL;
    sr_profiles *prof = NULL;
    sr_api *api = NULL;
    sr_err e = sr_engine_open(model, &eng, &d);
    if (!e && !eng->cat) e = sr_diag_set(&d, SR_E_INPUT, "%s has no song catalog to serve", model);
    if (!e) e = sr_profiles_open(db, threads > 16 ? 16 : (int)threads, &prof, &d);
    if (e) goto fail;
    /* Building the catalog's search index leaves scratch in malloc's free lists (10 MB
     * at 1M songs): give it back before serving, RSS is part of the budget. */
    malloc_trim(0);
    raise_fd_limit(lim.max_connections);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    sr_log log = {serve_message, NULL, NULL};
    sr_api_config cfg = {.engine = eng,
                         .profiles = prof,
                         .bind = bind,
                         .port = (uint16_t)port,
                         .threads = (unsigned)threads,
                         .limits = lim,
                         .assets = sr_web_assets,
                         .n_assets = sr_web_n_assets,
                         .about_dir = about,
                         .log = &log};
    if ((e = sr_api_start(&cfg, &api, &d))) goto fail;
    bool v6 = strchr(bind, ':') != NULL;
    printf("songrec: serving %s on http://%s%s%s:%u/\n", model, v6 ? "[" : "", bind, v6 ? "]" : "",
           (unsigned)sr_api_port(api));
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "songrec serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    sr_api_stop(api);
    sr_profiles_close(prof);
    sr_engine_free(eng);
    return 0;
fail:
    sr_profiles_close(prof);
    sr_engine_free(eng);
    return sr_cli_fail("serve", e, &d);
}
