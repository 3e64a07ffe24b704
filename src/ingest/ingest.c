/* The ingest driver (ingest.h). */
#include "ingest/ingest.h"

#include <glob.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/input.h"
#include "util/mem.h"

#define DETECT_BYTES (64u << 10)

typedef struct run {
    const sr_ingest_opts *o;
    sr_accept_fn accept;
    void *accept_user;
    sr_read_stats *st;
    sr_diag *d;
    sr_input *in;
    uint64_t bytes_done; /* compressed bytes of finished files */
    uint64_t bytes_total;
    bool kind_set;
    sr_value_kind kind;
} run;

bool sr_ingest_user_from_name(const char *path, char *out, size_t cap) {
    const char *b = sr_path_base(path);
    size_t n = strlen(b);
    const char *lb = strstr(b, "_lb-");
    if (lb && lb > b && (size_t)(lb - b) < cap) {
        /* "<user>_lb-YYYY-MM-DD.json" */
        const char *date = lb + 4;
        if (strlen(date) >= 10 && date[4] == '-' && date[7] == '-') {
            memcpy(out, b, (size_t)(lb - b));
            out[lb - b] = 0;
            return true;
        }
    }
    if (n > 17 && !strncmp(b, "listenbrainz_", 13)) {
        const char *end = strrchr(b, '_');
        if (end && end > b + 13 && (size_t)(end - (b + 13)) < cap) {
            const char *t = end + 1;
            bool digits = *t >= '0' && *t <= '9';
            while (*t >= '0' && *t <= '9') t++;
            if (digits && (!strcmp(t, ".zip") || !*t)) {
                memcpy(out, b + 13, (size_t)(end - (b + 13)));
                out[end - (b + 13)] = 0;
                return true;
            }
        }
    }
    return false;
}

/* Archive members that are not listens: metadata of dumps and exports. */
static bool member_skipped(const char *name) {
    const char *b = sr_path_base(name);
    static const char *const exact[] = {"COPYING",         "SCHEMA_SEQUENCE",        "TIMESTAMP",
                                        "START_TIMESTAMP", "END_TIMESTAMP",          "DUMP_ID.txt",
                                        "feedback.jsonl",  "pinned_recording.jsonl", "index.json",
                                        "user.json"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!strcmp(b, exact[i])) return true;
    static const char *const sfx[] = {".md5", ".sha256", ".pdf", ".txt.md5", ".parquet"};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++)
        if (sr_cstr_ends_with(b, sfx[i])) return true;
    return b[0] == '.' || strstr(b, "Streaming_History_Video") != NULL;
}

/* Reads "username" from a ListenBrainz export's user.json member. */
static void read_user_json(sr_stream *s, char *out, size_t cap) {
    const unsigned char *p;
    ssize_t n = sr_stream_peek(s, 65536, &p);
    if (n <= 0) return;
    json_t *j = json_loadb((const char *)p, (size_t)n, 0, NULL);
    if (!j) return;
    const char *u = json_string_value(json_object_get(j, "username"));
    if (u && strlen(u) < cap) strcpy(out, u);
    json_decref(j);
}

static void tick(sr_reader *r) {
    run *R = r->tick_user;
    sr_progress(R->o->read.log, "ingest", R->bytes_done + sr_input_bytes_read(R->in),
                R->bytes_total);
}

/* Counts a whole-file problem; fatal under --strict. */
static sr_err file_problem(run *R, sr_skip why, const char *msg) {
    R->st->skipped[why]++;
    R->st->skipped_total++;
    sr_logf(R->o->read.log, SR_LOG_ERROR, "%s", msg);
    if (R->o->read.strict) return sr_diag_set(R->d, SR_E_INPUT, "%s (--strict)", msg);
    return SR_OK;
}

static sr_err ingest_file(run *R, const char *path) {
    sr_diag d = {{0}};
    char msg[1400];
    sr_err e = sr_input_open(path, &R->in, &d);
    if (e == SR_E_NOMEM) return sr_diag_set(R->d, e, "out of memory");
    if (e)
        return file_problem(R, e == SR_E_TRUNCATED ? SR_SKIP_TRUNCATED : SR_SKIP_UNREADABLE, d.msg);
    R->st->files++;
    char user[1100] = "";
    if (R->o->read.user)
        snprintf(user, sizeof user, "%s", R->o->read.user);
    else
        sr_ingest_user_from_name(path, user, sizeof user);
    const sr_format *forced = R->o->format ? sr_format_find(R->o->format) : NULL;
    sr_stream *s;
    const char *member;
    int r;
    while ((r = sr_input_next(R->in, &s, &member, &d)) == 1) {
        bool archive = sr_input_is_archive(R->in);
        char label[1100];
        if (archive)
            snprintf(label, sizeof label, "%s:%s", path, member);
        else
            snprintf(label, sizeof label, "%s", path);
        if (archive && !strcmp(sr_path_base(member), "user.json") && !R->o->read.user) {
            read_user_json(s, user, sizeof user);
            continue;
        }
        if (archive && member_skipped(member)) continue;
        const unsigned char *head;
        ssize_t n = sr_stream_peek(s, DETECT_BYTES, &head);
        if (n < 0) {
            snprintf(msg, sizeof msg, "%s", s->err_diag.msg[0] ? s->err_diag.msg : label);
            if ((e = file_problem(R, SR_SKIP_TRUNCATED, msg))) goto out;
            continue;
        }
        if (n == 0) continue; /* empty member: nothing to read */
        const sr_format *f = forced ? forced : sr_format_detect(member, head, (size_t)n);
        if (!f) {
            if (archive) {
                sr_logf(R->o->read.log, SR_LOG_INFO, "%s: not a listening history, skipped", label);
                continue;
            }
            snprintf(msg, sizeof msg,
                     "%s: cannot tell the format of this file; name it with --format "
                     "(songrec ingest --list-formats)",
                     label);
            if ((e = file_problem(R, SR_SKIP_UNREADABLE, msg))) goto out;
            continue;
        }
        if (R->kind_set && f->kind != R->kind) {
            e = sr_diag_set(R->d, SR_E_INPUT,
                            "%s: holds %s but earlier inputs held %s; a dataset holds one kind",
                            label, f->kind == SR_VALUE_RATINGS ? "ratings" : "play counts",
                            R->kind == SR_VALUE_RATINGS ? "ratings" : "play counts");
            goto out;
        }
        R->kind_set = true;
        R->kind = f->kind;
        R->st->members++;
        sr_diag rd = {{0}};
        sr_reader rdr;
        sr_reader_init(&rdr, f, s, &R->o->read, R->st, R->accept, R->accept_user, &rd);
        rdr.label = label;
        rdr.member = member;
        rdr.default_user = sr_str_c(user);
        rdr.tick = tick;
        rdr.tick_user = R;
        e = f->read(&rdr);
        R->st->lines += s->line;
        if (e && rdr.stop) {
            sr_diag_set(R->d, e, "%s", rd.msg[0] ? rd.msg : sr_err_message(e));
            goto out;
        }
        if (e == SR_E_NOMEM) {
            sr_diag_set(R->d, e, "out of memory reading %s", label);
            goto out;
        }
        if (e) {
            const char *why = rd.msg[0] ? rd.msg : s->err_diag.msg[0] ? s->err_diag.msg : label;
            snprintf(msg, sizeof msg, "%s%s", why,
                     rdr.member_records ? "; the records before the problem were kept" : "");
            sr_skip k = e == SR_E_TRUNCATED ? SR_SKIP_TRUNCATED : SR_SKIP_UNREADABLE;
            if ((e = file_problem(R, k, msg))) goto out;
        }
        if (rdr.member_records >= 20 && rdr.member_skipped * 20 > rdr.member_records)
            sr_logf(R->o->read.log, SR_LOG_WARN,
                    "%s: %" PRIu64 " of %" PRIu64 " records skipped; is '%s' the right format?",
                    label, rdr.member_skipped, rdr.member_records, f->name);
    }
    e = SR_OK;
    if (r < 0) {
        snprintf(msg, sizeof msg, "%s", d.msg);
        e = file_problem(R, SR_SKIP_TRUNCATED, msg);
    }
out:
    R->bytes_done += sr_input_bytes_read(R->in);
    sr_input_close(R->in);
    R->in = NULL;
    return e;
}

sr_err sr_ingest_paths(char *const *paths, size_t n_paths, const sr_ingest_opts *o,
                       sr_accept_fn accept, void *accept_user, sr_read_stats *st, sr_diag *d) {
    run R = {.o = o, .accept = accept, .accept_user = accept_user, .st = st, .d = d};
    if (o->format && !sr_format_find(o->format))
        return sr_diag_set(d, SR_E_USAGE, "unknown format '%s' (see --list-formats)", o->format);
    /* Expand globs and size the inputs for the progress bar. */
    char **list = NULL;
    size_t n = 0, cap = 0;
    sr_err e = SR_OK;
    for (size_t i = 0; i < n_paths && !e; i++) {
        struct stat sb;
        glob_t g;
        const char *p = paths[i];
        bool pattern = strpbrk(p, "*?[") != NULL && strcmp(p, "-") && stat(p, &sb) != 0;
        if (pattern && glob(p, 0, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc && !e; k++) {
                if (sr_grow((void **)&list, &cap, n + 1, sizeof *list))
                    e = SR_E_NOMEM;
                else if (!(list[n++] = sr_strdup(g.gl_pathv[k])))
                    e = SR_E_NOMEM;
            }
            globfree(&g);
        } else {
            if (sr_grow((void **)&list, &cap, n + 1, sizeof *list))
                e = SR_E_NOMEM;
            else if (!(list[n++] = sr_strdup(p)))
                e = SR_E_NOMEM;
        }
    }
    if (e) {
        sr_diag_set(d, e, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (strcmp(list[i], "-") && stat(list[i], &sb) == 0) R.bytes_total += (uint64_t)sb.st_size;
    }
    for (size_t i = 0; i < n && !e; i++) e = ingest_file(&R, list[i]);
    sr_progress(o->read.log, "ingest", R.bytes_total, R.bytes_total);
done:
    for (size_t i = 0; i < n; i++) sr_free(list[i]);
    sr_free(list);
    return e;
}
